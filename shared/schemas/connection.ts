/**
 * A connection as the API returns it (camelCase), the database row it comes from
 * (snake_case, as PostgREST returns it), and the mapping between them.
 */
import { z } from "zod";
import { ConnectionConfig } from "./connection_config.ts";
import { Uuid } from "./ids.ts";
import { UsageStats } from "./usage.ts";

export const CONNECTION_STATUSES = ["connected", "disconnected", "error", "testing"] as const;
export const ConnectionStatus = z.enum(CONNECTION_STATUSES);
export type ConnectionStatus = z.infer<typeof ConnectionStatus>;

/** The MCP server a connection points at, as a user may see it (no secrets). */
export const McpServerSummary = z.object({
  name: z.string(),
  status: z.string(),
}).meta({ id: "McpServerSummary" });
export type McpServerSummary = z.infer<typeof McpServerSummary>;

/**
 * The last test result as stored. The probe writes `ConnectionTestResult`
 * (shared/schemas/test_result.ts); rows written by other tools may hold any object,
 * so reads accept any JSON object and pass it through.
 */
export const StoredTestResult = z.record(z.string(), z.unknown()).nullable();

export const Connection = z.object({
  id: Uuid,
  agentId: Uuid,
  mcpServerInstanceId: Uuid,
  connectionConfig: ConnectionConfig,
  connectionTestResult: StoredTestResult,
  isActive: z.boolean(),
  connectionStatus: ConnectionStatus,
  lastUsed: z.string().nullable(),
  usageStats: UsageStats,
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: Uuid.nullable(),
  /** The server's name and status; absent where the caller may not read the server. */
  server: McpServerSummary.nullable().optional(),
}).meta({ id: "Connection" });
export type Connection = z.infer<typeof Connection>;

/** The columns the API selects, and the embedded server. */
export const CONNECTION_COLUMNS = "id,agent_id,mcp_server_instance_id,connection_config," +
  "connection_test_result,is_active,connection_status,last_used,usage_stats,created_at," +
  "updated_at,created_by,server:account_tool_instances(name:instance_name_on_toolbox," +
  "status:status_on_toolbox)";

export const ConnectionRow = z.object({
  id: z.string(),
  agent_id: z.string(),
  mcp_server_instance_id: z.string(),
  connection_config: z.record(z.string(), z.unknown()),
  connection_test_result: z.record(z.string(), z.unknown()).nullable(),
  is_active: z.boolean(),
  connection_status: ConnectionStatus,
  last_used: z.string().nullable(),
  usage_stats: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  updated_at: z.string(),
  created_by: z.string().nullable(),
  server: z.object({ name: z.string(), status: z.string() }).nullable().optional(),
});
export type ConnectionRow = z.infer<typeof ConnectionRow>;

/** Maps a database row to the API's connection. */
export function toConnection(row: ConnectionRow): Connection {
  return {
    id: row.id,
    agentId: row.agent_id,
    mcpServerInstanceId: row.mcp_server_instance_id,
    connectionConfig: row.connection_config as ConnectionConfig,
    connectionTestResult: row.connection_test_result,
    isActive: row.is_active,
    connectionStatus: row.connection_status,
    lastUsed: row.last_used,
    usageStats: row.usage_stats as UsageStats,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
    ...(row.server === undefined ? {} : { server: row.server }),
  };
}
