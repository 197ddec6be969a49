/**
 * Deploy what was tested: the functions' import map (supabase/functions/import_map.json,
 * `import_map` of every function in supabase/config.toml, also what the local stack runs
 * them with) names their runtime dependencies only, each pinned to the exact version the
 * tests ran (the root deno.json and deno.lock), and every bare import in functions/ and
 * shared/ resolves through it.
 *
 * Transitive versions: neither of the CLI's bundlers ships deno.lock, so a deploy resolves
 * the dependencies of these packages afresh within their package.json ranges. Locally
 * they are pinned by deno.lock (the function workers run with `--lock deno.lock --frozen`);
 * the last test lists how many packages only the lock pins.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { parse } from "smol-toml";
import { projectRootFromHere } from "../../scripts/stack/project_config.ts";

const ROOT = projectRootFromHere();
const MAP_PATH = join(ROOT, "supabase/functions/import_map.json");

interface Lock {
  specifiers: Record<string, string>;
  npm: Record<string, { dependencies?: string[] }>;
}

const importMap = JSON.parse(await Deno.readTextFile(MAP_PATH)) as {
  imports: Record<string, string>;
};
const rootImports = (JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as {
  imports: Record<string, string>;
}).imports;
const lock = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.lock"))) as Lock;

/** Every bare specifier imported by a .ts file under these folders, with where. */
async function bareImports(folders: string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  // `from "x"` with its space (deno fmt writes one), so `path: ["from"]` is no import.
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["']([^"'.\/\n][^"'\n]*)["']/g;
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        for (const match of (await Deno.readTextFile(path)).matchAll(pattern)) {
          const specifier = match[1]!;
          if (!specifier.startsWith("node:")) found.set(specifier, relative(ROOT, path));
        }
      }
    }
  };
  for (const folder of folders) await walk(join(ROOT, folder));
  return found;
}

/** What an import map maps a bare specifier to (exact entry, else the longest "x/" prefix). */
function resolve(imports: Record<string, string>, specifier: string): string | null {
  if (imports[specifier]) return imports[specifier]!;
  const prefix = Object.keys(imports).filter((key) => key.endsWith("/"))
    .filter((key) => specifier.startsWith(key)).sort((a, b) => b.length - a.length)[0];
  return prefix ? imports[prefix]! + specifier.slice(prefix.length) : null;
}

/** `npm:name@1.2.3` or `npm:/name@1.2.3/` -> {name, version}. */
function npmTarget(target: string): { name: string; version: string } | null {
  const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/?$/.exec(target);
  return match ? { name: match[1]!, version: match[2]! } : null;
}

Deno.test("every function's import_map in config.toml is the functions' import map", async () => {
  const config = parse(await Deno.readTextFile(join(ROOT, "supabase/config.toml"))) as {
    functions: Record<string, { import_map?: string }>;
  };
  const names = Object.keys(config.functions);
  assert.ok(names.length > 0);
  for (const name of names) {
    const path = config.functions[name]!.import_map;
    assert.ok(path, `${name} has an import_map`);
    assert.equal(join(ROOT, "supabase", path), MAP_PATH, name);
  }
});

Deno.test("the import map pins each package to the exact version the tests ran", () => {
  for (const [key, target] of Object.entries(importMap.imports)) {
    const npm = npmTarget(target);
    assert.ok(npm, `${key} -> ${target} is an npm package at one version`);
    assert.match(npm.version, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, `${key}: an exact version`);
    assert.equal(target, rootImports[key], `${key}: the same as deno.json`);
    const locked = lock.specifiers[`npm:${npm.name}@${npm.version}`];
    assert.ok(locked, `${key}: npm:${npm.name}@${npm.version} is in deno.lock`);
    assert.equal(locked.split("_")[0], npm.version, `${key}: deno.lock resolved the same version`);
  }
});

Deno.test("every bare import in functions/ and shared/ resolves through the import map", async () => {
  const used = await bareImports(["functions", "shared"]);
  assert.ok(used.size > 0);
  for (const [specifier, where] of used) {
    assert.ok(
      resolve(importMap.imports, specifier),
      `${specifier} (${where}) is in the import map`,
    );
  }
  // Runtime dependencies only: every entry is used by the functions' code.
  for (const key of Object.keys(importMap.imports)) {
    const usedByCode = [...used.keys()].some((specifier) =>
      key.endsWith("/") ? specifier.startsWith(key) : specifier === key
    );
    assert.ok(usedByCode, `${key} is imported by functions/ or shared/`);
  }
});

Deno.test("deno test at the repository root collects tests/ only", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as {
    test?: { include?: string[] };
  };
  assert.deepEqual(config.test?.include, ["tests/"]);
});

Deno.test("transitive versions: what only deno.lock pins", () => {
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const dependency of lock.npm[id]?.dependencies ?? []) visit(dependency);
  };
  const direct = Object.values(importMap.imports).map((target) => {
    const npm = npmTarget(target)!;
    return `${npm.name}@${lock.specifiers[`npm:${npm.name}@${npm.version}`]}`;
  });
  for (const id of direct) {
    assert.ok(lock.npm[id], `${id} is in deno.lock's npm section`);
    visit(id);
  }
  const transitive = [...seen].filter((id) => !direct.includes(id));
  // deno-lint-ignore no-console
  console.log(
    `import map: ${new Set(direct).size} packages pinned by the map; ${transitive.length} ` +
      `transitive packages pinned only by deno.lock (a deploy resolves them within their ranges)`,
  );
});
