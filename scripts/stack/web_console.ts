/**
 * Serves the web console (examples/web-console/) the way a web app is served: from
 * its own origin, so its calls to the project URL are cross-origin and CORS runs for
 * real. At start it bundles the page's TypeScript (supabase-js and Chart.js from the
 * pinned npm packages) for the browser with `deno bundle`; `config.json` tells the
 * page the project URL and its publishable key, as a deployed app's build settings do.
 */
import { join } from "node:path";
import { runOrThrow } from "./processes.ts";
import { projectRootFromHere } from "./project_config.ts";

export interface WebConsoleOptions {
  /** 0 picks a free port. */
  port: number;
  /** The project URL the page calls (the gateway). */
  supabaseUrl: string;
  publishableKey: string;
  /** Where the bundle is written (removed by close()). */
  outDir: string;
}

export interface WebConsole {
  /** The page's URL (add `#access_token=<JWT>` to sign a user in). */
  url: string;
  /** Resolves when the page's script is bundled (rejects if it cannot be). */
  ready: Promise<void>;
  close(): Promise<void>;
}

const STATIC_FILES: Record<string, string> = {
  "/": "index.html",
  "/index.html": "index.html",
  "/style.css": "style.css",
};

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
};

/** Bundles examples/web-console/app.ts for the browser; returns the bundle's path. */
export async function bundleWebConsole(outDir: string): Promise<string> {
  const root = projectRootFromHere();
  await Deno.mkdir(outDir, { recursive: true });
  const out = join(outDir, "app.js");
  await runOrThrow([
    Deno.execPath(),
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--minify",
    "--config",
    join(root, "deno.json"),
    "--output",
    out,
    join(root, "examples", "web-console", "app.ts"),
  ]);
  return out;
}

export function startWebConsole(options: WebConsoleOptions): WebConsole {
  const folder = join(projectRootFromHere(), "examples", "web-console");
  // Bundled in the background, so the stack is ready without waiting for it; the
  // first request for app.js waits instead.
  const bundle = bundleWebConsole(options.outDir).then((path) => Deno.readFile(path));
  bundle.catch(() => {}); // reported when app.js is asked for
  const config = JSON.stringify({
    supabaseUrl: options.supabaseUrl,
    publishableKey: options.publishableKey,
  });

  const respond = (body: BodyInit, type: string) =>
    new Response(body, {
      headers: { "content-type": CONTENT_TYPES[type]!, "cache-control": "no-store" },
    });

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port, onListen: () => {} },
    async (request) => {
      const { pathname } = new URL(request.url);
      if (request.method !== "GET") return new Response("method not allowed", { status: 405 });
      if (pathname === "/app.js") {
        try {
          return respond(await bundle, "js");
        } catch (error) {
          const text = error instanceof Error ? error.message : String(error);
          return new Response(`the console could not be bundled:\n${text}`, { status: 500 });
        }
      }
      if (pathname === "/config.json") return respond(config, "json");
      const file = STATIC_FILES[pathname];
      if (!file) return new Response("not found", { status: 404 });
      return respond(await Deno.readFile(join(folder, file)), file.split(".").pop()!);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    ready: bundle.then(() => {}),
    close: async () => {
      await server.shutdown();
      await bundle.catch(() => {});
      await Deno.remove(options.outDir, { recursive: true }).catch(() => {});
    },
  };
}
