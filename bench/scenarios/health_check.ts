/**
 * The scheduled health check at scale, beside its time limit: 10,000 connections on 200 MCP
 * servers on 127.0.0.1, 20 of them hanging, every connection with the same timeout (so the
 * slowest configured timeout is that one). bench/health_check_scale.ts (runHealthCheckScale)
 * starts a stack of its own per trial and counts write statements with pg_stat_statements.
 */
import {
  type HealthCheckScaleOptions,
  type HealthCheckScaleResult,
  runHealthCheckScale,
} from "../health_check_scale.ts";
import type { Figure, ScenarioResult } from "../figures.ts";
import { summarize } from "../stats.ts";

const SLACK_MS = 3_000;
const MAX_WRITES = 10;

export const HEALTH_CHECK_SCALE: HealthCheckScaleOptions = {
  connections: 10_000,
  servers: 200,
  hanging: 20,
  timeoutMs: 5_000,
};

export async function runHealthCheckScenario(
  options: HealthCheckScaleOptions,
  trials: number,
  progress: (message: string) => void = () => {},
): Promise<ScenarioResult> {
  const started = performance.now();
  const results: HealthCheckScaleResult[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const result = await runHealthCheckScale(options);
    results.push(result);
    progress(
      `trial ${trial + 1}/${trials}: ${result.wallMs} ms, ${result.writeStatements} writes, ` +
        `${result.probesSeen} probes seen`,
    );
  }
  const wall = summarize(results.map((r) => r.wallMs / 1000));
  const writes = summarize(results.map((r) => r.writeStatements));
  const limit = summarize(results.map((r) => r.timeoutMs / 1000));
  const complete = results.every((r) =>
    r.probesSeen === options.servers && r.summary.probed === options.servers &&
    r.connectionsWritten === options.connections && r.summary.connections === options.connections
  );
  const problems = results.flatMap((r, i) => {
    const found: string[] = [];
    if (r.probesSeen !== options.servers) {
      found.push(`trial ${i + 1}: servers saw ${r.probesSeen} probes`);
    }
    if (r.connectionsWritten !== options.connections) {
      found.push(`trial ${i + 1}: ${r.connectionsWritten} connections written`);
    }
    return found;
  });
  const worstWallMs = Math.max(...results.map((r) => r.wallMs));
  const timeFigure: Figure = {
    name: `health check, ${options.connections.toLocaleString("en-US")} connections on ` +
      `${options.servers} servers, ${options.hanging} hanging`,
    unit: "s",
    project: { label: "the run (HTTP call)", summary: wall },
    reference: { label: "the slowest configured timeout", summary: limit },
    ratio: wall.median / limit.median,
    ratioMeaning: "× the timeout",
    target: `≤ timeout + ${SLACK_MS / 1000} s (${(options.timeoutMs + SLACK_MS) / 1000} s)`,
    met: complete && worstWallMs <= options.timeoutMs + SLACK_MS,
    notes: [
      `slowest trial ${(worstWallMs / 1000).toFixed(1)} s`,
      complete
        ? `each server probed once; all ${options.connections} connections written`
        : problems.join("; "),
    ],
  };
  const writeFigure: Figure = {
    name: "health check, write statements per run",
    unit: "statements",
    project: { label: "pg_stat_statements", summary: writes },
    reference: null,
    ratio: null,
    ratioMeaning: "",
    target: `≤ ${MAX_WRITES}`,
    met: writes.max <= MAX_WRITES,
    notes: [],
  };
  const last = results.at(-1);
  return {
    id: "health",
    title: "Scheduled health check at scale",
    figures: [timeFigure, writeFigure],
    details: [
      `${trials} trial(s), each on a fresh stack; every connection's timeout ` +
      `${options.timeoutMs} ms, retries 0.\n`,
      "| trial | HTTP call | in the function | probes made / seen | healthy | unhealthy | skipped | write statements |",
      "|---|---|---|---|---|---|---|---|",
      ...results.map((r, i) =>
        `| ${i + 1} | ${(r.wallMs / 1000).toFixed(2)} s | ${
          (r.summary.durationMs / 1000).toFixed(2)
        } s | ${r.summary.probed} / ${r.probesSeen} | ${r.summary.healthy} | ${r.summary.unhealthy} | ${r.summary.skipped} | ${r.writeStatements} |`
      ),
      "",
      "Write statements of the last trial:\n",
      ...(last?.writes ?? []).map((w) => `- ${w.calls} × \`${w.query}\``),
    ].join("\n"),
    data: { results },
    durationSeconds: (performance.now() - started) / 1000,
  };
}
