/**
 * The health check's database calls, as service_role (RLS bypassed): a cycle's
 * targets in fair order (dry runs), starting or resuming a cycle, claiming one of
 * its batches under a lease, and the one call that writes a batch's outcomes.
 */
import type { DbClient } from "../db/db_client.ts";
import { z } from "zod";
import { fromPostgrest, PG } from "../db/postgrest_errors.ts";
import { AppError } from "../errors/app_error.ts";
import type { ProbeTarget } from "./probe_pool.ts";

const ProbeConfig = z.object({
  timeout: z.number().optional(),
  retryAttempts: z.number().optional(),
  customHeaders: z.record(z.string(), z.string()).optional(),
});

const TargetRow = z.object({
  mcp_server_instance_id: z.string(),
  owner_id: z.string(),
  target_key: z.string(),
  mcp_server_url: z.string().nullable(),
  probe_config: ProbeConfig,
  connections: z.number(),
  skip_reason: z.string().nullable(),
});

export interface TargetFilter {
  serverIds?: string[];
  connectionIds?: string[];
}

export interface FairnessCaps {
  maxTargetsPerOwner: number;
  maxAttemptsPerOrigin: number;
}

export interface RankedTarget extends ProbeTarget {
  /** Why the cycle would skip it (server not running, owner cap, origin budget...). */
  skipReason: string | null;
}

/** The distinct targets of the active connections the filter selects, in probing order. */
export async function loadTargets(
  db: DbClient,
  filter: TargetFilter,
  caps: FairnessCaps,
): Promise<RankedTarget[]> {
  const { data, error, status } = await db.rpc("mcp_health_check_targets", {
    p_server_ids: filter.serverIds ?? null,
    p_connection_ids: filter.connectionIds ?? null,
    p_max_targets_per_owner: caps.maxTargetsPerOwner,
    p_max_attempts_per_origin: caps.maxAttemptsPerOrigin,
    p_seed: crypto.randomUUID(),
  });
  if (error) throw fromPostgrest({ error, status }, "loading health check targets");
  return z.array(TargetRow).parse(data).map((row) => ({
    serverId: row.mcp_server_instance_id,
    ownerId: row.owner_id,
    targetKey: row.target_key,
    url: row.mcp_server_url,
    probeConfig: row.probe_config,
    connections: row.connections,
    skipReason: row.skip_reason,
  }));
}

export interface CycleOptions extends TargetFilter, FairnessCaps {
  leaseSeconds: number;
  batchSize: number;
  failureThreshold: number;
  retentionDays: number;
  /** How invocations of the cycle probe: kept with the cycle for its other invocations. */
  probing: InvocationOptions;
  /**
   * Targets whose timeout (or `defaultTimeoutMs`, for a config without one) is longer than
   * this get batches of their own, whose budget is their timeout (a batch's budget is too short).
   */
  longTimeoutMs: number;
  defaultTimeoutMs: number;
}

/** What every invocation of a cycle uses, whoever started it. */
export const InvocationOptions = z.object({
  concurrency: z.number().int(),
  perHostConcurrency: z.number().int(),
  budgetMs: z.number().int(),
  parallelism: z.number().int(),
});
export type InvocationOptions = z.infer<typeof InvocationOptions>;

export type BeginOutcome =
  | { runId: string; resumed: boolean }
  | { runId: null; retryAfterSeconds: number };

const BeginRow = z.object({
  run_id: z.string().nullable(),
  resumed: z.boolean(),
  retry_after_seconds: z.number().nullable(),
});

/** Starts a cycle, or resumes one whose invocations died; runId null while one is live. */
export async function beginCycle(db: DbClient, options: CycleOptions): Promise<BeginOutcome> {
  const { data, error, status } = await db.rpc("begin_mcp_health_check_run", {
    p_lease_seconds: options.leaseSeconds,
    p_batch_size: options.batchSize,
    p_server_ids: options.serverIds ?? null,
    p_connection_ids: options.connectionIds ?? null,
    p_max_targets_per_owner: options.maxTargetsPerOwner,
    p_max_attempts_per_origin: options.maxAttemptsPerOrigin,
    p_failure_threshold: options.failureThreshold,
    p_retention_days: options.retentionDays,
    p_options: {
      ...options.probing,
      longTimeoutMs: options.longTimeoutMs,
      defaultTimeoutMs: options.defaultTimeoutMs,
    },
  });
  if (error) throw fromPostgrest({ error, status }, "starting a health check cycle");
  const [row] = z.array(BeginRow).length(1).parse(data);
  if (row!.run_id === null) {
    return { runId: null, retryAfterSeconds: row!.retry_after_seconds ?? 1 };
  }
  return { runId: row!.run_id, resumed: row!.resumed };
}

/** Where a cycle stands (mcp_health_check_run_state). */
export const CycleState = z.object({
  runId: z.string(),
  finishedAt: z.string().nullable(),
  connections: z.number().int(),
  servers: z.number().int(),
  targets: z.number().int(),
  batches: z.number().int(),
  batchesDone: z.number().int(),
  probed: z.number().int(),
  healthy: z.number().int(),
  unhealthy: z.number().int(),
  skipped: z.number().int(),
  skipReasons: z.record(z.string(), z.number().int()),
  options: z.record(z.string(), z.unknown()),
  /** Batches another invocation could claim now. */
  claimable: z.number().int(),
});
export type CycleState = z.infer<typeof CycleState>;

const BatchTarget = z.object({
  serverId: z.string(),
  ownerId: z.string(),
  targetKey: z.string(),
  url: z.string().nullable(),
  probeConfig: ProbeConfig,
  connections: z.number().int(),
  /** The era and transport of the target's last success, if any. */
  hint: z.object({ era: z.string().nullable(), transport: z.string().nullable() }).nullable()
    .optional(),
});

const Claim = z.object({
  batch: z.object({
    id: z.number().int(),
    batchNo: z.number().int(),
    claim: z.string(),
    attempt: z.number().int(),
    targets: z.array(BatchTarget),
  }).nullable(),
  run: CycleState,
});
export type Claim = z.infer<typeof Claim>;

/** Claims the cycle's next batch under a lease; `batch` is null when none is left to claim. */
export async function claimBatch(
  db: DbClient,
  runId: string,
  leaseSeconds: number,
): Promise<Claim> {
  const { data, error, status } = await db.rpc("claim_mcp_health_check_batch", {
    p_run_id: runId,
    p_lease_seconds: leaseSeconds,
  });
  if (error) {
    if (error.code === PG.noDataFound) {
      throw new AppError("health_check_run_not_found", `No health check cycle ${runId}.`);
    }
    throw fromPostgrest({ error, status }, "claiming a health check batch");
  }
  return Claim.parse(data);
}

/** Renews a claim's lease; false when the claim no longer holds the batch. */
export async function extendLease(
  db: DbClient,
  batchId: number,
  claim: string,
): Promise<boolean> {
  const { data, error, status } = await db.rpc("extend_mcp_health_check_batch_lease", {
    p_batch_id: batchId,
    p_claim: claim,
  });
  if (error) throw fromPostgrest({ error, status }, "renewing a health check batch lease");
  return z.boolean().parse(data);
}

const Recorded = z.object({
  transitions: z.array(z.object({
    serverId: z.string(),
    targetKey: z.string(),
    becameUnhealthy: z.number().int(),
    becameHealthy: z.number().int(),
  })),
  run: CycleState,
});
export type Recorded = z.infer<typeof Recorded>;

export interface BatchRecord {
  batchId: number;
  claim: string;
  results: { serverId: string; targetKey: string; result: unknown }[];
  /** Targets of the batch not probed, by reason. */
  skipped: Record<string, number>;
}

/** Writes a batch's outcomes (a fixed number of statements in one call). */
export async function recordBatch(db: DbClient, record: BatchRecord): Promise<Recorded> {
  const { data, error, status } = await db.rpc("record_mcp_health_check_batch", {
    p_batch_id: record.batchId,
    p_claim: record.claim,
    p_results: record.results,
    p_skipped: record.skipped,
  });
  if (error) {
    if (error.code === PG.wrongState) {
      throw new AppError("run_superseded", error.message);
    }
    throw fromPostgrest({ error, status }, "recording a health check batch");
  }
  return Recorded.parse(data);
}
