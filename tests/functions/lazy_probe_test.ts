/**
 * The functions start without the MCP SDK: their module graphs, resolved as the local stack and
 * `supabase functions deploy` resolve them (the functions' import map, no deno.json), reach
 * `@modelcontextprotocol/client` only through a dynamic `import()` behind `createProbe()`:
 * mcp-connections loads the probe on the first test, mcp-health-check on the first authorized
 * call that probes. So the routes that do not probe answer without loading it. Nor do the
 * functions load at start the rest of supabase-js (postgrest-js is their database client), a Node
 * built-in, or (mcp-connections) the server-credentials schema. A structural test, read from
 * `deno info --json`; the time it saves is measured by `deno task bench --only=cold`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { projectRootFromHere } from "../../scripts/stack/project_config.ts";

const root = projectRootFromHere();
const SDK = /^npm:\/?@modelcontextprotocol\//;

interface Dependency {
  specifier: string;
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface ModuleGraph {
  roots: string[];
  modules: { specifier: string; dependencies?: Dependency[] }[];
  redirects: Record<string, string>;
  npmPackages: Record<string, { name: string; dependencies: string[] }>;
}

async function moduleGraph(entrypoint: string): Promise<ModuleGraph> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      "--no-config",
      "--import-map",
      join(root, "supabase/functions/import_map.json"),
      join(root, entrypoint),
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)) as ModuleGraph;
}

/**
 * Every module and npm package the entry point reaches, following runtime imports (not
 * `import type`), and dynamic ones too when asked.
 */
function reachable(graph: ModuleGraph, options: { dynamic: boolean }): Set<string> {
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const resolve = (specifier: string) => graph.redirects[specifier] ?? specifier;
  const seen = new Set<string>();
  const pending = graph.roots.map(resolve);
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (!dependency.code || (dependency.isDynamic && !options.dynamic)) continue;
      pending.push(resolve(dependency.code.specifier));
    }
  }
  // npm packages: their own dependencies, transitively (npm:/name@version -> name@version).
  const packages = [...seen].filter((s) => s.startsWith("npm:/")).map((s) =>
    s.slice("npm:/".length).replace(/^(@?[^@/]+(?:\/[^@/]+)?@[^/]+).*$/, "$1")
  );
  while (packages.length > 0) {
    const id = packages.pop()!;
    const key = `npm:/${id}`;
    if (seen.has(`${key}#pkg`)) continue;
    seen.add(`${key}#pkg`);
    seen.add(key);
    packages.push(...(graph.npmPackages[id]?.dependencies ?? []));
  }
  return seen;
}

for (const fn of ["mcp-connections", "mcp-health-check"]) {
  Deno.test(`${fn} reaches the MCP SDK only through the probe's dynamic import`, async (t) => {
    const graph = await moduleGraph(`functions/${fn}/index.ts`);

    await t.step("the static graph holds no @modelcontextprotocol package", () => {
      const sdk = [...reachable(graph, { dynamic: false })].filter((s) => SDK.test(s));
      assert.deepEqual(sdk, []);
    });

    await t.step("nor the probe's modules (shared/mcp/probe.ts, transports.ts)", () => {
      const statics = reachable(graph, { dynamic: false });
      // shared/mcp/mod.ts itself is light (types, the network policy, createProbe) and static.
      for (const file of ["shared/mcp/probe.ts", "shared/mcp/transports.ts"]) {
        const url = new URL(file, `file://${root}/`).href;
        assert.equal(statics.has(url), false, `${file} is imported statically`);
      }
    });

    await t.step(
      "with the dynamic import, the SDK is in the graph (and in the deployed bundle)",
      () => {
        const all = [...reachable(graph, { dynamic: true })];
        assert.ok(all.some((s) => SDK.test(s)), "the graph lost the probe altogether");
        assert.ok(
          all.includes(new URL("shared/mcp/probe.ts", `file://${root}/`).href),
          "the probe's implementation is not in the graph",
        );
      },
    );
  });
}

/** Packages of supabase-js that the functions do not use: Deno loads them as CommonJS. */
const SUPABASE_JS_CLIENTS = /^npm:\/@supabase\/(supabase|auth|realtime|storage|functions)-js@/;

for (const fn of ["mcp-connections", "mcp-health-check"]) {
  Deno.test(`${fn} starts without what its routes do not need (docs/benchmarks.md, cold start)`, async (t) => {
    const graph = await moduleGraph(`functions/${fn}/index.ts`);
    const statics = [...reachable(graph, { dynamic: false })];

    await t.step("the database client is postgrest-js, without the rest of supabase-js", () => {
      assert.deepEqual(statics.filter((s) => SUPABASE_JS_CLIENTS.test(s)), []);
      assert.ok(statics.some((s) => s.startsWith("npm:/@supabase/postgrest-js@")));
    });

    await t.step("no Node built-in module (Deno loads its Node layer for them)", () => {
      assert.deepEqual(statics.filter((s) => s.startsWith("node:")), []);
    });

    if (fn === "mcp-connections") {
      await t.step("the server-credentials schema only through its dynamic import", () => {
        const schema = new URL("shared/mcp/auth/server_credentials.ts", `file://${root}/`).href;
        assert.equal(statics.includes(schema), false, "imported statically");
        assert.ok(reachable(graph, { dynamic: true }).has(schema), "not in the graph at all");
      });
    }
  });
}
