/**
 * What a user can do with their agents' MCP connections, over a database client
 * that carries their JWT (RLS decides access; a row the caller may not see is
 * "not found", never "forbidden", so other users' rows are not revealed).
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { AppError } from "../errors/app_error.ts";
import { fromPostgrest, PG, type PostgrestFailure } from "../db/postgrest_errors.ts";
import {
  type Connection,
  CONNECTION_COLUMNS,
  ConnectionRow,
  toConnection,
} from "../schemas/connection.ts";
import type { ConnectionConfig } from "../schemas/connection_config.ts";
import type {
  AdminListConnectionsQuery,
  CreateConnectionRequest,
  ListConnectionsQuery,
} from "../schemas/requests.ts";
import type { AdminStats, ConnectionPage, UserStats } from "../schemas/responses.ts";
import { type UsageEvent, UsageStats } from "../schemas/usage.ts";
import { decodeCursor, encodeCursor, type PageKey } from "./cursor.ts";

type Db = SupabaseClient;

const TABLE = "agent_mcp_connections";

function notFound(id: string): AppError {
  return new AppError("connection_not_found", `Connection ${id} was not found.`);
}

function inactive(id: string): AppError {
  return new AppError(
    "connection_inactive",
    `Connection ${id} is disconnected; connect the agent again to use it.`,
  );
}

function parseRow(row: unknown): Connection {
  return toConnection(ConnectionRow.parse(row));
}

/** Errors every connection operation maps the same way: not visible, disconnected. */
function fromConnectionFailure(failure: PostgrestFailure, id: string, context: string): AppError {
  const code = failure.error.code;
  if (code === PG.noRows || code === PG.connectionNotFound) return notFound(id);
  if (code === PG.connectionInactive) return inactive(id);
  return fromPostgrest(failure, context);
}

/** Whether a connection the caller can see exists (to tell 404 from 409). */
async function isVisible(db: Db, id: string): Promise<boolean> {
  const { data, error, status } = await db.from(TABLE).select("id").eq("id", id).maybeSingle();
  if (error) throw fromPostgrest({ error, status }, "looking up a connection");
  return data !== null;
}

/** The id of the pair's active connection, if the caller can see one. */
async function activeConnectionId(
  db: Db,
  agentId: string,
  serverId: string,
): Promise<string | null> {
  const { data, error, status } = await db.from(TABLE).select("id")
    .eq("agent_id", agentId).eq("mcp_server_instance_id", serverId).eq("is_active", true)
    .maybeSingle();
  if (error) throw fromPostgrest({ error, status }, "looking up the active connection");
  return data?.id ?? null;
}

/**
 * Connects an agent to an MCP server. The partial unique index decides between
 * concurrent connects of one pair: exactly one wins, the others get
 * `already_connected` with the winner's id.
 */
export async function createConnection(
  db: Db,
  request: CreateConnectionRequest,
): Promise<Connection> {
  const { data, error, status } = await db.from(TABLE).insert({
    agent_id: request.agentId,
    mcp_server_instance_id: request.mcpServerInstanceId,
    connection_config: request.config ?? {},
  }).select(CONNECTION_COLUMNS).single();
  if (!error) return parseRow(data);

  switch (error.code) {
    case PG.uniqueViolation: {
      const existing = await activeConnectionId(db, request.agentId, request.mcpServerInstanceId);
      throw new AppError(
        "already_connected",
        "This agent already has an active connection to this MCP server.",
        { connectionId: existing },
      );
    }
    case PG.insufficientPrivilege: // the insert policy: not one of the caller's agents
      throw new AppError("agent_not_found", `Agent ${request.agentId} was not found.`);
    case PG.foreignKeyViolation:
      throw error.message.includes("mcp_server_instance_id") ||
          error.details?.includes("account_tool_instances")
        ? new AppError(
          "mcp_server_not_found",
          `MCP server ${request.mcpServerInstanceId} was not found.`,
        )
        : new AppError("agent_not_found", `Agent ${request.agentId} was not found.`);
    default:
      throw fromPostgrest({ error, status }, "creating a connection");
  }
}

/** Builds PostgREST's `or` filter for rows strictly after a page key (newest first). */
function afterKeyFilter(key: PageKey): string {
  return `created_at.lt."${key.createdAt}",and(created_at.eq."${key.createdAt}",id.lt.${key.id})`;
}

function page(data: unknown, limit: number): ConnectionPage {
  const rows = Array.isArray(data) ? data : [];
  const items = rows.slice(0, limit).map(parseRow);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last
      ? encodeCursor({ createdAt: last.createdAt, id: last.id })
      : null,
  };
}

/** The caller's connections, newest first, one page at a time. */
export async function listConnections(
  db: Db,
  query: ListConnectionsQuery,
): Promise<ConnectionPage> {
  let request = db.from(TABLE).select(CONNECTION_COLUMNS);
  if (query.agentId) request = request.eq("agent_id", query.agentId);
  if (query.status) request = request.eq("connection_status", query.status);
  if (query.active !== "all") request = request.eq("is_active", query.active === "true");
  if (query.cursor) request = request.or(afterKeyFilter(decodeCursor(query.cursor)));
  const { data, error, status } = await request
    .order("created_at", { ascending: false })
    .order("id", { ascending: false })
    .limit(query.limit + 1);
  if (error) throw fromPostgrest({ error, status }, "listing connections");
  return page(data, query.limit);
}

export async function getConnection(db: Db, id: string): Promise<Connection> {
  const { data, error, status } = await db.from(TABLE).select(CONNECTION_COLUMNS).eq("id", id)
    .maybeSingle();
  if (error) throw fromPostgrest({ error, status }, "reading a connection");
  if (!data) throw notFound(id);
  return parseRow(data);
}

/** Replaces an active connection's config. */
export async function updateConnectionConfig(
  db: Db,
  id: string,
  config: ConnectionConfig,
): Promise<Connection> {
  const { data, error, status } = await db.from(TABLE).update({ connection_config: config })
    .eq("id", id).eq("is_active", true).select(CONNECTION_COLUMNS).maybeSingle();
  if (error) throw fromConnectionFailure({ error, status }, id, "updating a connection");
  if (data) return parseRow(data);
  throw (await isVisible(db, id)) ? inactive(id) : notFound(id);
}

/** Disconnects (soft delete): the row stays as history. Disconnecting twice is not an error. */
export async function disconnectConnection(db: Db, id: string): Promise<Connection> {
  const { data, error, status } = await db.from(TABLE)
    .update({ is_active: false, connection_status: "disconnected" })
    .eq("id", id).eq("is_active", true).select(CONNECTION_COLUMNS).maybeSingle();
  if (error) throw fromConnectionFailure({ error, status }, id, "disconnecting a connection");
  return data ? parseRow(data) : await getConnection(db, id);
}

export interface TestStart {
  /** The status to put back if the test is cancelled. */
  restoreStatus: "connected" | "disconnected" | "error";
  config: ConnectionConfig;
  /** Null when the server has no URL (nothing was changed). */
  serverUrl: string | null;
}

/** Marks an active connection as `testing` and returns what the probe needs. */
export async function beginConnectionTest(db: Db, id: string): Promise<TestStart> {
  const { data, error, status } = await db.rpc("begin_agent_mcp_connection_test", {
    p_connection_id: id,
  }).single<
    { previous_status: string; connection_config: ConnectionConfig; mcp_server_url: string | null }
  >();
  if (error) throw fromConnectionFailure({ error, status }, id, "starting a connection test");
  const previous = data.previous_status;
  return {
    restoreStatus: previous === "connected" || previous === "error" ? previous : "disconnected",
    config: data.connection_config,
    serverUrl: data.mcp_server_url,
  };
}

/** Stores a test's result (or, with `result` null, undoes a cancelled test's `testing`). */
export async function finishConnectionTest(
  db: Db,
  id: string,
  result: Record<string, unknown> | null,
  restoreStatus: TestStart["restoreStatus"],
): Promise<Connection> {
  const { data, error, status } = await db.rpc("finish_agent_mcp_connection_test", {
    p_connection_id: id,
    p_result: result,
    p_restore_status: restoreStatus,
  }).select(CONNECTION_COLUMNS).single();
  if (error) throw fromConnectionFailure({ error, status }, id, "storing a test result");
  return parseRow(data);
}

/** Adds usage events atomically (one SQL statement) and returns the new statistics. */
export async function recordUsage(db: Db, id: string, events: UsageEvent[]): Promise<UsageStats> {
  const { data, error, status } = await db.rpc("record_agent_mcp_connection_usage", {
    p_connection_id: id,
    p_events: events,
  });
  if (error) {
    if (error.code === PG.invalidParameter) {
      throw new AppError("invalid_request", error.message, { hint: error.hint });
    }
    throw fromConnectionFailure({ error, status }, id, "recording usage");
  }
  return UsageStats.parse(data);
}

/** The caller's statistics over their active connections. */
export async function userStats(db: Db): Promise<UserStats> {
  const { data, error, status } = await db.from("user_mcp_connection_stats")
    .select(
      "total_connections,active_connections,error_connections,last_connection_used,first_connection_created",
    )
    .maybeSingle();
  if (error) throw fromPostgrest({ error, status }, "reading statistics");
  return {
    totalConnections: Number(data?.total_connections ?? 0),
    activeConnections: Number(data?.active_connections ?? 0),
    errorConnections: Number(data?.error_connections ?? 0),
    lastConnectionUsed: data?.last_connection_used ?? null,
    firstConnectionCreated: data?.first_connection_created ?? null,
  };
}

function adminFailure(failure: PostgrestFailure, context: string): AppError {
  if (failure.error.code === PG.insufficientPrivilege) {
    return new AppError("forbidden", "This needs the admin role.");
  }
  return fromPostgrest(failure, context);
}

/** Every user's connections (admins only), newest first. */
export async function adminListConnections(
  db: Db,
  query: AdminListConnectionsQuery,
): Promise<ConnectionPage> {
  const key = query.cursor ? decodeCursor(query.cursor) : null;
  const { data, error, status } = await db.rpc("admin_list_agent_mcp_connections", {
    p_limit: query.limit + 1,
    p_before_created_at: key?.createdAt ?? null,
    p_before_id: key?.id ?? null,
    p_active: query.active === "all" ? null : query.active === "true",
  }).select(CONNECTION_COLUMNS);
  if (error) throw adminFailure({ error, status }, "listing every connection");
  return page(data, query.limit);
}

/** Totals over every user's connections (admins only). */
export async function adminStats(db: Db): Promise<AdminStats> {
  const { data, error, status } = await db.rpc("admin_agent_mcp_connection_stats").single<
    Record<string, number | string | null>
  >();
  if (error) throw adminFailure({ error, status }, "reading totals");
  const n = (key: string) => Number(data[key] ?? 0);
  return {
    totalConnections: n("total_connections"),
    activeConnections: n("active_connections"),
    connectedConnections: n("connected_connections"),
    errorConnections: n("error_connections"),
    testingConnections: n("testing_connections"),
    disconnectedConnections: n("disconnected_connections"),
    users: n("users"),
    agents: n("agents"),
    servers: n("servers"),
    lastConnectionUsed: (data.last_connection_used as string | null) ?? null,
    firstConnectionCreated: (data.first_connection_created as string | null) ?? null,
  };
}
