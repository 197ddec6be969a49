/**
 * `deno task bench`: every speed target of the project, each measured beside its reference in
 * the same run. Starts its own stack (free ports, throw-away cluster), fills it (1M connections,
 * 100k agents, 20k users, 50 admins), runs the scenarios, prints a table and writes
 * bench/results.json (every sample) and bench/RESULTS.md (the figures and the machine).
 *
 *   deno task bench                        everything (about 10 minutes on 2 cores)
 *   deno task bench --only=rls,list        some scenarios: rls, list, usage, hot, history, probe,
 *                                          health, cpu, cold, dev, recs
 *   deno task bench --skip=dev
 *   deno task bench --quick                fewer trials, smaller loads (iteration, not figures)
 *   --trials=20 --http-trials=5 --probe-runs=50 --health-trials=3 --dev-trials=2
 *   --cpu-requests=100                     calls per route per trial (cpu)
 *   --recs-agents=100000                   recommendations: agents (× 10 connections, / 50 servers)
 *   --hot-events=4000                      hot: usage events per side (over 8 rounds)
 *   --cold-runs=10                         cold: process starts per function
 *   --cold-before=DIR                      cold: also start DIR's functions (another checkout)
 *   --write-md                             also rewrite RESULTS.md after a partial run
 *
 * Speed targets live here, never as timed assertions in tests.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { startThrowawayStack } from "../scripts/stack/throwaway_stack.ts";
import { childrenMatching, cpuMeter, postgresProcesses } from "./cpu.ts";
import { fillFixture, type Fixture, FULL_SIZE, SMALL_SIZE } from "./fixture.ts";
import type { ScenarioResult } from "./figures.ts";
import type { HttpLoad } from "./http_trials.ts";
import { describeMachine, loadAverage } from "./machine.ts";
import { type BenchReport, formatTable, resultsJson, resultsMarkdown } from "./report.ts";
import { runColdStartScenario } from "./scenarios/cold_start.ts";
import { runDevStartScenario } from "./scenarios/dev_start.ts";
import { FUNCTION_CPU_DEFAULTS, runFunctionCpuScenario } from "./scenarios/function_cpu.ts";
import { HEALTH_CHECK_SCALE, runHealthCheckScenario } from "./scenarios/health_check.ts";
import { runListHttpScenario } from "./scenarios/list_http.ts";
import { runProbeScenario } from "./scenarios/probe.ts";
import { RECOMMENDATIONS_FULL, runRecommendationsScenario } from "./scenarios/recommendations.ts";
import { runRlsScenario } from "./scenarios/rls.ts";
import { runUsageScenario } from "./scenarios/usage.ts";
import { runUsageHotScenario } from "./scenarios/usage_hot.ts";
import { runUsageHistoryScenario, USAGE_HISTORY_FULL } from "./scenarios/usage_history.ts";

const SCENARIOS = [
  "rls",
  "list",
  "usage",
  "hot",
  "history",
  "probe",
  "health",
  "cpu",
  "cold",
  "dev",
  "recs",
] as const;
type ScenarioId = typeof SCENARIOS[number];
const TITLES: Record<ScenarioId, string> = {
  rls: "RLS at 1M connections",
  list: "GET /connections: the function beside PostgREST",
  usage: "Usage recording on one hot connection",
  hot: "Usage events on one hot row: HOT updates, lean index set vs the draft's",
  history: "Usage history: the buckets' recording cost and the reports",
  probe: "Probe of a local MCP server beside the bare SDK",
  health: "Scheduled health check at scale",
  cpu: "Function CPU per request (the Edge Runtime's 2 s limit)",
  cold: "Function cold start: process start to first answer, beside a bare Deno.serve",
  dev: "deno task dev: cold and warm start",
  recs: "Connection recommendations: request, refresh, hit rate",
};

const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const RESULTS_JSON = fileURLToPath(new URL("./results.json", import.meta.url));
const RESULTS_MD = fileURLToPath(new URL("./RESULTS.md", import.meta.url));

// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

function positive(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
}

function scenarioList(value: string | undefined): ScenarioId[] {
  if (!value) return [];
  const ids = value.split(",").map((id) => id.trim()).filter(Boolean);
  for (const id of ids) {
    if (!(SCENARIOS as readonly string[]).includes(id)) {
      throw new Error(`unknown scenario "${id}" (known: ${SCENARIOS.join(", ")})`);
    }
  }
  return ids as ScenarioId[];
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    skip: { type: "string" },
    quick: { type: "boolean", default: false },
    trials: { type: "string" },
    "http-trials": { type: "string" },
    "probe-runs": { type: "string" },
    "health-trials": { type: "string" },
    "dev-trials": { type: "string" },
    "cpu-requests": { type: "string" },
    "recs-agents": { type: "string" },
    "hot-events": { type: "string" },
    "cold-runs": { type: "string" },
    "cold-before": { type: "string" },
    "write-md": { type: "boolean", default: false },
  },
});

const quick = flags.quick ?? false;
const only = scenarioList(flags.only);
const skip = scenarioList(flags.skip);
const selected = (only.length ? only : [...SCENARIOS]).filter((id) => !skip.includes(id));
const settings = {
  rlsTrials: positive(flags.trials, quick ? 5 : 20, "trials"),
  httpTrials: positive(flags["http-trials"], quick ? 2 : 5, "http-trials"),
  probeRuns: positive(flags["probe-runs"], quick ? 10 : 50, "probe-runs"),
  healthTrials: positive(flags["health-trials"], quick ? 1 : 3, "health-trials"),
  devTrials: positive(flags["dev-trials"], quick ? 1 : 2, "dev-trials"),
  cpuRequests: positive(flags["cpu-requests"], quick ? 20 : 100, "cpu-requests"),
  recsAgents: positive(
    flags["recs-agents"],
    quick ? 10_000 : RECOMMENDATIONS_FULL.agents,
    "recs-agents",
  ),
  hotEvents: positive(flags["hot-events"], quick ? 1000 : 4000, "hot-events"),
  coldRuns: positive(flags["cold-runs"], quick ? 3 : 10, "cold-runs"),
};
const listLoad: HttpLoad = {
  connections: 10,
  amount: quick ? 1000 : 3000,
  maxSeconds: 60,
  trials: settings.httpTrials,
  warmUp: quick ? 200 : 500,
};
const singleUsageLoad: HttpLoad = { ...listLoad };
const batchUsageLoad: HttpLoad = {
  connections: 4,
  amount: quick ? 40 : 100,
  maxSeconds: 60,
  trials: settings.httpTrials,
  warmUp: quick ? 8 : 20,
};

async function attempt(
  id: ScenarioId,
  run: () => Promise<ScenarioResult>,
): Promise<ScenarioResult> {
  const started = performance.now();
  say(`\n== ${TITLES[id]}`);
  try {
    const result = await run();
    say(`   done in ${result.durationSeconds.toFixed(0)} s`);
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    say(`   FAILED: ${message}`);
    return {
      id,
      title: TITLES[id],
      figures: [],
      details: "",
      data: {},
      durationSeconds: (performance.now() - started) / 1000,
      error: message,
    };
  }
}

const progress = (message: string) => say(`   ${message}`);

async function databaseScenarios(ids: ScenarioId[]): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  say("\n== Stack and data");
  const stack = await startThrowawayStack("bench-stack-");
  const stopOnSignal = async () => {
    await stack.stop();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stopOnSignal);
  const cpu = cpuMeter({
    "gateway (bench process)": () => Promise.resolve([Deno.pid]),
    "mcp-connections": () =>
      childrenMatching(Deno.pid, /function_host\.ts/, /FUNCTION_ENTRYPOINT=[^\n]*mcp-connections/),
    PostgREST: () => childrenMatching(Deno.pid, /postgrest/),
    PostgreSQL: () => postgresProcesses(stack.cluster.dataDir),
  });
  try {
    const size = ids.includes("rls") || ids.includes("list") ? FULL_SIZE : SMALL_SIZE;
    const fill = async (): Promise<Fixture> => {
      const sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
      try {
        return await fillFixture(sql, size, progress);
      } finally {
        await sql.end();
      }
    };
    // The hot-row scenario writes its own rows: alone, it needs no fixture.
    const fixture = ids.some((id) => id === "rls" || id === "list" || id === "usage")
      ? await fill()
      : null;
    if (ids.includes("rls") && fixture) {
      results.push(
        await attempt("rls", () =>
          runRlsScenario({
            dbUrl: stack.dbUrl,
            fixture,
            trials: settings.rlsTrials,
            progress,
          })),
      );
    }
    if (ids.includes("list") && fixture) {
      results.push(
        await attempt(
          "list",
          () => runListHttpScenario({ stack, fixture, load: { ...listLoad, cpu }, progress }),
        ),
      );
    }
    if (ids.includes("usage") && fixture) {
      results.push(
        await attempt("usage", () =>
          runUsageScenario({
            stack,
            fixture,
            single: { ...singleUsageLoad, cpu },
            batch: { ...batchUsageLoad, cpu },
            progress,
          })),
      );
    }
    if (ids.includes("hot")) {
      results.push(
        await attempt("hot", () =>
          runUsageHotScenario({
            dbUrl: stack.dbUrl,
            events: settings.hotEvents,
            rounds: 8,
            progress,
          })),
      );
    }
  } finally {
    Deno.removeSignalListener("SIGINT", stopOnSignal);
    await stack.stop();
  }
  return results;
}

async function main(): Promise<number> {
  const started = performance.now();
  const machine = await describeMachine();
  say(
    `deno task bench: ${selected.join(", ")}${quick ? " (quick)" : ""} on ${machine.cpu}, ` +
      `${machine.cores} cores, load average ${machine.loadAverage.join(" ")}`,
  );
  const scenarios: ScenarioResult[] = [];
  const dbIds = selected.filter((id) =>
    id === "rls" || id === "list" || id === "usage" || id === "hot"
  );
  if (dbIds.length > 0) {
    try {
      scenarios.push(...await databaseScenarios(dbIds));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      say(`   FAILED: ${message}`);
      for (const id of dbIds) {
        if (!scenarios.some((s) => s.id === id)) {
          scenarios.push({
            id,
            title: TITLES[id],
            figures: [],
            details: "",
            data: {},
            durationSeconds: 0,
            error: `the stack or its data failed: ${message}`,
          });
        }
      }
    }
  }
  if (selected.includes("history")) {
    scenarios.push(
      await attempt("history", () =>
        runUsageHistoryScenario({
          ...USAGE_HISTORY_FULL,
          ...(quick ? { rounds: 4, singles: 200, batches: 5, runs: 10 } : {}),
          progress,
        })),
    );
  }
  if (selected.includes("probe")) {
    scenarios.push(await attempt("probe", () => runProbeScenario(settings.probeRuns)));
  }
  if (selected.includes("health")) {
    scenarios.push(
      await attempt(
        "health",
        () => runHealthCheckScenario(HEALTH_CHECK_SCALE, settings.healthTrials, progress),
      ),
    );
  }
  if (selected.includes("cpu")) {
    scenarios.push(
      await attempt("cpu", () =>
        runFunctionCpuScenario({
          ...FUNCTION_CPU_DEFAULTS,
          requests: settings.cpuRequests,
          trials: quick ? 1 : FUNCTION_CPU_DEFAULTS.trials,
          healthTrials: quick ? 1 : FUNCTION_CPU_DEFAULTS.healthTrials,
        }, progress)),
    );
  }
  if (selected.includes("cold")) {
    scenarios.push(
      await attempt("cold", () =>
        runColdStartScenario({
          projectRoot: PROJECT_ROOT,
          runs: settings.coldRuns,
          beforeRoot: flags["cold-before"] ? resolve(flags["cold-before"]) : undefined,
          progress,
        })),
    );
  }
  if (selected.includes("dev")) {
    scenarios.push(
      await attempt("dev", () => runDevStartScenario(PROJECT_ROOT, settings.devTrials, progress)),
    );
  }

  if (selected.includes("recs")) {
    scenarios.push(
      await attempt("recs", () =>
        runRecommendationsScenario({
          ...RECOMMENDATIONS_FULL,
          agents: settings.recsAgents,
          trials: quick ? 50 : RECOMMENDATIONS_FULL.trials,
          sample: quick ? 500 : RECOMMENDATIONS_FULL.sample,
          progress,
        })),
    );
  }

  const report: BenchReport = {
    machine,
    options: { selected, quick, ...settings, listLoad, singleUsageLoad, batchUsageLoad },
    scenarios,
    durationSeconds: (performance.now() - started) / 1000,
    loadAverageAfter: await loadAverage(),
  };
  say("");
  say(formatTable(scenarios));
  say("");
  await Deno.writeTextFile(RESULTS_JSON, resultsJson(report));
  say(`wrote ${RESULTS_JSON}`);
  const complete = selected.length === SCENARIOS.length && !quick;
  if (complete || flags["write-md"]) {
    await Deno.writeTextFile(RESULTS_MD, resultsMarkdown(report));
    // The committed file passes `deno fmt --check` like every other file.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", RESULTS_MD],
      cwd: PROJECT_ROOT,
      stdout: "null",
      stderr: "inherit",
    }).output();
    say(`wrote ${RESULTS_MD}`);
  } else {
    say(`kept ${RESULTS_MD} (a partial or quick run; --write-md rewrites it)`);
  }
  say(`${(report.durationSeconds / 60).toFixed(1)} min`);
  return scenarios.some((s) => s.error) ? 1 : 0;
}

Deno.exit(await main());
