/**
 * One invocation of the health check. A cycle covers every active connection's
 * target once; it is cut in batches (SQL, in fair order) that each fit well inside
 * one invocation. An invocation:
 *
 *   1. starts a cycle (or resumes one whose invocations died) when called without
 *      `runId`, and then starts `parallelism - 1` more invocations for it;
 *   2. claims one batch of the cycle under a short lease (`for update skip locked`),
 *      renewed every few seconds while it works;
 *   3. reads the credentials of the batch's servers (one call) and probes the
 *      batch's targets with them (bounded concurrency overall and per origin, a
 *      deadline per probe, a budget for the batch);
 *   4. writes the batch's outcomes in one call (a fixed number of statements);
 *   5. starts one more invocation while batches are left to claim, so the cycle
 *      keeps `parallelism` invocations busy until it is done.
 *
 * An invocation that dies delays only its own batch: its lease runs out and a
 * later invocation (another lane of the cycle, or the next scheduled call, which
 * resumes the cycle) claims it again. Logs only transitions, plus one summary line.
 */
import type { DbClient } from "../db/db_client.ts";
import { AppError } from "../errors/app_error.ts";
import type { Logger } from "../log/logger.ts";
import type { Probe } from "../mcp/mod.ts";
import { CONNECTION_CONFIG_DEFAULTS } from "../schemas/connection_config.ts";
import {
  BATCH_LEASE_SECONDS,
  type HealthCheckRequest,
  type HealthCheckSummary,
  INVOCATION_RESERVE_MS,
  LEASE_RENEW_MS,
  WORKER_WALL_CLOCK_MS,
} from "../schemas/health_check.ts";
import {
  beginCycle,
  claimBatch,
  type CycleState,
  extendLease,
  InvocationOptions,
  loadTargets,
  recordBatch,
} from "./health_store.ts";
import {
  batchBudgetMs,
  longestFittingTimeoutMs,
  probeAll,
  type TargetOutcome,
} from "./probe_pool.ts";
import { readServerCredentials } from "../domain/server_credentials.ts";

export interface HealthCheckDeps {
  db: DbClient;
  /** The deployment's probe, its network policy bound in (`createProbe`). */
  probe: Probe;
  logger: Logger;
  /**
   * Starts another invocation of the function for the cycle (`POST {runId}`), without
   * waiting for it. Absent: this invocation works alone (the cycle's other batches wait
   * for the next call).
   */
  startInvocation?: (runId: string) => void;
  /**
   * How long this invocation's worker has lived, in ms: a batch's budget ends before the
   * worker's wall clock does. Default `performance.now()` (the isolate's age).
   */
  workerAgeMs?: () => number;
}

/** What the invocation may still spend probing, of its worker's wall clock. */
function wallClockLeftMs(deps: HealthCheckDeps): number {
  const age = deps.workerAgeMs?.() ?? performance.now();
  return WORKER_WALL_CLOCK_MS - age - INVOCATION_RESERVE_MS;
}

/** Counts of the targets a pool did not probe, by reason. */
function skipCounts(outcomes: TargetOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    if (o.status === "skipped") counts[o.reason] = (counts[o.reason] ?? 0) + 1;
  }
  return counts;
}

export async function runHealthCheck(
  request: HealthCheckRequest,
  deps: HealthCheckDeps,
): Promise<HealthCheckSummary> {
  const started = performance.now();
  if (request.dryRun) return await dryRun(request, deps, started);

  // 1. The cycle: the one named, or a new (or resumed) one.
  let runId = request.runId;
  let resumed = false;
  if (runId === undefined) {
    const begun = await beginCycle(deps.db, {
      serverIds: request.serverIds,
      connectionIds: request.connectionIds,
      maxTargetsPerOwner: request.maxTargetsPerOwner,
      maxAttemptsPerOrigin: request.maxAttemptsPerOrigin,
      leaseSeconds: BATCH_LEASE_SECONDS,
      batchSize: request.batchSize,
      failureThreshold: request.failureThreshold,
      retentionDays: request.retentionDays,
      longTimeoutMs: longestFittingTimeoutMs(request.budgetMs),
      defaultTimeoutMs: CONNECTION_CONFIG_DEFAULTS.timeout,
      probing: {
        concurrency: request.concurrency,
        perHostConcurrency: request.perHostConcurrency,
        budgetMs: request.budgetMs,
        parallelism: request.parallelism,
      },
    });
    if (begun.runId === null) {
      throw new AppError("run_in_progress", "A health check cycle is in progress.", {
        retryAfterSeconds: begun.retryAfterSeconds,
      });
    }
    runId = begun.runId;
    resumed = begun.resumed;
  }

  // 2. A batch, probed with the cycle's own options (whoever started it).
  //    (The lease is the cycle's own; this one only serves a cycle that has none.)
  const claim = await claimBatch(deps.db, runId, BATCH_LEASE_SECONDS);
  const options = { ...request, ...InvocationOptions.partial().parse(claim.run.options) };

  let invocationsStarted = 0;
  const fanOut = (count: number) => {
    if (!deps.startInvocation) return;
    for (let i = 0; i < count; i++) deps.startInvocation(runId);
    invocationsStarted += count;
  };
  // The call that opened (or resumed) the cycle opens its other lanes.
  if (request.runId === undefined) {
    fanOut(Math.min(options.parallelism - 1, claim.run.claimable));
  }

  let state: CycleState = claim.run;
  let becameUnhealthy = 0;
  let becameHealthy = 0;
  let batchSummary: HealthCheckSummary["batch"] = null;
  if (claim.batch !== null) {
    const batch = claim.batch;
    // 3. Probe, renewing the lease meanwhile.
    const renewal = setInterval(() => {
      extendLease(deps.db, batch.id, batch.claim).then((held) => {
        if (!held) deps.logger.warn("health check batch lease lost", { runId, batch: batch.id });
      }).catch((error) => {
        deps.logger.warn("health check batch lease not renewed", {
          runId,
          batch: batch.id,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }, LEASE_RENEW_MS);
    let outcomes: TargetOutcome[];
    try {
      outcomes = await probeAll(batch.targets, {
        concurrency: options.concurrency,
        perHostConcurrency: options.perHostConcurrency,
        budgetMs: batchBudgetMs(batch.targets, options.budgetMs, wallClockLeftMs(deps)),
        probe: deps.probe,
        credentials: await readServerCredentials(deps.db, batch.targets.map((t) => t.serverId)),
      });
    } finally {
      clearInterval(renewal);
    }
    const probed = outcomes.flatMap((o) => (o.status === "probed" ? [o] : []));

    // 4. Write.
    const recorded = await recordBatch(deps.db, {
      batchId: batch.id,
      claim: batch.claim,
      results: probed.map((o) => ({
        serverId: o.target.serverId,
        targetKey: o.target.targetKey,
        result: o.result,
      })),
      skipped: skipCounts(outcomes),
    });
    state = recorded.run;
    batchSummary = {
      batchNo: batch.batchNo,
      attempt: batch.attempt,
      targets: batch.targets.length,
      probed: probed.length,
    };
    const byTarget = new Map(probed.map((o) => [`${o.target.serverId}/${o.target.targetKey}`, o]));
    for (const transition of recorded.transitions) {
      becameUnhealthy += transition.becameUnhealthy;
      becameHealthy += transition.becameHealthy;
      const outcome = byTarget.get(`${transition.serverId}/${transition.targetKey}`);
      const fields = {
        runId,
        serverId: transition.serverId,
        url: outcome?.target.url,
        connections: transition.becameUnhealthy + transition.becameHealthy,
        error: outcome?.result.error ?? null,
      };
      if (transition.becameUnhealthy > 0) deps.logger.warn("mcp server became unhealthy", fields);
      if (transition.becameHealthy > 0) deps.logger.info("mcp server recovered", fields);
    }
    // 5. Keep the lane going while work is left.
    if (state.claimable > 0) fanOut(1);
  }

  const result: HealthCheckSummary = {
    runId,
    dryRun: false,
    resumed,
    connections: state.connections,
    servers: state.servers,
    targets: state.targets,
    probed: state.probed,
    healthy: state.healthy,
    unhealthy: state.unhealthy,
    skipped: state.skipped,
    skipReasons: state.skipReasons,
    batches: state.batches,
    batchesDone: state.batchesDone,
    finished: state.finishedAt !== null,
    batch: batchSummary,
    invocationsStarted,
    becameUnhealthy,
    becameHealthy,
    durationMs: Math.round(performance.now() - started),
  };
  deps.logger.info("health check invocation", { ...result, skipReasons: undefined });
  return result;
}

/**
 * A dry run: the cycle's targets in order, and the first batch of them probed;
 * nothing is written and no cycle starts.
 */
async function dryRun(
  request: HealthCheckRequest,
  deps: HealthCheckDeps,
  started: number,
): Promise<HealthCheckSummary> {
  const targets = await loadTargets(deps.db, request, request);
  const eligible = targets.filter((t) => t.skipReason === null);
  const batch = eligible.slice(0, request.batchSize);
  const outcomes = await probeAll(batch, {
    concurrency: request.concurrency,
    perHostConcurrency: request.perHostConcurrency,
    budgetMs: batchBudgetMs(batch, request.budgetMs, wallClockLeftMs(deps)),
    probe: deps.probe,
    credentials: await readServerCredentials(deps.db, batch.map((t) => t.serverId)),
  });
  const probed = outcomes.flatMap((o) => (o.status === "probed" ? [o] : []));
  const healthy = probed.filter((o) => o.result.success).length;
  const skipReasons = skipCounts(outcomes);
  for (const t of targets) {
    if (t.skipReason !== null) skipReasons[t.skipReason] = (skipReasons[t.skipReason] ?? 0) + 1;
  }
  if (eligible.length > batch.length) skipReasons.dry_run_limit = eligible.length - batch.length;
  const result: HealthCheckSummary = {
    runId: null,
    dryRun: true,
    resumed: false,
    connections: targets.reduce((sum, t) => sum + t.connections, 0),
    servers: new Set(targets.map((t) => t.serverId)).size,
    targets: targets.length,
    probed: probed.length,
    healthy,
    unhealthy: probed.length - healthy,
    skipped: targets.length - probed.length,
    skipReasons,
    batches: 1,
    batchesDone: 1,
    finished: true,
    batch: { batchNo: 0, attempt: 1, targets: batch.length, probed: probed.length },
    invocationsStarted: 0,
    becameUnhealthy: 0,
    becameHealthy: 0,
    durationMs: Math.round(performance.now() - started),
  };
  deps.logger.info("health check dry run", { ...result, skipReasons: undefined });
  return result;
}
