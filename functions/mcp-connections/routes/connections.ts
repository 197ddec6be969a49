/** /connections: connect, list, read, update, disconnect, test, record usage. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  createConnection,
  disconnectConnection,
  getConnection,
  listConnections,
  recordUsage,
  updateConnectionConfig,
} from "../../../shared/domain/connections.ts";
import { type ConnectionTestDeps, testConnection } from "../../../shared/domain/connection_test.ts";
import { BEARER_AUTH, errorResponses, jsonContent } from "../../../shared/http/openapi.ts";
import type { UserVariables } from "../../../shared/http/user_auth.ts";
import { Connection } from "../../../shared/schemas/connection.ts";
import {
  ConnectionIdParam,
  CreateConnectionRequest,
  ListConnectionsQuery,
  UpdateConnectionRequest,
} from "../../../shared/schemas/requests.ts";
import {
  ConnectionPage,
  RecordUsageResponse,
  TestConnectionResponse,
} from "../../../shared/schemas/responses.ts";
import { RecordUsageRequest, usageEvents } from "../../../shared/schemas/usage.ts";

type App = OpenAPIHono<{ Variables: UserVariables }>;

const jsonBody = <T extends Parameters<typeof jsonContent>[0]>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

const tags = ["connections"];

export const createConnectionRoute = createRoute({
  method: "post",
  path: "/connections",
  tags,
  summary: "Connect an agent to an MCP server",
  security: BEARER_AUTH,
  request: jsonBody(CreateConnectionRequest),
  responses: {
    201: jsonContent(Connection, "The new connection (status disconnected until tested)"),
    ...errorResponses(400, 401, 404, 409, 413, 415, 503),
  },
});

export const listConnectionsRoute = createRoute({
  method: "get",
  path: "/connections",
  tags,
  summary: "List the caller's connections, newest first",
  security: BEARER_AUTH,
  request: { query: ListConnectionsQuery },
  responses: {
    200: jsonContent(ConnectionPage, "One page; pass nextCursor as cursor for the next"),
    ...errorResponses(400, 401, 503),
  },
});

export const getConnectionRoute = createRoute({
  method: "get",
  path: "/connections/{id}",
  tags,
  summary: "Read one connection",
  security: BEARER_AUTH,
  request: { params: ConnectionIdParam },
  responses: {
    200: jsonContent(Connection, "The connection"),
    ...errorResponses(400, 401, 404, 503),
  },
});

export const updateConnectionRoute = createRoute({
  method: "patch",
  path: "/connections/{id}",
  tags,
  summary: "Replace a connection's config",
  security: BEARER_AUTH,
  request: { params: ConnectionIdParam, ...jsonBody(UpdateConnectionRequest) },
  responses: {
    200: jsonContent(Connection, "The updated connection"),
    ...errorResponses(400, 401, 404, 409, 413, 415, 503),
  },
});

export const disconnectConnectionRoute = createRoute({
  method: "delete",
  path: "/connections/{id}",
  tags,
  summary: "Disconnect (soft delete: the row stays as history)",
  security: BEARER_AUTH,
  request: { params: ConnectionIdParam },
  responses: {
    200: jsonContent(Connection, "The disconnected connection"),
    ...errorResponses(400, 401, 404, 503),
  },
});

export const testConnectionRoute = createRoute({
  method: "post",
  path: "/connections/{id}/test",
  tags,
  summary: "Test the connection with a real MCP handshake now",
  description: "MCP server failures are a 200 with result.success false and a classified " +
    "result.error; the connection's status becomes connected or error.",
  security: BEARER_AUTH,
  request: { params: ConnectionIdParam },
  responses: {
    200: jsonContent(TestConnectionResponse, "The stored result and the updated connection"),
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

export const recordUsageRoute = createRoute({
  method: "post",
  path: "/connections/{id}/usage",
  tags,
  summary: "Record one usage event or a batch of up to 1000, atomically",
  security: BEARER_AUTH,
  request: { params: ConnectionIdParam, ...jsonBody(RecordUsageRequest) },
  responses: {
    200: jsonContent(RecordUsageResponse, "The connection's new usage statistics"),
    ...errorResponses(400, 401, 404, 409, 413, 415, 503),
  },
});

export function registerConnectionRoutes(app: App, deps: ConnectionTestDeps): void {
  app.openapi(createConnectionRoute, async (c) => {
    return c.json(await createConnection(c.var.db, c.req.valid("json")), 201);
  });
  app.openapi(listConnectionsRoute, async (c) => {
    return c.json(await listConnections(c.var.db, c.req.valid("query")), 200);
  });
  app.openapi(getConnectionRoute, async (c) => {
    return c.json(await getConnection(c.var.db, c.req.valid("param").id), 200);
  });
  app.openapi(updateConnectionRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await updateConnectionConfig(c.var.db, id, c.req.valid("json").config), 200);
  });
  app.openapi(disconnectConnectionRoute, async (c) => {
    return c.json(await disconnectConnection(c.var.db, c.req.valid("param").id), 200);
  });
  app.openapi(testConnectionRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await testConnection(c.var.db, id, deps, c.req.raw.signal), 200);
  });
  app.openapi(recordUsageRoute, async (c) => {
    const { id } = c.req.valid("param");
    const usageStats = await recordUsage(c.var.db, id, usageEvents(c.req.valid("json")));
    return c.json({ usageStats }, 200);
  });
}
