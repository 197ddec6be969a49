/** The mcp-health-check function's request options and its run summary. */
import { z } from "zod";
import { Uuid } from "./ids.ts";

export const HEALTH_CHECK_DEFAULTS = {
  concurrency: 32,
  perHostConcurrency: 4,
  /** Stays inside Supabase's 150 s wall clock (free plan) with room to write. */
  budgetMs: 120_000,
  failureThreshold: 3,
  retentionDays: 14,
} as const;

/** Options of one run; every one optional. */
export const HealthCheckRequest = z.strictObject({
  /** Only connections to these MCP servers. */
  serverIds: z.array(Uuid).min(1).max(1_000).optional(),
  /** Only these connections. */
  connectionIds: z.array(Uuid).min(1).max(10_000).optional(),
  /** Probe and report, but write nothing (and take no run lease). */
  dryRun: z.boolean().default(false),
  /** Probes in flight at once. */
  concurrency: z.number().int().min(1).max(100).default(HEALTH_CHECK_DEFAULTS.concurrency),
  /** Probes in flight at once against one origin (scheme, host and port). */
  perHostConcurrency: z.number().int().min(1).max(32).default(
    HEALTH_CHECK_DEFAULTS.perHostConcurrency,
  ),
  /** Wall-clock budget of the probing, in ms: a probe that cannot finish inside it is skipped. */
  budgetMs: z.number().int().min(1_000).max(140_000).default(HEALTH_CHECK_DEFAULTS.budgetMs),
  /** Failed checks in a row before a connection turns `error`. */
  failureThreshold: z.number().int().min(1).max(100).default(
    HEALTH_CHECK_DEFAULTS.failureThreshold,
  ),
  /** History older than this many days is deleted by the run. */
  retentionDays: z.number().int().min(1).max(3_650).default(HEALTH_CHECK_DEFAULTS.retentionDays),
}).meta({ id: "HealthCheckRequest" });
export type HealthCheckRequest = z.infer<typeof HealthCheckRequest>;

/**
 * What a run did. A target is an MCP server together with the probe-relevant part of
 * a connection's config: `probed + skipped` targets, each `healthy` or `unhealthy`
 * when probed; `connections` and `servers` count what the targets cover.
 */
export const HealthCheckSummary = z.object({
  /** Null for a dry run. */
  runId: Uuid.nullable(),
  dryRun: z.boolean(),
  connections: z.number().int(),
  servers: z.number().int(),
  targets: z.number().int(),
  probed: z.number().int(),
  healthy: z.number().int(),
  unhealthy: z.number().int(),
  /** Not probed: no URL, a URL the probe cannot use, or not enough budget left. */
  skipped: z.number().int(),
  /** Connections that turned error / back to connected in this run. */
  becameUnhealthy: z.number().int(),
  becameHealthy: z.number().int(),
  durationMs: z.number().int(),
}).meta({ id: "HealthCheckSummary" });
export type HealthCheckSummary = z.infer<typeof HealthCheckSummary>;
