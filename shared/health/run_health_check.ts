/**
 * One health check run: take the run lease, load the distinct targets of the
 * active connections, probe each target once (bounded concurrency, per-probe
 * deadlines, an overall budget), write every outcome back in one call, and log
 * only what changed (targets whose connections turned unhealthy or recovered),
 * plus one summary line.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { AppError } from "../errors/app_error.ts";
import type { Logger } from "../http/logger.ts";
import type { ProbeOptions } from "../mcp/probe_options.ts";
import type { HealthCheckRequest, HealthCheckSummary } from "../schemas/health_check.ts";
import type { ConnectionTestResult } from "../schemas/test_result.ts";
import { beginRun, loadTargets, recordRun, type TargetFilter } from "./health_store.ts";
import { probeAll } from "./probe_pool.ts";

export interface HealthCheckDeps {
  db: SupabaseClient;
  probe: (url: string, options: ProbeOptions) => Promise<ConnectionTestResult>;
  logger: Logger;
}

/** Seconds a run's lease outlives its probing budget (time to write). */
const LEASE_MARGIN_SECONDS = 60;

export async function runHealthCheck(
  request: HealthCheckRequest,
  deps: HealthCheckDeps,
): Promise<HealthCheckSummary> {
  const started = performance.now();
  const filter: TargetFilter = {
    serverIds: request.serverIds,
    connectionIds: request.connectionIds,
  };

  const leaseSeconds = Math.ceil(request.budgetMs / 1000) + LEASE_MARGIN_SECONDS;
  const runId = request.dryRun ? null : await beginRun(deps.db, leaseSeconds);
  if (!request.dryRun && runId === null) {
    throw new AppError("run_in_progress", "Another health check run is in progress.", {
      retryAfterSeconds: leaseSeconds,
    });
  }

  const targets = await loadTargets(deps.db, filter);
  const outcomes = await probeAll(targets, {
    concurrency: request.concurrency,
    perHostConcurrency: request.perHostConcurrency,
    budgetMs: request.budgetMs,
    probe: deps.probe,
  });

  const probed = outcomes.flatMap((o) => (o.status === "probed" ? [o] : []));
  const healthy = probed.filter((o) => o.result.success).length;
  const summary = {
    connections: targets.reduce((sum, t) => sum + t.connections, 0),
    servers: new Set(targets.map((t) => t.serverId)).size,
    targets: targets.length,
    probed: probed.length,
    healthy,
    unhealthy: probed.length - healthy,
    skipped: outcomes.length - probed.length,
  };

  let becameUnhealthy = 0;
  let becameHealthy = 0;
  if (runId !== null) {
    const transitions = await recordRun(deps.db, {
      runId,
      results: probed.map((o) => ({
        serverId: o.target.serverId,
        targetKey: o.target.targetKey,
        result: o.result,
      })),
      summary: { ...summary, durationMs: Math.round(performance.now() - started) },
      filter,
      failureThreshold: request.failureThreshold,
      retentionDays: request.retentionDays,
    });
    const byTarget = new Map(probed.map((o) => [`${o.target.serverId}/${o.target.targetKey}`, o]));
    for (const transition of transitions) {
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
  }

  const result: HealthCheckSummary = {
    runId,
    dryRun: request.dryRun,
    ...summary,
    becameUnhealthy,
    becameHealthy,
    durationMs: Math.round(performance.now() - started),
  };
  deps.logger.info("health check run", { ...result });
  return result;
}
