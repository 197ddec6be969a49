/**
 * The tree's dependencies point one way (issue 14, part 3): functions → http → domain and
 * health → db and mcp, and the MCP probe is used through its public module only. Scans the
 * relative imports (static and dynamic, type-only included) of every .ts file.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { projectRootFromHere } from "../../scripts/stack/project_config.ts";

const ROOT = projectRootFromHere();

/** Every relative import of the .ts files under `folders`: [importer, imported], from ROOT. */
async function relativeImports(folders: string[]): Promise<[string, string][]> {
  const found: [string, string][] = [];
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"'\n]+)["']/g;
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        // Without comments: an example in a doc comment is no import.
        const code = (await Deno.readTextFile(path)).replace(/\/\*[\s\S]*?\*\//g, "")
          .replace(/^\s*\/\/.*$/gm, "");
        for (const match of code.matchAll(pattern)) {
          found.push([relative(ROOT, path), relative(ROOT, join(dirname(path), match[1]!))]);
        }
      }
    }
  };
  for (const folder of folders) await walk(join(ROOT, folder));
  return found;
}

const imports = await relativeImports([
  "functions",
  "shared",
  "tests",
  "bench",
  "scripts",
  "examples",
]);

Deno.test("the scan sees the imports it judges", () => {
  // Guards against a pattern that matches nothing (and so passes everything).
  assert.ok(
    imports.some(([from, to]) => from.startsWith("shared/health/") && to === "shared/mcp/mod.ts"),
  );
  assert.ok(
    imports.some(([from, to]) => from.startsWith("functions/") && to.startsWith("shared/http/")),
  );
});

Deno.test("outside shared/mcp/, only shared/mcp/mod.ts is imported (its unit tests aside)", () => {
  const internal = imports.filter(([from, to]) =>
    to.startsWith("shared/mcp/") && to !== "shared/mcp/mod.ts" &&
    !from.startsWith("shared/mcp/") && !from.startsWith("tests/shared/mcp/")
  );
  assert.deepEqual(internal, []);
});

/** What each layer of shared/ may import, besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  log: [],
  config: [],
  schemas: [],
  mcp: ["schemas"],
  db: ["errors", "schemas"],
  auth: ["db", "errors", "schemas"],
  domain: ["db", "errors", "mcp", "schemas"],
  // The health check reuses the domain's reads (server credentials); the domain never the reverse.
  health: ["db", "domain", "errors", "log", "mcp", "schemas"],
  http: ["auth", "db", "errors", "log", "schemas"],
  client: ["schemas"],
};

Deno.test("shared/ layers import only the layers below them", () => {
  const wrong: string[] = [];
  for (const [from, to] of imports) {
    const source = /^shared\/([^/]+)\//.exec(from)?.[1];
    if (source === undefined) continue;
    const target = /^shared\/([^/]+)\//.exec(to)?.[1];
    if (target === source) continue;
    if (target === undefined || !(ALLOWED[source] ?? []).includes(target)) {
      wrong.push(`${from} → ${to}`);
    }
  }
  assert.deepEqual(wrong, []);
  const folders = [...Deno.readDirSync(join(ROOT, "shared"))].filter((e) => e.isDirectory);
  assert.deepEqual(
    Object.keys(ALLOWED).sort(),
    folders.map((e) => e.name).sort(),
    "every folder of shared/ has a row",
  );
});
