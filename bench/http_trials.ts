/**
 * Side-by-side HTTP load trials: every trial runs each target once, in an order that rotates
 * from trial to trial, so that the project and its references share whatever else the machine
 * is doing. Each run is verified: every request answered 2xx, and (where the target says how)
 * the database holds exactly what was sent.
 */
import type { CpuMeter } from "./cpu.ts";
import { type LoadOutcome, loadProblem, type LoadSpec, runLoad } from "./load.ts";
import { median, summarize, type Summary } from "./stats.ts";

export interface HttpTarget {
  key: string;
  label: string;
  request: Pick<LoadSpec, "url" | "method" | "headers" | "body">;
  /**
   * Called before each run; returns the check to run after it (null: fine, else what is wrong),
   * e.g. a snapshot of usage totals and the comparison with what was sent.
   */
  verify?: () => Promise<(outcome: LoadOutcome) => Promise<string | null>>;
}

export interface HttpLoad {
  connections: number;
  /** Requests per run. */
  amount: number;
  maxSeconds: number;
  trials: number;
  /** Requests per target before the first trial (JIT, pools, caches). */
  warmUp: number;
  /** CPU per process group during each run, if given. */
  cpu?: CpuMeter;
}

export interface TargetRuns {
  target: HttpTarget;
  outcomes: LoadOutcome[];
  requestsPerSecond: Summary;
  latencyP50Ms: Summary;
  latencyP99Ms: Summary;
  /** Problems of individual runs (empty: every run verified). */
  problems: string[];
  /** Median over the runs of CPU milliseconds per request, by process group. */
  cpuMsPerRequest: Record<string, number>;
}

function spec(target: HttpTarget, load: HttpLoad, amount: number): LoadSpec {
  return {
    ...target.request,
    connections: Math.min(load.connections, amount),
    amount,
    maxSeconds: load.maxSeconds,
    timeoutSeconds: 30,
  };
}

export async function runHttpTrials(
  targets: readonly HttpTarget[],
  load: HttpLoad,
  progress: (message: string) => void = () => {},
): Promise<Map<string, TargetRuns>> {
  const outcomes = new Map<string, LoadOutcome[]>(targets.map((t) => [t.key, []]));
  const problems = new Map<string, string[]>(targets.map((t) => [t.key, []]));
  const cpu = new Map<string, Record<string, number>[]>(targets.map((t) => [t.key, []]));
  for (const target of targets) {
    if (load.warmUp <= 0) continue;
    const check = target.verify ? await target.verify() : null;
    const outcome = await runLoad(spec(target, load, load.warmUp));
    const problem = loadProblem(outcome, load.warmUp) ?? (check ? await check(outcome) : null);
    if (problem) problems.get(target.key)!.push(`warm-up: ${problem}`);
  }
  for (let trial = 0; trial < load.trials; trial++) {
    const order = targets.map((_, i) => targets[(i + trial) % targets.length]!);
    for (const target of order) {
      const check = target.verify ? await target.verify() : null;
      const meter = load.cpu ? await load.cpu() : null;
      const outcome = await runLoad(spec(target, load, load.amount));
      if (meter) {
        const used = await meter();
        cpu.get(target.key)!.push(
          Object.fromEntries(
            Object.entries(used).map(([group, ms]) => [group, ms / Math.max(1, outcome.completed)]),
          ),
        );
      }
      const problem = loadProblem(outcome, load.amount) ?? (check ? await check(outcome) : null);
      if (problem) problems.get(target.key)!.push(`trial ${trial + 1}: ${problem}`);
      outcomes.get(target.key)!.push(outcome);
      progress(
        `trial ${trial + 1}/${load.trials} ${target.label}: ${
          outcome.requestsPerSecond.toFixed(0)
        } req/s, p50 ${outcome.latencyMs.p50} ms${problem ? ` (${problem})` : ""}`,
      );
    }
  }
  return new Map(targets.map((target) => {
    const runs = outcomes.get(target.key)!;
    return [target.key, {
      target,
      outcomes: runs,
      requestsPerSecond: summarize(runs.map((o) => o.requestsPerSecond)),
      latencyP50Ms: summarize(runs.map((o) => o.latencyMs.p50)),
      latencyP99Ms: summarize(runs.map((o) => o.latencyMs.p99)),
      problems: problems.get(target.key)!,
      cpuMsPerRequest: medianByGroup(cpu.get(target.key)!),
    }];
  }));
}

function medianByGroup(samples: Record<string, number>[]): Record<string, number> {
  const groups = [...new Set(samples.flatMap((sample) => Object.keys(sample)))];
  return Object.fromEntries(
    groups.map((group) => [group, median(samples.map((sample) => sample[group] ?? 0))]),
  );
}

/** The runs of `key`; throws if the target was not run. */
export function runsOf(results: Map<string, TargetRuns>, key: string): TargetRuns {
  const runs = results.get(key);
  if (!runs) throw new Error(`no runs for ${key}`);
  return runs;
}

/** A Markdown table of every target's runs. */
export function httpRunsTable(results: Map<string, TargetRuns>, perRequest = 1): string {
  const lines = [
    "| target | runs | req/s median | req/s min | " + (perRequest > 1 ? "events/s p50 | " : "") +
    "latency p50 | latency p99 | verified |",
    "|---|---|---|---|" + (perRequest > 1 ? "---|" : "") + "---|---|---|",
  ];
  for (const runs of results.values()) {
    const cells = [
      runs.target.label,
      String(runs.outcomes.length),
      runs.requestsPerSecond.median.toFixed(0),
      runs.requestsPerSecond.min.toFixed(0),
      ...(perRequest > 1 ? [(runs.requestsPerSecond.median * perRequest).toFixed(0)] : []),
      `${runs.latencyP50Ms.median} ms`,
      `${runs.latencyP99Ms.median} ms`,
      runs.problems.length ? runs.problems.join("; ") : "yes",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** A Markdown table of CPU milliseconds per request by process group (medians of the runs). */
export function cpuTable(results: Map<string, TargetRuns>): string {
  const groups = [
    ...new Set([...results.values()].flatMap((runs) => Object.keys(runs.cpuMsPerRequest))),
  ];
  if (groups.length === 0) return "";
  const lines = [
    `| CPU ms per request | ${groups.join(" | ")} | all |`,
    `|---|${groups.map(() => "---").join("|")}|---|`,
  ];
  for (const runs of results.values()) {
    const values = groups.map((group) => runs.cpuMsPerRequest[group] ?? 0);
    const all = values.reduce((sum, value) => sum + value, 0);
    lines.push(
      `| ${runs.target.label} | ${values.map((v) => v.toFixed(2)).join(" | ")} | ${
        all.toFixed(2)
      } |`,
    );
  }
  return lines.join("\n");
}
