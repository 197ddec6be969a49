/** The mcp-health-check function's request options and its invocation summary. */
import { z } from "zod";
import { Uuid } from "./ids.ts";

export const HEALTH_CHECK_DEFAULTS = {
  concurrency: 32,
  perHostConcurrency: 4,
  /**
   * Wall-clock budget of one invocation's batch: well inside the 60 s an invocation
   * may take, with room to claim and write.
   */
  budgetMs: 45_000,
  /**
   * Targets per batch (one invocation). A probe costs ≈2.5–3 ms of function CPU
   * (bench/probe.ts; bench/health_check_scale.ts measures it per invocation), so
   * 100 probes ≈ 0.3 s: a third of the 1 s CPU target, and far from the
   * platform's 2 s, with the JSON of the batch and its write on top.
   */
  batchSize: 100,
  /** Invocations working on one cycle at once (each starts the next while work remains). */
  parallelism: 8,
  /** Distinct targets (server, owner, config) one owner gets probed per cycle. */
  maxTargetsPerOwner: 50,
  /** Probe attempts (1 + retries per target) one origin receives per cycle. */
  maxAttemptsPerOrigin: 250,
  failureThreshold: 3,
  retentionDays: 14,
} as const;

/**
 * The Edge Runtime's wall clock: how long a worker may live, from its start (150 s on the free
 * plan). A batch's budget never reaches past it (see `batchBudgetMs`).
 */
export const WORKER_WALL_CLOCK_MS = 150_000;
/** What an invocation keeps of its wall clock for claiming a batch and writing it. */
export const INVOCATION_RESERVE_MS = 10_000;

/**
 * A batch's lease, in seconds. The invocation working on it renews it every
 * {@link LEASE_RENEW_MS}, so it can be short: a dead invocation's batch is claimed
 * again at most this long after its last renewal.
 */
export const BATCH_LEASE_SECONDS = 30;
export const LEASE_RENEW_MS = 10_000;

const options = {
  /** Only connections to these MCP servers. */
  serverIds: z.array(Uuid).min(1).max(1_000).optional(),
  /** Only these connections. */
  connectionIds: z.array(Uuid).min(1).max(10_000).optional(),
  /**
   * Probe one batch and report, but write nothing (start no cycle; a `runId` is not used).
   * Its counts cover the first `max_rows` targets PostgREST returns (1,000 by default).
   */
  dryRun: z.boolean().default(false),
  /** Probes in flight at once in one invocation. */
  concurrency: z.number().int().min(1).max(100).default(HEALTH_CHECK_DEFAULTS.concurrency),
  /** Probes in flight at once against one origin (scheme, host and port) in one invocation. */
  perHostConcurrency: z.number().int().min(1).max(32).default(
    HEALTH_CHECK_DEFAULTS.perHostConcurrency,
  ),
  /** Wall-clock budget of one batch, in ms: a probe that cannot finish inside it is skipped. */
  budgetMs: z.number().int().min(1_000).max(60_000).default(HEALTH_CHECK_DEFAULTS.budgetMs),
  /** Targets per batch; one invocation probes one batch. */
  batchSize: z.number().int().min(1).max(250).default(HEALTH_CHECK_DEFAULTS.batchSize),
  /** Invocations working on the cycle at once. */
  parallelism: z.number().int().min(1).max(64).default(HEALTH_CHECK_DEFAULTS.parallelism),
  /** Distinct targets per owner per cycle; an owner's least recently checked go first. */
  maxTargetsPerOwner: z.number().int().min(1).max(10_000).default(
    HEALTH_CHECK_DEFAULTS.maxTargetsPerOwner,
  ),
  /** Probe attempts (1 + retries of each target) per origin per cycle. */
  maxAttemptsPerOrigin: z.number().int().min(1).max(100_000).default(
    HEALTH_CHECK_DEFAULTS.maxAttemptsPerOrigin,
  ),
  /** Failed checks in a row before a connection turns `error`. */
  failureThreshold: z.number().int().min(1).max(100).default(
    HEALTH_CHECK_DEFAULTS.failureThreshold,
  ),
  /** History older than this many days is deleted when a cycle ends. */
  retentionDays: z.number().int().min(1).max(3_650).default(HEALTH_CHECK_DEFAULTS.retentionDays),
};

/**
 * Options of a call; every one optional. Without `runId` a call starts a cycle (or
 * resumes one whose invocations died) and probes its first batch. With `runId` (the
 * function's own fan-out) it probes the next batch of that cycle, with the options
 * the cycle was started with: the other options of the call are not used.
 */
export const HealthCheckRequest = z.strictObject({
  /** Work on this cycle: claim its next batch. */
  runId: Uuid.optional(),
  ...options,
}).meta({ id: "HealthCheckRequest" });
export type HealthCheckRequest = z.infer<typeof HealthCheckRequest>;

/** Why targets were not probed, with how many. */
export const SkipReasons = z.record(z.string(), z.number().int());

/**
 * What a call did, and where its cycle stands. A target is an MCP server together
 * with its owner and the probe-relevant part of a connection's config. The counts
 * are the cycle's so far (its `targets` = `probed + skipped` once `finished`); `batch`
 * is what this invocation probed, `becameUnhealthy` / `becameHealthy` what its write
 * changed.
 */
export const HealthCheckSummary = z.object({
  /** Null for a dry run. */
  runId: Uuid.nullable(),
  dryRun: z.boolean(),
  /** The call continued a cycle whose invocations had died. */
  resumed: z.boolean(),
  connections: z.number().int(),
  servers: z.number().int(),
  targets: z.number().int(),
  probed: z.number().int(),
  healthy: z.number().int(),
  unhealthy: z.number().int(),
  /**
   * Not probed: a server that is not running, no URL or one the probe cannot use,
   * over the owner's cap or the origin's budget, out of budget time, or in a batch
   * given up after its invocations died three times.
   */
  skipped: z.number().int(),
  skipReasons: SkipReasons,
  batches: z.number().int(),
  batchesDone: z.number().int(),
  finished: z.boolean(),
  /** The batch this invocation probed; null when none was left to claim. */
  batch: z.object({
    batchNo: z.number().int(),
    attempt: z.number().int(),
    targets: z.number().int(),
    probed: z.number().int(),
  }).nullable(),
  /** Invocations this one started for the same cycle. */
  invocationsStarted: z.number().int(),
  /** Connections that turned error / back to connected by this invocation's write. */
  becameUnhealthy: z.number().int(),
  becameHealthy: z.number().int(),
  durationMs: z.number().int(),
}).meta({ id: "HealthCheckSummary" });
export type HealthCheckSummary = z.infer<typeof HealthCheckSummary>;
