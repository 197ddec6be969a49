/**
 * Where a function's cold start goes: runs bench/cold_start/breakdown_child.ts in fresh worker
 * processes (the flags and environment of function_host.ts's workers, without the host) and
 * prints each step's median wall and CPU time, with the machine's load average, with the
 * functions' own import map.
 *
 *     deno run -A bench/cold_start/breakdown.ts [--runs=10]
 *
 * The steps load what the function's graph loads, one package at a time, so each figure is what
 * that step adds to the ones before it; the whole start is measured by `deno task bench
 * --only=cold`, this only splits it.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { platformEnvironment } from "../../scripts/stack/function_environment.ts";
import { LOCAL_API_KEYS } from "../../scripts/stack/keys.ts";
import { projectRootFromHere } from "../../scripts/stack/project_config.ts";
import { loadAverage } from "../machine.ts";
import { summarize } from "../stats.ts";

interface Step {
  step: string;
  wallMs: number;
  cpuMs: number;
  atStart: boolean;
}

const flags = parseArgs({ args: Deno.args, options: { runs: { type: "string" } } }).values;
const runs = Number(flags.runs ?? 10);
const root = projectRootFromHere();
const env = platformEnvironment({
  url: "http://127.0.0.1:9",
  dbUrl: "postgresql://postgres:postgres@127.0.0.1:9/postgres",
  keys: LOCAL_API_KEYS,
});

const importMap = join(root, "supabase/functions/import_map.json");

async function once(fn: string): Promise<Step[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "--no-prompt",
      "--v8-flags=--max-old-space-size=256",
      "--no-config",
      "--import-map",
      importMap,
      "--lock",
      join(root, "deno.lock"),
      "--frozen",
      join(root, "bench/cold_start/breakdown_child.ts"),
      fn,
    ],
    cwd: root,
    env: { ...env, BREAKDOWN_SPAWNED_AT: String(Date.now()) },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  // The function's own log lines go to stdout too.
  const line = new TextDecoder().decode(output.stdout).split("\n").find((l) =>
    l.startsWith("breakdown ")
  );
  if (!line) throw new Error(`${fn}: no breakdown in the output`);
  return JSON.parse(line.slice("breakdown ".length));
}

// deno-lint-ignore no-console
const say = (line: string) => console.log(line);
const functions = ["mcp-connections", "mcp-health-check"];
const samples: Record<string, Step[][]> = Object.fromEntries(functions.map((f) => [f, []]));
const loads: number[] = [];
for (const fn of functions) await once(fn); // warm the caches, not counted
for (let run = 0; run < runs; run++) {
  loads.push((await loadAverage())[0]!);
  for (const fn of run % 2 ? [...functions].reverse() : functions) {
    samples[fn]!.push(await once(fn));
  }
}
for (const fn of functions) {
  say(`\n${fn}: ${runs} starts, load average ${summarize(loads).median.toFixed(1)}`);
  say("| step | wall median | CPU median |\n| --- | --- | --- |");
  const first = samples[fn]![0]!;
  let wall = 0;
  let cpu = 0;
  for (const [index, { step, atStart }] of first.entries()) {
    const w = summarize(samples[fn]!.map((s) => s[index]!.wallMs)).median;
    const c = summarize(samples[fn]!.map((s) => s[index]!.cpuMs)).median;
    if (atStart) {
      wall += w;
      cpu += c;
    }
    say(`| ${step} | ${w.toFixed(0)} ms | ${c.toFixed(0)} ms |`);
  }
  say(`| the start: sum of its medians | ${wall.toFixed(0)} ms | ${cpu.toFixed(0)} ms |`);
}
