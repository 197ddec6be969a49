/**
 * A typed client for web apps: every route of the mcp-connections function, with
 * request and response types inferred from the same zod schemas the function
 * validates with. Responses are parsed, so a mismatch fails loudly.
 *
 * ```ts
 * import { createMcpConnectionsClient } from "./shared/client/mcp_connections_client.ts";
 * const client = createMcpConnectionsClient({
 *   supabaseUrl: SUPABASE_URL,
 *   accessToken: async () => (await supabase.auth.getSession()).data.session?.access_token ?? null,
 * });
 * const connection = await client.connect({ agentId, mcpServerInstanceId });
 * const { result } = await client.test(connection.id);
 * ```
 */
import type { z } from "zod";
import { Connection } from "../schemas/connection.ts";
import type {
  AdminListConnectionsQuery,
  CreateConnectionRequest,
  ListConnectionsQuery,
  UpdateConnectionRequest,
} from "../schemas/requests.ts";
import {
  AdminStats,
  ConnectionPage,
  ErrorBody,
  RecordUsageResponse,
  TestConnectionResponse,
  UserStats,
} from "../schemas/responses.ts";
import type { RecordUsageRequest } from "../schemas/usage.ts";
import {
  ConnectionHealthSeries,
  ConnectionUsageSeries,
  type RangeQuery,
  type SeriesQuery,
  UsageByConnection,
  UsageByUser,
  UsageSeries,
} from "../schemas/usage_history.ts";
import { RecommendationList } from "../schemas/recommendations.ts";

/** An error answer of the API: its status, code, message and details. */
export class McpConnectionsApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "McpConnectionsApiError";
  }
}

export interface McpConnectionsClientOptions {
  /** The project URL, e.g. https://xyz.supabase.co (or http://127.0.0.1:54321 locally). */
  supabaseUrl: string;
  /** The signed-in user's current access token. */
  accessToken: () => string | null | Promise<string | null>;
  /** The function's name, if deployed under another one. */
  functionName?: string;
  fetch?: typeof fetch;
}

/** Query parameters as sent (every one optional; the server fills in defaults). */
type ListQuery = Omit<z.input<typeof ListConnectionsQuery>, "limit"> & { limit?: number };
type AdminQuery = Omit<z.input<typeof AdminListConnectionsQuery>, "limit"> & { limit?: number };
type Series = z.input<typeof SeriesQuery>;
type Range = z.input<typeof RangeQuery>;

export interface McpConnectionsClient {
  connect(request: CreateConnectionRequest): Promise<Connection>;
  list(query?: ListQuery): Promise<ConnectionPage>;
  get(id: string): Promise<Connection>;
  updateConfig(id: string, request: UpdateConnectionRequest): Promise<Connection>;
  disconnect(id: string): Promise<Connection>;
  test(id: string): Promise<TestConnectionResponse>;
  recordUsage(id: string, request: RecordUsageRequest): Promise<RecordUsageResponse>;
  stats(): Promise<UserStats>;
  adminList(query?: AdminQuery): Promise<ConnectionPage>;
  adminStats(): Promise<AdminStats>;
  usageSeries(id: string, query?: Series): Promise<ConnectionUsageSeries>;
  healthSeries(id: string, query?: Series): Promise<ConnectionHealthSeries>;
  myUsage(query?: Series): Promise<UsageSeries>;
  myUsageByConnection(query?: Range): Promise<UsageByConnection>;
  adminUsage(query?: Series): Promise<UsageSeries>;
  adminUsageByUser(query?: Range): Promise<UsageByUser>;
  /** MCP servers to connect the agent to next, best first (limit 1 .. 50, default 5). */
  recommendations(agentId: string, query?: { limit?: number }): Promise<RecommendationList>;
}

function queryString(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function createMcpConnectionsClient(
  options: McpConnectionsClientOptions,
): McpConnectionsClient {
  const base = `${options.supabaseUrl.replace(/\/+$/, "")}/functions/v1/${
    options.functionName ?? "mcp-connections"
  }`;
  const doFetch = options.fetch ?? fetch;

  async function request<T>(
    schema: z.ZodType<T>,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const token = await options.accessToken();
    const headers: Record<string, string> = {};
    if (token) headers["authorization"] = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await doFetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (e.g. a proxy's error page)
    }
    if (!response.ok) {
      const error = ErrorBody.safeParse(json);
      if (error.success) {
        const { code, message, details } = error.data.error;
        throw new McpConnectionsApiError(response.status, code, message, details);
      }
      throw new McpConnectionsApiError(
        response.status,
        "http_error",
        text.slice(0, 500) || response.statusText,
      );
    }
    return schema.parse(json);
  }

  const connectionPath = (id: string) => `/connections/${encodeURIComponent(id)}`;

  return {
    connect: (body) => request(Connection, "POST", "/connections", body),
    list: (query = {}) => request(ConnectionPage, "GET", `/connections${queryString(query)}`),
    get: (id) => request(Connection, "GET", connectionPath(id)),
    updateConfig: (id, body) => request(Connection, "PATCH", connectionPath(id), body),
    disconnect: (id) => request(Connection, "DELETE", connectionPath(id)),
    test: (id) => request(TestConnectionResponse, "POST", `${connectionPath(id)}/test`),
    recordUsage: (id, body) =>
      request(RecordUsageResponse, "POST", `${connectionPath(id)}/usage`, body),
    stats: () => request(UserStats, "GET", "/stats"),
    adminList: (query = {}) =>
      request(ConnectionPage, "GET", `/admin/connections${queryString(query)}`),
    adminStats: () => request(AdminStats, "GET", "/admin/stats"),
    usageSeries: (id, query = {}) =>
      request(ConnectionUsageSeries, "GET", `${connectionPath(id)}/usage${queryString(query)}`),
    healthSeries: (id, query = {}) =>
      request(ConnectionHealthSeries, "GET", `${connectionPath(id)}/health${queryString(query)}`),
    myUsage: (query = {}) => request(UsageSeries, "GET", `/usage${queryString(query)}`),
    myUsageByConnection: (query = {}) =>
      request(UsageByConnection, "GET", `/usage/connections${queryString(query)}`),
    adminUsage: (query = {}) => request(UsageSeries, "GET", `/admin/usage${queryString(query)}`),
    adminUsageByUser: (query = {}) =>
      request(UsageByUser, "GET", `/admin/usage/users${queryString(query)}`),
    recommendations: (agentId, query = {}) =>
      request(
        RecommendationList,
        "GET",
        `/agents/${encodeURIComponent(agentId)}/recommendations${queryString(query)}`,
      ),
  };
}
