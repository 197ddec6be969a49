/**
 * The scheduled health check at scale (issue 13): one cycle over 10,000 distinct MCP servers
 * on 200 origins (127.0.0.1 listeners), 100,000 connections, 2 % of the servers hanging at a
 * 5 s timeout. bench/health_check_scale.ts (runHealthCheckScale) starts a stack of its own
 * per trial, measures one invocation alone (CPU per probe), then the whole cycle as the
 * scheduler starts it, with the function fanning out by itself.
 *
 * The old design (one invocation probing every target) is not run beside it: it no longer
 * exists in the code. Its CPU is the measured CPU per probe × the targets, reported as a note
 * next to the platform's 2 s limit.
 */
import {
  type HealthCheckScaleOptions,
  type HealthCheckScaleResult,
  runHealthCheckScale,
} from "../health_check_scale.ts";
import type { Figure, ScenarioResult } from "../figures.ts";
import { summarize } from "../stats.ts";

/** Targets of issue 13. */
const CYCLE_LIMIT_S = 60;
const CPU_LIMIT_MS = 1_000;
const MEMORY_LIMIT_MB = 128;
/** Per batch: its claim (3) and its write (7), plus the cycle's start and end spread over it. */
const MAX_WRITES_PER_BATCH = 12;
/** The platform's CPU limit per request, for the old design's note. */
const PLATFORM_CPU_MS = 2_000;

export const HEALTH_CHECK_SCALE: HealthCheckScaleOptions = {
  servers: 10_000,
  origins: 200,
  connectionsPerServer: 10,
  hangingEvery: 50,
  timeoutMs: 5_000,
  batchSize: 100,
  parallelism: 16,
};

export async function runHealthCheckScenario(
  options: HealthCheckScaleOptions,
  trials: number,
  progress: (message: string) => void = () => {},
): Promise<ScenarioResult> {
  const started = performance.now();
  const results: HealthCheckScaleResult[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const result = await runHealthCheckScale(options, progress);
    results.push(result);
    progress(
      `trial ${
        trial + 1
      }/${trials}: cycle ${result.cycleMs} ms, ${result.invocations} invocations, ` +
        `${result.cpuPerInvocationMs} ms CPU each, ${result.writesPerBatch} writes per batch`,
    );
  }
  const complete = results.every((r) =>
    r.finished && r.probed === options.servers && r.serversReached === options.servers &&
    r.connectionsWritten === r.connections
  );
  const cycle = summarize(results.map((r) => r.cycleMs / 1000));
  const cpuAlone = summarize(results.map((r) => r.calibration.cpuMs));
  const cpuMean = summarize(results.map((r) => r.cpuPerInvocationMs));
  const rss = summarize(results.map((r) => r.functionPeakRssMb));
  const writes = summarize(results.map((r) => r.writesPerBatch));
  const perProbe = summarize(results.map((r) => r.calibration.cpuPerProbeMs));
  const oldCpuMs = perProbe.median * options.servers;
  const servers = `${
    options.servers.toLocaleString("en-US")
  } servers on ${options.origins} origins`;
  const figures: Figure[] = [
    {
      name: `health check cycle, ${servers}, 2 % hanging at ${options.timeoutMs / 1000} s`,
      unit: "s",
      project: { label: "the cycle (its row: started → finished)", summary: cycle },
      reference: null,
      ratio: null,
      ratioMeaning: "",
      target: `≤ ${CYCLE_LIMIT_S} s, every target probed`,
      met: complete && cycle.max <= CYCLE_LIMIT_S,
      notes: results.map((r, i) =>
        `trial ${i + 1}: ${r.probed}/${r.servers} probed, ${r.serversReached} reached, ` +
        `${r.connectionsWritten}/${r.connections} connections written`
      ),
    },
    {
      name: `CPU of one invocation (a batch of ${options.batchSize}, alone)`,
      unit: "ms",
      project: { label: "function host /proc, one invocation", summary: cpuAlone },
      reference: null,
      ratio: null,
      ratioMeaning: "",
      target: `≤ ${CPU_LIMIT_MS} ms`,
      met: cpuAlone.max <= CPU_LIMIT_MS,
      notes: [
        `${perProbe.median} ms per probe; in the cycle ${cpuMean.median} ms per invocation ` +
        `(the host's CPU / invocations)`,
        `the old single invocation would need ≈ ${(oldCpuMs / 1000).toFixed(1)} s of CPU ` +
        `(limit ${PLATFORM_CPU_MS / 1000} s: cut off after ≈ ${
          Math.floor(PLATFORM_CPU_MS / perProbe.median)
        } servers)`,
      ],
    },
    {
      name: "peak memory of the function host (all invocations together)",
      unit: "MB",
      project: { label: "VmHWM", summary: rss },
      reference: null,
      ratio: null,
      ratioMeaning: "",
      target: `≤ ${MEMORY_LIMIT_MB} MB`,
      met: rss.max <= MEMORY_LIMIT_MB,
      notes: ["an upper bound for any one invocation: they share the process locally"],
    },
    {
      name: "write statements per batch",
      unit: "statements",
      project: { label: "pg_stat_statements / batches", summary: writes },
      reference: null,
      ratio: null,
      ratioMeaning: "",
      target: `≤ ${MAX_WRITES_PER_BATCH}`,
      met: writes.max <= MAX_WRITES_PER_BATCH,
      notes: [],
    },
  ];
  const last = results.at(-1);
  return {
    id: "health",
    title: "Scheduled health check at scale",
    figures,
    details: [
      `${trials} trial(s), each on a fresh stack; batch size ${options.batchSize}, ` +
      `parallelism ${options.parallelism}; every connection's timeout ${options.timeoutMs} ms, ` +
      `retries 0.\n`,
      "| trial | cycle | batches | invocations | probed | unhealthy | skipped | CPU alone | CPU / invocation | peak RSS | writes / batch |",
      "|---|---|---|---|---|---|---|---|---|---|---|",
      ...results.map((r, i) =>
        `| ${i + 1} | ${
          (r.cycleMs / 1000).toFixed(1)
        } s | ${r.batches} | ${r.invocations} | ${r.probed} | ${r.unhealthy} | ${r.skipped} | ${r.calibration.cpuMs} ms | ${r.cpuPerInvocationMs} ms | ${r.functionPeakRssMb} MB | ${r.writesPerBatch} |`
      ),
      "",
      "Write statements of the last trial:\n",
      ...(last?.writes ?? []).map((w) => `- ${w.calls} × \`${w.query}\` (mean ${w.meanMs} ms)`),
    ].join("\n"),
    data: { results },
    durationSeconds: (performance.now() - started) / 1000,
  };
}
