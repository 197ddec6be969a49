/**
 * The health check's database calls, as service_role (RLS bypassed): the targets
 * to probe, the run lease, and the one call that writes a run's outcomes.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { z } from "zod";
import { fromPostgrest, PG } from "../db/postgrest_errors.ts";
import { AppError } from "../errors/app_error.ts";
import type { ProbeTarget } from "./probe_pool.ts";

const TargetRow = z.object({
  mcp_server_instance_id: z.string(),
  target_key: z.string(),
  mcp_server_url: z.string().nullable(),
  probe_config: z.object({
    timeout: z.number().optional(),
    retryAttempts: z.number().optional(),
    customHeaders: z.record(z.string(), z.string()).optional(),
  }),
  connections: z.number(),
});

export interface TargetFilter {
  serverIds?: string[];
  connectionIds?: string[];
}

/** The distinct targets of the active connections the filter selects. */
export async function loadTargets(
  db: SupabaseClient,
  filter: TargetFilter,
): Promise<ProbeTarget[]> {
  const { data, error, status } = await db.rpc("mcp_health_check_targets", {
    p_server_ids: filter.serverIds ?? null,
    p_connection_ids: filter.connectionIds ?? null,
  });
  if (error) throw fromPostgrest({ error, status }, "loading health check targets");
  return z.array(TargetRow).parse(data).map((row) => ({
    serverId: row.mcp_server_instance_id,
    targetKey: row.target_key,
    url: row.mcp_server_url,
    probeConfig: row.probe_config,
    connections: row.connections,
  }));
}

/** Starts a run; null when another run holds a live lease. */
export async function beginRun(db: SupabaseClient, leaseSeconds: number): Promise<string | null> {
  const { data, error, status } = await db.rpc("begin_mcp_health_check_run", {
    p_lease_seconds: leaseSeconds,
  });
  if (error) throw fromPostgrest({ error, status }, "starting a health check run");
  return z.string().nullable().parse(data);
}

export interface RunRecord {
  runId: string;
  results: { serverId: string; targetKey: string; result: unknown }[];
  summary: Record<string, number>;
  filter: TargetFilter;
  failureThreshold: number;
  retentionDays: number;
}

export interface TargetTransition {
  serverId: string;
  targetKey: string;
  becameUnhealthy: number;
  becameHealthy: number;
}

const TransitionRow = z.object({
  mcp_server_instance_id: z.string(),
  target_key: z.string(),
  became_unhealthy: z.number(),
  became_healthy: z.number(),
});

/** Writes the run's outcomes (a few set-based statements in one call) and ends the run. */
export async function recordRun(
  db: SupabaseClient,
  record: RunRecord,
): Promise<TargetTransition[]> {
  const { data, error, status } = await db.rpc("record_mcp_health_check_run", {
    p_run_id: record.runId,
    p_results: record.results,
    p_summary: record.summary,
    p_server_ids: record.filter.serverIds ?? null,
    p_connection_ids: record.filter.connectionIds ?? null,
    p_failure_threshold: record.failureThreshold,
    p_retention_days: record.retentionDays,
  });
  if (error) {
    if (error.code === PG.wrongState) {
      throw new AppError("run_superseded", error.message);
    }
    throw fromPostgrest({ error, status }, "recording a health check run");
  }
  return z.array(TransitionRow).parse(data).map((row) => ({
    serverId: row.mcp_server_instance_id,
    targetKey: row.target_key,
    becameUnhealthy: row.became_unhealthy,
    becameHealthy: row.became_healthy,
  }));
}
