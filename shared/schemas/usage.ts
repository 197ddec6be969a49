/**
 * Usage recording: the events a client reports and the statistics the database keeps
 * (`record_agent_mcp_connection_usage()` in the *_usage.sql migration; same bounds).
 */
import { z } from "zod";

export const USAGE_LIMITS = {
  maxEventsPerBatch: 1_000,
  maxResponseTimeMs: 3_600_000,
  maxBytesTransferred: 1_000_000_000_000,
} as const;

/** One request an agent made through the connection. */
export const UsageEvent = z.strictObject({
  success: z.boolean(),
  /** Milliseconds the request took. */
  responseTimeMs: z.number().min(0).max(USAGE_LIMITS.maxResponseTimeMs),
  /** Bytes sent and received. */
  bytesTransferred: z.number().int().min(0).max(USAGE_LIMITS.maxBytesTransferred),
}).meta({ id: "UsageEvent" });
export type UsageEvent = z.infer<typeof UsageEvent>;

export const UsageBatch = z.strictObject({
  events: z.array(UsageEvent).min(1).max(USAGE_LIMITS.maxEventsPerBatch),
}).meta({ id: "UsageBatch" });
export type UsageBatch = z.infer<typeof UsageBatch>;

/** `POST /connections/:id/usage` takes one event or a batch. */
export const RecordUsageRequest = z.union([UsageEvent, UsageBatch]).meta({
  id: "RecordUsageRequest",
});
export type RecordUsageRequest = z.infer<typeof RecordUsageRequest>;

/** The research draft's usage_stats, plus `totalResponseTime` (the exact sum behind the average). */
export const UsageStats = z.object({
  totalRequests: z.number().optional(),
  successfulRequests: z.number().optional(),
  failedRequests: z.number().optional(),
  averageResponseTime: z.number().optional(),
  totalResponseTime: z.number().optional(),
  lastUsed: z.string().optional(),
  bytesTransferred: z.number().optional(),
}).catchall(z.unknown()).meta({ id: "UsageStats" });
export type UsageStats = z.infer<typeof UsageStats>;

/** The events of a request, whichever form it took. */
export function usageEvents(request: RecordUsageRequest): UsageEvent[] {
  return "events" in request ? request.events : [request];
}
