/**
 * Function cold start: from process start to the first answer, for each function beside a bare
 * `Deno.serve` hello world (bench/cold_start/hello.ts), all started the way the local stack
 * starts a worker (scripts/stack/stack.ts, functionWorkerSpawner: function_host.ts with
 * `--no-config`, the functions' import map, `--lock deno.lock --frozen`, the Edge Runtime's
 * heap limit, the platform's environment).
 *
 * Each run spawns one worker and polls its port with the run's request every 2 ms; the time is
 * from just before the spawn to the end of the first complete response (the functions' own
 * sides are answered without a database: 401 without a token). The port opening is
 * noted too. The sides take turns run by run, rotating which goes first. The module cache is
 * warm (as on a platform that keeps the deployed bundle), so this is module evaluation and the
 * runtime's start, not downloads.
 *
 * Then, in a second phase beside a seeded stack started for it (and the hello world again, as
 * the stack's processes share the machine), mcp-connections answers a signed-in user's first
 * request: the JWT checked, the query validated, PostgREST asked and the rows read through their
 * schemas, so 200 with the demo user's connections: what a user's first request after a cold
 * start costs, not only the start.
 *
 * The routes measured do not probe: the probe's implementation and the MCP SDK load at the
 * first probe (`createProbe()`, a dynamic import; tests/functions/lazy_probe_test.ts holds them
 * there). The health check also runs beside its start with the probe loaded at start
 * (health_check_probe_at_start.ts, as before issue 14), and mcp-connections beside itself as one
 * `deno bundle` file. bench/cold_start/breakdown.ts splits a start into its steps.
 */
import { join } from "node:path";
import { type Figure, type ScenarioResult, slowdownFigure, timeFigure } from "../figures.ts";
import { loadAverage } from "../machine.ts";
import { summarize } from "../stats.ts";
import { platformEnvironment } from "../../scripts/stack/function_environment.ts";
import { type ApiKeys, LOCAL_API_KEYS, mintUserToken } from "../../scripts/stack/keys.ts";
import { freePort, isPortOpen, type Service } from "../../scripts/stack/processes.ts";
import { type FunctionConfig, readProjectConfig } from "../../scripts/stack/project_config.ts";
import { functionWorkerSpawner } from "../../scripts/stack/stack.ts";
import { startThrowawayStack } from "../../scripts/stack/throwaway_stack.ts";

const TARGET_MS = 300;
const PROBE_HEALTH_CHECK = "mcp-health-check, the probe at start";
const BUNDLED_CONNECTIONS = "mcp-connections as one bundle (deno bundle)";
const SIGNED_IN_CONNECTIONS = "mcp-connections, signed in (200 from the database)";
const HELLO_BESIDE_STACK = "hello world, beside the stack";
/** The seed's demo user (supabase/seed.sql), who has a connection. */
const DEMO_USER = "11111111-1111-4111-8111-111111111111";
const HEAP_LIMIT_MB = 256;
const POLL_MS = 2;
const RUN_TIMEOUT_MS = 60_000;

interface Side {
  id: string;
  fn: FunctionConfig;
  /** The first request: a route that does not probe. */
  request: { method: string; path: string; headers?: Record<string, string> };
  /** The project the worker is told it runs in (default: URLs nothing answers). */
  project?: { url: string; dbUrl: string; keys: ApiKeys };
  /** The status the first request must get (default: any). */
  expect?: number;
  /** The checkout it runs from (default: this one). */
  root?: string;
}

export interface ColdStartOptions {
  projectRoot: string;
  runs: number;
  /**
   * Another checkout of the project (e.g. `git worktree add ../before <commit>`): its two functions
   * run as sides of their own, beside this checkout's, for a before/after in one run.
   */
  beforeRoot?: string;
  progress?: (message: string) => void;
}

interface Run {
  firstAnswerMs: number;
  listeningMs: number;
  /** CPU time of all the worker's threads at its first answer (less sensitive to load). */
  cpuMs: number;
  status: number;
}

/** CPU ms of every thread of a process (schedstat: ns the scheduler ran each thread). */
async function processCpuMs(pid: number): Promise<number> {
  let ns = 0;
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    try {
      ns += Number(
        (await Deno.readTextFile(`/proc/${pid}/task/${task.name}/schedstat`)).split(" ")[0],
      );
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

async function answer(port: number, side: Side): Promise<number | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${side.request.path}`, {
      method: side.request.method,
      headers: side.request.headers,
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

async function coldRun(side: Side, projectRoot: string, logFile: string): Promise<Run> {
  const functionEnv = platformEnvironment(
    side.project ?? {
      // Nothing is called at start: the URLs only have to be well formed.
      url: `http://127.0.0.1:${freePort()}`,
      dbUrl: "postgresql://postgres:postgres@127.0.0.1:9/postgres",
      keys: LOCAL_API_KEYS,
    },
  );
  const spawn = functionWorkerSpawner({
    projectRoot: side.root ?? projectRoot,
    fn: side.fn,
    functionEnv,
    log: { file: logFile },
  });
  const port = freePort();
  const started = performance.now();
  const service: Service = spawn(port, [`--max-old-space-size=${HEAP_LIMIT_MB}`]);
  try {
    let listeningMs = Number.NaN;
    while (performance.now() - started < RUN_TIMEOUT_MS) {
      if (service.exited) {
        throw new Error(`${side.id}: the worker exited (see ${logFile})`);
      }
      const status = await answer(port, side);
      if (status !== null) {
        if (side.expect !== undefined && status !== side.expect) {
          throw new Error(`${side.id}: answered ${status}, not ${side.expect} (see ${logFile})`);
        }
        const firstAnswerMs = performance.now() - started;
        const cpuMs = await processCpuMs(service.pid);
        return {
          cpuMs,
          firstAnswerMs,
          listeningMs: Number.isNaN(listeningMs) ? firstAnswerMs : listeningMs,
          status,
        };
      }
      if (Number.isNaN(listeningMs) && await isPortOpen(port)) {
        listeningMs = performance.now() - started;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    throw new Error(`${side.id}: no answer within ${RUN_TIMEOUT_MS} ms`);
  } finally {
    await service.stop("SIGKILL");
  }
}

/**
 * mcp-connections bundled by `deno bundle` (the probe a chunk of its own, still loaded on the
 * first test): the same code as a few files instead of a graph of some hundred modules, to
 * show what loading them one by one costs. Returns the entry point.
 */
async function bundle(projectRoot: string, fn: FunctionConfig, outdir: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--no-config",
      "--import-map",
      fn.importMap ?? join(projectRoot, "supabase/functions/import_map.json"),
      "--lock",
      join(projectRoot, "deno.lock"),
      "--frozen",
      "--platform",
      "deno",
      "--code-splitting",
      "--outdir",
      outdir,
      fn.entrypoint,
    ],
    cwd: projectRoot,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno bundle ${fn.name}: ${new TextDecoder().decode(output.stderr)}`);
  }
  return join(outdir, "index.js");
}

export async function runColdStartScenario(options: ColdStartOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const say = options.progress ?? (() => {});
  const config = await readProjectConfig(options.projectRoot);
  const functionConfig = (name: string): FunctionConfig => {
    const fn = config.functions.find((f) => f.name === name);
    if (!fn) throw new Error(`supabase/config.toml has no function ${name}`);
    return fn;
  };
  const connections = functionConfig("mcp-connections");
  const healthCheck = functionConfig("mcp-health-check");
  const logDir = await Deno.makeTempDir({ prefix: "bench-cold-" });
  const hello: Side = {
    id: "hello world",
    fn: {
      name: "hello",
      verifyJwt: false,
      entrypoint: join(options.projectRoot, "bench/cold_start/hello.ts"),
      importMap: connections.importMap,
    },
    request: { method: "GET", path: "/hello" },
  };
  const sides: Side[] = [
    hello,
    {
      id: "mcp-connections",
      fn: connections,
      request: { method: "GET", path: "/mcp-connections/connections" },
    },
    {
      id: "mcp-health-check",
      fn: healthCheck,
      request: { method: "POST", path: "/mcp-health-check" },
    },
    {
      id: PROBE_HEALTH_CHECK,
      fn: {
        ...healthCheck,
        entrypoint: join(options.projectRoot, "bench/cold_start/health_check_probe_at_start.ts"),
      },
      request: { method: "POST", path: "/mcp-health-check" },
    },
    {
      id: BUNDLED_CONNECTIONS,
      fn: {
        ...connections,
        entrypoint: await bundle(options.projectRoot, connections, join(logDir, "bundle")),
      },
      request: { method: "GET", path: "/mcp-connections/connections" },
    },
  ];
  if (options.beforeRoot) {
    const before = await readProjectConfig(options.beforeRoot);
    for (const name of ["mcp-connections", "mcp-health-check"]) {
      const fn = before.functions.find((f) => f.name === name);
      const now = sides.find((s) => s.id === name)!;
      if (fn) sides.push({ ...now, id: `${name}, before`, fn, root: options.beforeRoot });
    }
  }
  const loads: number[] = [];
  const runs: Record<string, Run[]> = {};

  /** One start of each side uncounted (caches warm), then `options.runs` rounds in turns. */
  const measure = async (phase: Side[]): Promise<void> => {
    for (const side of phase) {
      runs[side.id] = [];
      await coldRun(side, options.projectRoot, join(logDir, "warm.log"));
    }
    for (let round = 0; round < options.runs; round++) {
      loads.push((await loadAverage())[0]!);
      for (let i = 0; i < phase.length; i++) {
        const side = phase[(i + round) % phase.length]!;
        runs[side.id]!.push(
          await coldRun(side, options.projectRoot, join(logDir, `${side.fn.name}.log`)),
        );
      }
      say(
        `run ${round + 1}/${options.runs}: ${
          phase.map((s) => `${s.id} ${runs[s.id]!.at(-1)!.firstAnswerMs.toFixed(0)} ms`).join(", ")
        }`,
      );
    }
  };

  try {
    await measure(sides);
    // Then a signed-in user's first request: the JWT checked, the query validated, PostgREST
    // asked, the rows read through their schemas. Its own phase, beside the hello world again,
    // so the stack's processes run beside these two sides only.
    say("starting a stack (seeded) for the signed-in side");
    const stack = await startThrowawayStack("bench-cold-stack-", { seed: true });
    try {
      const token = await mintUserToken({
        sub: DEMO_USER,
        secret: stack.keys.jwtSecret,
        expiresIn: 3600,
      });
      const signedIn: Side[] = [
        { ...hello, id: HELLO_BESIDE_STACK },
        {
          id: SIGNED_IN_CONNECTIONS,
          fn: connections,
          request: {
            method: "GET",
            path: "/mcp-connections/connections",
            headers: { authorization: `Bearer ${token}`, apikey: stack.keys.anonKey },
          },
          project: { url: stack.url, dbUrl: stack.dbUrl, keys: stack.keys },
          expect: 200,
        },
      ];
      await measure(signedIn);
      sides.push(...signedIn);
    } finally {
      await stack.stop();
    }
  } finally {
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }

  const sideNamed = (id: string): Side => sides.find((s) => s.id === id)!;
  const firstAnswers = (side: Side) => summarize(runs[side.id]!.map((r) => r.firstAnswerMs));
  const cpu = (side: Side) => summarize(runs[side.id]!.map((r) => r.cpuMs)).median;
  const figures: Figure[] = [];
  const connectionsSide = sideNamed("mcp-connections");
  const healthSide = sideNamed("mcp-health-check");
  const measured: [Side, Side][] = [
    [connectionsSide, hello],
    [healthSide, hello],
    [sideNamed(SIGNED_IN_CONNECTIONS), sideNamed(HELLO_BESIDE_STACK)],
  ];
  for (const [side, reference] of measured) {
    const samples = runs[side.id]!;
    const summary = firstAnswers(side);
    const helloSummary = firstAnswers(reference);
    const helloCpu = cpu(reference);
    figures.push(slowdownFigure({
      name: `${side.id} cold start: process start to first answer ` +
        `(${side.request.method} ${side.request.path})`,
      project: { label: side.id, summary },
      reference: { label: `bare Deno.serve ${reference.id}`, summary: helloSummary },
      ratioMeaning: "× the hello world's time",
      target: `≤ ${TARGET_MS} ms`,
      met: summary.median <= TARGET_MS,
      notes: [
        `beyond the hello world's start: ${(summary.median - helloSummary.median).toFixed(0)} ms`,
        `listening after ${summarize(samples.map((r) => r.listeningMs)).median.toFixed(0)} ms ` +
        `(hello world ${
          summarize(runs[reference.id]!.map((r) => r.listeningMs)).median.toFixed(0)
        } ms)`,
        `CPU to first answer ${cpu(side).toFixed(0)} ms (hello world ${helloCpu.toFixed(0)} ms, ${
          (cpu(side) - helloCpu).toFixed(0)
        } ms more)`,
        `answered ${[...new Set(samples.map((r) => r.status))].join(", ")}`,
        `${options.runs} starts`,
      ],
    }));
  }
  /** An informative figure: one side's first answers and CPU beside another's. */
  const beside = (
    name: string,
    [side, label]: [Side, string],
    [reference, referenceLabel]: [Side, string],
    meaning: string,
    note = "",
  ): Figure =>
    timeFigure({
      name,
      project: { label, summary: firstAnswers(side) },
      reference: { label: referenceLabel, summary: firstAnswers(reference) },
      target: `(informative: ${meaning})`,
      met: null,
      notes: [
        `CPU to first answer ${cpu(side).toFixed(0)} ms vs ${cpu(reference).toFixed(0)} ms${note}`,
      ],
    });
  for (const now of [connectionsSide, healthSide]) {
    const before = sides.find((s) => s.id === `${now.id}, before`);
    if (!before) continue;
    figures.push(beside(
      `${now.id} cold start: this checkout vs ${options.beforeRoot}`,
      [now, `${now.id}, now`],
      [before, before.id],
      "a before/after in one run",
    ));
  }
  const eager = sideNamed(PROBE_HEALTH_CHECK);
  figures.push(beside(
    "mcp-health-check cold start: now vs the probe at start (before issue 14)",
    [healthSide, "mcp-health-check, now"],
    [eager, eager.id],
    "what loading the probe at its first use saves",
  ));
  const bundled = sideNamed(BUNDLED_CONNECTIONS);
  figures.push(beside(
    "mcp-connections cold start: one bundle vs the module graph the stack runs",
    [bundled, bundled.id],
    [connectionsSide, "mcp-connections (module graph)"],
    "what loading the modules one by one costs",
    ` (hello world ${cpu(hello).toFixed(0)} ms)`,
  ));
  const details = [
    `${options.runs} starts per side after one uncounted start each, the sides taking turns; ` +
    "the signed-in side in a second phase beside a seeded stack, with the hello world again. " +
    "Each start: `deno run --no-config --import-map supabase/functions/import_map.json --lock " +
    "deno.lock --frozen scripts/stack/function_host.ts` with the function as FUNCTION_ENTRYPOINT " +
    `and \`--v8-flags=--max-old-space-size=${HEAP_LIMIT_MB}\`, as the local stack starts a worker; ` +
    `the first request polled every ${POLL_MS} ms from the spawn.\n`,
    "The CPU column is the worker's CPU time over all its threads when it first answered " +
    "(`/proc/<pid>/task/*/schedstat`): what the start costs, whatever else the machine runs. " +
    `The 1-minute load average during the run: ${Math.min(...loads).toFixed(1)}–${
      Math.max(...loads).toFixed(1)
    } (median ${summarize(loads).median.toFixed(1)}).\n`,
    "| side | first request | first answer median (p95) | listening median | CPU median |",
    "| --- | --- | --- | --- | --- |",
    ...sides.map((side) => {
      const s = summarize(runs[side.id]!.map((r) => r.firstAnswerMs));
      const l = summarize(runs[side.id]!.map((r) => r.listeningMs));
      return `| ${side.id} | ${side.request.method} ${side.request.path} | ` +
        `${s.median.toFixed(0)} ms (p95 ${s.p95.toFixed(0)}) | ${l.median.toFixed(0)} ms | ` +
        `${summarize(runs[side.id]!.map((r) => r.cpuMs)).median.toFixed(0)} ms |`;
    }),
    "",
  ];
  return {
    id: "cold",
    title: "Function cold start: process start to first answer, beside a bare Deno.serve",
    figures,
    details: details.join("\n"),
    data: { runs, loadAverages: loads },
    durationSeconds: (performance.now() - started) / 1000,
  };
}
