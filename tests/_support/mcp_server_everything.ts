/**
 * Starts the third-party `@modelcontextprotocol/server-everything` (version pinned in
 * deno.json, fetched from npm by Deno on first use) as a child `deno run` process on
 * 127.0.0.1 and a free port: `streamableHttp` serves `/mcp` (protocol 2025-11-25, sessions),
 * `sse` serves `/sse` (the legacy HTTP+SSE transport). See mcp_server_everything_main.ts.
 */
import { LISTENING_MARKER } from "./mcp_server_everything_main.ts";

/** The transports server-everything serves over HTTP. */
export type ServerEverythingMode = "streamableHttp" | "sse";

/** A running server-everything. */
export interface ServerEverything extends AsyncDisposable {
  readonly url: string;
  readonly mode: ServerEverythingMode;
  /** The last lines it printed, for a failing test's message. */
  readonly output: () => string;
  /** Stops the process and waits for it to exit. Idempotent. */
  close(): Promise<void>;
}

/** How long the first start may take (Deno may have to fetch the package from npm). */
const START_TIMEOUT_MS = 120_000;
const KEPT_LINES = 40;

const LAUNCHER = new URL("./mcp_server_everything_main.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

/** Starts server-everything in `mode`; resolves once it listens. */
export async function startServerEverything(mode: ServerEverythingMode): Promise<ServerEverything> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${CONFIG.pathname}`,
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      LAUNCHER.pathname,
      mode,
    ],
    env: { PORT: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > KEPT_LINES) lines.shift();
  };
  let onPort: (port: number) => void = () => {};
  const portSeen = new Promise<number>((resolve) => (onPort = resolve));
  const drainStdout = drainLines(child.stdout, (line) => {
    keep(line);
    if (line.startsWith(LISTENING_MARKER)) {
      onPort(Number(line.slice(LISTENING_MARKER.length).trim()));
    }
  });
  const drainStderr = drainLines(child.stderr, keep);

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
      await Promise.all([drainStdout, drainStderr]);
    })();
    return closing;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    portSeen.then((port) => ({ port })),
    child.status.then((status) => ({ exited: status.code })),
    new Promise<{ timedOut: true }>((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), START_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!("port" in outcome)) {
    await close();
    throw new Error(
      `server-everything ${mode} did not start: ${JSON.stringify(outcome)}\n${lines.join("\n")}`,
    );
  }
  const path = mode === "sse" ? "/sse" : "/mcp";
  return {
    url: `http://127.0.0.1:${outcome.port}${path}`,
    mode,
    output: () => lines.join("\n"),
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function drainLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  }
  if (pending.length > 0) onLine(pending);
}
