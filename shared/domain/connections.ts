/**
 * What a user can do with their agents' MCP connections, over a database client
 * that carries their JWT. Every write is one SQL function (RLS decides access; the
 * functions and the table's triggers decide every outcome and raise coded errors,
 * which `fromPostgrest()` maps in one table). A row the caller may not see is "not
 * found", never "forbidden", so other users' rows are not revealed.
 */
import type { DbClient } from "../db/db_client.ts";
import { AppError } from "../errors/app_error.ts";
import { fromPostgrest, type PostgrestFailure } from "../db/postgrest_errors.ts";
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

type Db = DbClient;

const TABLE = "agent_mcp_connections";

/** The data of a database call, or its failure as an AppError. */
async function dataOf<T>(
  call: PromiseLike<{ data: T | null; error: PostgrestFailure["error"] | null; status: number }>,
  context: string,
): Promise<T> {
  const { data, error, status } = await call;
  if (error) throw fromPostgrest({ error, status }, context);
  return data as T;
}

function parseRow(row: unknown): Connection {
  return toConnection(ConnectionRow.parse(row));
}

/**
 * Connects an agent to an MCP server. SQL refuses with `agent_not_found`,
 * `mcp_server_not_found`, `mcp_server_not_running`, `already_connected` (with the
 * active connection's id; concurrent connects of one pair: exactly one wins) or
 * `connection_limit_reached`.
 */
export async function createConnection(
  db: Db,
  request: CreateConnectionRequest,
): Promise<Connection> {
  return parseRow(
    await dataOf(
      db.rpc("connect_agent_mcp_server", {
        p_agent_id: request.agentId,
        p_mcp_server_instance_id: request.mcpServerInstanceId,
        p_connection_config: request.config ?? {},
      }).select(CONNECTION_COLUMNS).single(),
      "creating a connection",
    ),
  );
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
  const data = await dataOf(
    request
      .order("created_at", { ascending: false })
      .order("id", { ascending: false })
      .limit(query.limit + 1),
    "listing connections",
  );
  return page(data, query.limit);
}

export async function getConnection(db: Db, id: string): Promise<Connection> {
  const data = await dataOf(
    db.from(TABLE).select(CONNECTION_COLUMNS).eq("id", id).maybeSingle(),
    "reading a connection",
  );
  if (!data) throw new AppError("connection_not_found", `Connection ${id} was not found.`);
  return parseRow(data);
}

/** Replaces an active connection's config (`connection_inactive` once disconnected). */
export async function updateConnectionConfig(
  db: Db,
  id: string,
  config: ConnectionConfig,
): Promise<Connection> {
  return parseRow(
    await dataOf(
      db.rpc("update_agent_mcp_connection_config", {
        p_connection_id: id,
        p_connection_config: config,
      }).select(CONNECTION_COLUMNS).single(),
      "updating a connection",
    ),
  );
}

/** Disconnects (soft delete): the row stays as history. Disconnecting twice is not an error. */
export async function disconnectConnection(db: Db, id: string): Promise<Connection> {
  return parseRow(
    await dataOf(
      db.rpc("disconnect_agent_mcp_connection", { p_connection_id: id })
        .select(CONNECTION_COLUMNS).single(),
      "disconnecting a connection",
    ),
  );
}

/** Adds usage events atomically (one SQL statement) and returns the new statistics. */
export async function recordUsage(db: Db, id: string, events: UsageEvent[]): Promise<UsageStats> {
  return UsageStats.parse(
    await dataOf(
      db.rpc("record_agent_mcp_connection_usage", { p_connection_id: id, p_events: events }),
      "recording usage",
    ),
  );
}

/** The caller's statistics over their active connections. */
export async function userStats(db: Db): Promise<UserStats> {
  const data = await dataOf(
    db.from("user_mcp_connection_stats")
      .select(
        "total_connections,active_connections,error_connections,last_connection_used,first_connection_created",
      )
      .maybeSingle<{
        total_connections: number;
        active_connections: number;
        error_connections: number;
        last_connection_used: string | null;
        first_connection_created: string | null;
      }>(),
    "reading statistics",
  );
  return {
    totalConnections: Number(data?.total_connections ?? 0),
    activeConnections: Number(data?.active_connections ?? 0),
    errorConnections: Number(data?.error_connections ?? 0),
    lastConnectionUsed: data?.last_connection_used ?? null,
    firstConnectionCreated: data?.first_connection_created ?? null,
  };
}

/** Every user's connections (admins only: `forbidden` otherwise), newest first. */
export async function adminListConnections(
  db: Db,
  query: AdminListConnectionsQuery,
): Promise<ConnectionPage> {
  const key = query.cursor ? decodeCursor(query.cursor) : null;
  const data = await dataOf(
    db.rpc("admin_list_agent_mcp_connections", {
      p_limit: query.limit + 1,
      p_before_created_at: key?.createdAt ?? null,
      p_before_id: key?.id ?? null,
      p_active: query.active === "all" ? null : query.active === "true",
    }).select(CONNECTION_COLUMNS),
    "listing every connection",
  );
  return page(data, query.limit);
}

/** Totals over every user's connections (admins only: `forbidden` otherwise). */
export async function adminStats(db: Db): Promise<AdminStats> {
  const data = await dataOf(
    db.rpc("admin_agent_mcp_connection_stats").single<Record<string, number | string | null>>(),
    "reading totals",
  );
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
