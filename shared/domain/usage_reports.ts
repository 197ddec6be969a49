/**
 * Usage and health over time, over a database client that carries the caller's JWT:
 * the report functions of the *_usage_reports.sql migration decide what the caller
 * may read (RLS for users, an admin check for the admin reports).
 */
import type { DbClient } from "../db/db_client.ts";
import { fromPostgrest } from "../db/postgrest_errors.ts";
import {
  type ConnectionHealthSeries,
  type ConnectionUsageSeries,
  type RangeQuery,
  resolveRange,
  type SeriesQuery,
  type UsageByConnection,
  type UsageByUser,
  type UsageSeries,
} from "../schemas/usage_history.ts";

type Db = DbClient;
type Row = Record<string, unknown>;

const num = (value: unknown): number => Number(value ?? 0);
const numOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const iso = (value: unknown): string => new Date(String(value)).toISOString();

async function callReport(
  db: Db,
  fn: string,
  args: Record<string, unknown>,
  context: string,
): Promise<Row[]> {
  const { data, error, status } = await db.rpc(fn, args);
  if (error) throw fromPostgrest({ error, status }, context);
  return (data ?? []) as Row[];
}

function usagePoint(row: Row) {
  return {
    bucketStart: iso(row.bucket_start),
    requests: num(row.requests),
    successes: num(row.successes),
    failures: num(row.failures),
    bytes: num(row.bytes),
    averageLatencyMs: numOrNull(row.average_latency_ms),
  };
}

/** One connection's usage, one point per bucket. */
export async function connectionUsageSeries(
  db: Db,
  connectionId: string,
  query: SeriesQuery,
): Promise<ConnectionUsageSeries> {
  const range = resolveRange(query);
  const rows = await callReport(
    db,
    "agent_mcp_connection_usage_series",
    {
      p_connection_id: connectionId,
      p_from: range.from,
      p_to: range.to,
      p_bucket: query.bucket,
    },
    "reading a connection's usage",
  );
  return {
    connectionId,
    ...range,
    bucket: query.bucket,
    points: rows.map((row) => ({
      ...usagePoint(row),
      latencyP50Ms: numOrNull(row.latency_p50_ms),
      latencyP95Ms: numOrNull(row.latency_p95_ms),
      latencyP99Ms: numOrNull(row.latency_p99_ms),
    })),
  };
}

/** The caller's usage summed over their connections, one point per bucket. */
export async function usageSeries(db: Db, query: SeriesQuery): Promise<UsageSeries> {
  const range = resolveRange(query);
  const rows = await callReport(db, "agent_mcp_usage_series", {
    p_from: range.from,
    p_to: range.to,
    p_bucket: query.bucket,
  }, "reading usage");
  return { ...range, bucket: query.bucket, points: rows.map(usagePoint) };
}

/** The caller's usage over a range, per connection. */
export async function usageByConnection(db: Db, query: RangeQuery): Promise<UsageByConnection> {
  const range = resolveRange(query);
  const rows = await callReport(db, "agent_mcp_usage_by_connection", {
    p_from: range.from,
    p_to: range.to,
  }, "reading usage per connection");
  return {
    ...range,
    items: rows.map((row) => ({
      connectionId: String(row.connection_id),
      agentId: String(row.agent_id),
      mcpServerInstanceId: String(row.mcp_server_instance_id),
      requests: num(row.requests),
      successes: num(row.successes),
      failures: num(row.failures),
      bytes: num(row.bytes),
      averageLatencyMs: numOrNull(row.average_latency_ms),
      latencyP95Ms: numOrNull(row.latency_p95_ms),
    })),
  };
}

/** One connection's health checks, one point per bucket. */
export async function connectionHealthSeries(
  db: Db,
  connectionId: string,
  query: SeriesQuery,
): Promise<ConnectionHealthSeries> {
  const range = resolveRange(query);
  const rows = await callReport(
    db,
    "agent_mcp_connection_health_series",
    {
      p_connection_id: connectionId,
      p_from: range.from,
      p_to: range.to,
      p_bucket: query.bucket,
    },
    "reading a connection's health",
  );
  return {
    connectionId,
    ...range,
    bucket: query.bucket,
    points: rows.map((row) => ({
      bucketStart: iso(row.bucket_start),
      checks: num(row.checks),
      failures: num(row.failures),
      uptime: numOrNull(row.uptime),
      latencyP50Ms: numOrNull(row.latency_p50_ms),
      latencyP95Ms: numOrNull(row.latency_p95_ms),
      latencyP99Ms: numOrNull(row.latency_p99_ms),
    })),
  };
}

/** Admins: every user's usage summed per bucket. */
export async function adminUsageSeries(db: Db, query: SeriesQuery): Promise<UsageSeries> {
  const range = resolveRange(query);
  const rows = await callReport(db, "admin_agent_mcp_usage_series", {
    p_from: range.from,
    p_to: range.to,
    p_bucket: query.bucket,
  }, "reading every user's usage");
  return { ...range, bucket: query.bucket, points: rows.map(usagePoint) };
}

/** Admins: usage over a range per user. */
export async function adminUsageByUser(db: Db, query: RangeQuery): Promise<UsageByUser> {
  const range = resolveRange(query);
  const rows = await callReport(db, "admin_agent_mcp_usage_by_user", {
    p_from: range.from,
    p_to: range.to,
  }, "reading usage per user");
  return {
    ...range,
    items: rows.map((row) => ({
      userId: String(row.user_id),
      connections: num(row.connections),
      requests: num(row.requests),
      successes: num(row.successes),
      failures: num(row.failures),
      bytes: num(row.bytes),
      averageLatencyMs: numOrNull(row.average_latency_ms),
    })),
  };
}
