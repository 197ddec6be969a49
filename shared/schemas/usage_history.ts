/**
 * Reports over time: usage series (from the hourly usage buckets the usage function
 * writes) and health series (from the health-check history). The SQL functions are
 * in the *_usage_reports.sql migration; the latency histogram's bounds in
 * *_usage.sql (a test compares them with LATENCY_BUCKET_BOUNDS_MS).
 */
import { z } from "zod";
import { Uuid } from "./ids.ts";

/** Upper bounds (ms, exclusive) of the latency histogram's buckets; a last one is open. */
export const LATENCY_BUCKET_BOUNDS_MS = [
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  200,
  500,
  1_000,
  2_000,
  5_000,
  10_000,
  30_000,
  60_000,
] as const;

export const REPORT_LIMITS = {
  /** Points in one series. */
  maxPoints: 1_000,
  /** Default range when `from` is left out: the last 24 hours. */
  defaultRangeMs: 24 * 3600 * 1000,
} as const;

export const ReportBucket = z.enum(["hour", "day"]);
export type ReportBucket = z.infer<typeof ReportBucket>;

const Instant = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time" });

/** The range fields of every report: `[from, to)`, by default the last 24 hours. */
const rangeFields = {
  /** Start of the range (inclusive); default: 24 hours before `to`. */
  from: Instant.optional(),
  /** End of the range (exclusive); default: now. */
  to: Instant.optional(),
};

function checkRange(value: { from?: string; to?: string }, ctx: z.RefinementCtx): void {
  if (value.from && value.to && Date.parse(value.from) >= Date.parse(value.to)) {
    ctx.addIssue({ code: "custom", message: "from must be before to", path: ["from"] });
  }
}

export const SeriesQuery = z.strictObject({
  ...rangeFields,
  /** Size of a point: `hour` (default) or `day`. At most 1000 points per series. */
  bucket: ReportBucket.default("hour"),
}).superRefine(checkRange);
export type SeriesQuery = z.infer<typeof SeriesQuery>;

export const RangeQuery = z.strictObject(rangeFields).superRefine(checkRange);
export type RangeQuery = z.infer<typeof RangeQuery>;

/** A range with its defaults filled in. */
export interface ResolvedRange {
  from: string;
  to: string;
}

export function resolveRange(
  query: { from?: string; to?: string },
  now = new Date(),
): ResolvedRange {
  const to = query.to ? new Date(query.to) : now;
  const from = query.from
    ? new Date(query.from)
    : new Date(to.getTime() - REPORT_LIMITS.defaultRangeMs);
  return { from: from.toISOString(), to: to.toISOString() };
}

const Count = z.number().int().min(0);
const Ms = z.number().min(0).nullable();

export const UsagePoint = z.object({
  bucketStart: z.string(),
  requests: Count,
  successes: Count,
  failures: Count,
  bytes: z.number().min(0),
  /** Mean response time of the bucket's requests; null when there were none. */
  averageLatencyMs: Ms,
}).meta({ id: "UsagePoint" });
export type UsagePoint = z.infer<typeof UsagePoint>;

/** A connection's point adds latency percentiles read from the bucket's histogram. */
export const ConnectionUsagePoint = UsagePoint.extend({
  latencyP50Ms: Ms,
  latencyP95Ms: Ms,
  latencyP99Ms: Ms,
}).meta({ id: "ConnectionUsagePoint" });
export type ConnectionUsagePoint = z.infer<typeof ConnectionUsagePoint>;

const seriesFields = { from: z.string(), to: z.string(), bucket: ReportBucket };

export const ConnectionUsageSeries = z.object({
  connectionId: Uuid,
  ...seriesFields,
  points: z.array(ConnectionUsagePoint),
}).meta({ id: "ConnectionUsageSeries" });
export type ConnectionUsageSeries = z.infer<typeof ConnectionUsageSeries>;

export const UsageSeries = z.object({
  ...seriesFields,
  points: z.array(UsagePoint),
}).meta({ id: "UsageSeries" });
export type UsageSeries = z.infer<typeof UsageSeries>;

export const ConnectionUsageTotals = z.object({
  connectionId: Uuid,
  agentId: Uuid,
  mcpServerInstanceId: Uuid,
  requests: Count,
  successes: Count,
  failures: Count,
  bytes: z.number().min(0),
  averageLatencyMs: Ms,
  latencyP95Ms: Ms,
}).meta({ id: "ConnectionUsageTotals" });
export type ConnectionUsageTotals = z.infer<typeof ConnectionUsageTotals>;

export const UsageByConnection = z.object({
  from: z.string(),
  to: z.string(),
  /** Connections used in the range, busiest first. */
  items: z.array(ConnectionUsageTotals),
}).meta({ id: "UsageByConnection" });
export type UsageByConnection = z.infer<typeof UsageByConnection>;

export const UserUsageTotals = z.object({
  userId: Uuid,
  connections: Count,
  requests: Count,
  successes: Count,
  failures: Count,
  bytes: z.number().min(0),
  averageLatencyMs: Ms,
}).meta({ id: "UserUsageTotals" });
export type UserUsageTotals = z.infer<typeof UserUsageTotals>;

export const UsageByUser = z.object({
  from: z.string(),
  to: z.string(),
  /** Users whose connections were used in the range, busiest first. */
  items: z.array(UserUsageTotals),
}).meta({ id: "UsageByUser" });
export type UsageByUser = z.infer<typeof UsageByUser>;

export const HealthPoint = z.object({
  bucketStart: z.string(),
  checks: Count,
  failures: Count,
  /** Share of successful checks (0..1); null when there was no check. */
  uptime: z.number().min(0).max(1).nullable(),
  latencyP50Ms: Ms,
  latencyP95Ms: Ms,
  latencyP99Ms: Ms,
}).meta({ id: "HealthPoint" });
export type HealthPoint = z.infer<typeof HealthPoint>;

export const ConnectionHealthSeries = z.object({
  connectionId: Uuid,
  ...seriesFields,
  points: z.array(HealthPoint),
}).meta({ id: "ConnectionHealthSeries" });
export type ConnectionHealthSeries = z.infer<typeof ConnectionHealthSeries>;
