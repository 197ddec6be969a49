/**
 * Usage recording on one hot connection: the function's `POST /connections/:id/usage` beside a
 * direct PostgREST call of `record_agent_mcp_connection_usage` (through the same gateway, and
 * without it), one event per request; then batches of 1000 events, the function beside the same
 * RPC. After every load run the connection's usage_stats must have grown by exactly what the
 * 2xx responses carried: requests, successes, failures, response time and bytes.
 */
import postgres from "postgres";
import type { Fixture } from "../fixture.ts";
import { type Figure, type ScenarioResult, throughputFigure } from "../figures.ts";
import {
  cpuTable,
  type HttpLoad,
  httpRunsTable,
  runHttpTrials,
  runsOf,
  type TargetRuns,
} from "../http_trials.ts";
import type { LoadOutcome } from "../load.ts";
import { mintUserToken } from "../../scripts/stack/keys.ts";
import type { RunningStack } from "../../scripts/stack/stack.ts";

const SINGLE_TARGET_RATIO = 0.8;
const BATCH_TARGET_EVENTS_PER_SECOND = 20_000;
const BATCH_SIZE = 1000;

interface UsageEvent {
  success: boolean;
  responseTimeMs: number;
  bytesTransferred: number;
}

interface Totals {
  totalRequests: number;
  successfulRequests: number;
  failedRequests: number;
  totalResponseTime: number;
  bytesTransferred: number;
}

const STAT_NAMES: readonly (keyof Totals)[] = [
  "totalRequests",
  "successfulRequests",
  "failedRequests",
  "totalResponseTime",
  "bytesTransferred",
];

export interface UsageOptions {
  stack: Pick<RunningStack, "url" | "restUrl" | "keys" | "dbUrl">;
  fixture: Fixture;
  single: HttpLoad;
  batch: HttpLoad;
  progress?: (message: string) => void;
}

function totalsOf(events: readonly UsageEvent[]): Totals {
  return {
    totalRequests: events.length,
    successfulRequests: events.filter((e) => e.success).length,
    failedRequests: events.filter((e) => !e.success).length,
    totalResponseTime: events.reduce((sum, e) => sum + e.responseTimeMs, 0),
    bytesTransferred: events.reduce((sum, e) => sum + e.bytesTransferred, 0),
  };
}

/** A batch with failures and varied numbers, so that every total is checked. */
function batchEvents(): UsageEvent[] {
  return Array.from({ length: BATCH_SIZE }, (_, i) => ({
    success: i % 10 !== 0,
    responseTimeMs: i % 500,
    bytesTransferred: i * 37,
  }));
}

export async function runUsageScenario(options: UsageOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const { stack, fixture } = options;
  const id = fixture.hotConnectionId;
  const token = await mintUserToken({
    sub: fixture.typical.id,
    secret: stack.keys.jwtSecret,
    expiresIn: 3600,
  });
  const headers = {
    apikey: stack.keys.publishableKey,
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
  };
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });

  const readTotals = async (): Promise<Totals> => {
    const [row] = await sql<[{ usage_stats: Record<string, unknown> }]>`
      select usage_stats from public.agent_mcp_connections where id = ${id}`;
    const stats = row.usage_stats;
    return Object.fromEntries(
      STAT_NAMES.map((name) => [name, Number(stats[name] ?? 0)]),
    ) as unknown as Totals;
  };
  /** Snapshot before a run; after it, the totals must have grown by what the 2xx carried. */
  const exactTotals = (events: readonly UsageEvent[]) => async () => {
    const before = await readTotals();
    const perRequest = totalsOf(events);
    return async (outcome: LoadOutcome): Promise<string | null> => {
      const after = await readTotals();
      const wrong = STAT_NAMES.filter((name) =>
        after[name] - before[name] !== perRequest[name] * outcome.ok
      );
      if (wrong.length === 0) return null;
      return wrong.map((name) =>
        `${name} grew by ${after[name] - before[name]}, expected ${perRequest[name] * outcome.ok}`
      ).join(", ");
    };
  };

  const functionUrl = `${stack.url}/functions/v1/mcp-connections/connections/${id}/usage`;
  const rpcPath = "/rpc/record_agent_mcp_connection_usage";
  const targets = (events: UsageEvent[], functionBody: unknown, suffix: string) => [
    {
      key: "function",
      label: `function POST /connections/:id/usage${suffix}`,
      request: {
        url: functionUrl,
        method: "POST" as const,
        headers,
        body: JSON.stringify(functionBody),
      },
      verify: exactTotals(events),
    },
    {
      key: "gateway",
      label: `PostgREST RPC via the gateway${suffix}`,
      request: {
        url: `${stack.url}/rest/v1${rpcPath}`,
        method: "POST" as const,
        headers,
        body: JSON.stringify({ p_connection_id: id, p_events: events }),
      },
      verify: exactTotals(events),
    },
    {
      key: "direct",
      label: `PostgREST RPC direct${suffix}`,
      request: {
        url: `${stack.restUrl}${rpcPath}`,
        method: "POST" as const,
        headers,
        body: JSON.stringify({ p_connection_id: id, p_events: events }),
      },
      verify: exactTotals(events),
    },
  ];

  try {
    const event: UsageEvent = { success: true, responseTimeMs: 42, bytesTransferred: 1024 };
    const single = await runHttpTrials(
      targets([event], event, ""),
      options.single,
      options.progress,
    );
    const batch = batchEvents();
    const batched = await runHttpTrials(
      targets(batch, { events: batch }, ` (${BATCH_SIZE} events)`).slice(0, 2),
      options.batch,
      options.progress,
    );

    const verified = (...runs: TargetRuns[]) => runs.every((r) => r.problems.length === 0);
    const side = (label: string, runs: TargetRuns, scale = 1) => ({
      label,
      summary: {
        ...runs.requestsPerSecond,
        median: runs.requestsPerSecond.median * scale,
        p95: runs.requestsPerSecond.p95 * scale,
        min: runs.requestsPerSecond.min * scale,
        max: runs.requestsPerSecond.max * scale,
      },
    });
    const latency = (runs: TargetRuns) =>
      `p50 ${runs.latencyP50Ms.median} ms, p99 ${runs.latencyP99Ms.median} ms`;
    const fn = runsOf(single, "function");
    const gateway = runsOf(single, "gateway");
    const direct = runsOf(single, "direct");
    const singleFigure = throughputFigure({
      name: `usage, single events (${options.single.connections} connections, one row)`,
      project: side("function", fn),
      reference: side("PostgREST RPC via the gateway", gateway),
      target: `≥ ${SINGLE_TARGET_RATIO}× the throughput`,
      met: null,
      notes: [
        `function ${latency(fn)}; RPC ${latency(gateway)}`,
        verified(fn, gateway, direct) ? "totals exact after every run" : "NOT VERIFIED",
      ],
    });
    singleFigure.met = verified(fn, gateway) && (singleFigure.ratio ?? 0) >= SINGLE_TARGET_RATIO;
    const directFigure = throughputFigure({
      name: "usage, single events vs PostgREST RPC direct",
      project: side("function", fn),
      reference: side("PostgREST RPC direct (no gateway)", direct),
      target: "(informative)",
      met: null,
      notes: [`RPC direct ${latency(direct)}`],
    });
    const batchFn = runsOf(batched, "function");
    const batchRpc = runsOf(batched, "gateway");
    const batchFigure = throughputFigure({
      name: `usage, batches of ${BATCH_SIZE} (${options.batch.connections} connections)`,
      unit: "events/s",
      project: side("function", batchFn, BATCH_SIZE),
      reference: side("PostgREST RPC via the gateway", batchRpc, BATCH_SIZE),
      target: `≥ ${BATCH_TARGET_EVENTS_PER_SECOND.toLocaleString("en-US")} events/s, exact totals`,
      met: null,
      notes: [
        `function ${latency(batchFn)} per batch; RPC ${latency(batchRpc)}`,
        verified(batchFn, batchRpc) ? "totals exact after every run" : "NOT VERIFIED",
      ],
    });
    batchFigure.met = verified(batchFn) &&
      batchFn.requestsPerSecond.median * BATCH_SIZE >= BATCH_TARGET_EVENTS_PER_SECOND;
    const figures: Figure[] = [singleFigure, directFigure, batchFigure];
    const final = await readTotals();
    const details = [
      `Hot connection \`${id}\` (user \`${fixture.typical.id}\`). After every run the ` +
      "connection's usage_stats (read with SQL) grew by exactly the events of the 2xx " +
      "responses: totalRequests, successfulRequests, failedRequests, totalResponseTime, " +
      "bytesTransferred.\n",
      `Single events: \`${JSON.stringify(event)}\`; ${options.single.trials} trials of ` +
      `${options.single.amount} requests on ${options.single.connections} connections.\n`,
      httpRunsTable(single),
      "",
      cpuTable(single),
      "",
      `Batches of ${BATCH_SIZE} events (10% failures, varied times and sizes); ` +
      `${options.batch.trials} trials of ${options.batch.amount} batches on ` +
      `${options.batch.connections} connections.\n`,
      httpRunsTable(batched, BATCH_SIZE),
      "",
      cpuTable(batched),
      "",
      `Totals at the end: \`${JSON.stringify(final)}\`.`,
    ].join("\n");
    return {
      id: "usage",
      title: "Usage recording on one hot connection",
      figures,
      details,
      data: {
        single: Object.fromEntries([...single].map(([key, runs]) => [key, runs.outcomes])),
        batch: Object.fromEntries([...batched].map(([key, runs]) => [key, runs.outcomes])),
        finalTotals: final,
      },
      durationSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await sql.end();
  }
}
