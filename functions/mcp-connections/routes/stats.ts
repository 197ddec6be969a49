/** /stats and /admin/*: the caller's statistics; every user's connections for admins. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { adminListConnections, adminStats, userStats } from "../../../shared/domain/connections.ts";
import { BEARER_AUTH, errorResponses, jsonContent } from "../../../shared/http/openapi.ts";
import type { UserVariables } from "../../../shared/http/user_auth.ts";
import { AdminListConnectionsQuery } from "../../../shared/schemas/requests.ts";
import { AdminStats, ConnectionPage, UserStats } from "../../../shared/schemas/responses.ts";

type App = OpenAPIHono<{ Variables: UserVariables }>;

export const userStatsRoute = createRoute({
  method: "get",
  path: "/stats",
  tags: ["stats"],
  summary: "The caller's connection statistics (active connections)",
  security: BEARER_AUTH,
  responses: { 200: jsonContent(UserStats, "Statistics"), ...errorResponses(401, 503) },
});

export const adminListRoute = createRoute({
  method: "get",
  path: "/admin/connections",
  tags: ["admin"],
  summary: "Admins: every user's connections, newest first",
  security: BEARER_AUTH,
  request: { query: AdminListConnectionsQuery },
  responses: {
    200: jsonContent(ConnectionPage, "One page of every user's connections"),
    ...errorResponses(400, 401, 403, 503),
  },
});

export const adminStatsRoute = createRoute({
  method: "get",
  path: "/admin/stats",
  tags: ["admin"],
  summary: "Admins: totals over every user's connections",
  security: BEARER_AUTH,
  responses: { 200: jsonContent(AdminStats, "Totals"), ...errorResponses(401, 403, 503) },
});

export function registerStatsRoutes(app: App): void {
  app.openapi(userStatsRoute, async (c) => c.json(await userStats(c.var.db), 200));
  app.openapi(adminListRoute, async (c) => {
    return c.json(await adminListConnections(c.var.db, c.req.valid("query")), 200);
  });
  app.openapi(adminStatsRoute, async (c) => c.json(await adminStats(c.var.db), 200));
}
