/** Reports over time: usage and health series of a connection, the caller's and admins' usage. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import {
  adminUsageByUser,
  adminUsageSeries,
  connectionHealthSeries,
  connectionUsageSeries,
  usageByConnection,
  usageSeries,
} from "../../../shared/domain/usage_reports.ts";
import { BEARER_AUTH, errorResponses, jsonContent } from "../../../shared/http/openapi.ts";
import type { UserVariables } from "../../../shared/http/user_auth.ts";
import { ConnectionIdParam } from "../../../shared/schemas/requests.ts";
import {
  ConnectionHealthSeries,
  ConnectionUsageSeries,
  RangeQuery,
  SeriesQuery,
  UsageByConnection,
  UsageByUser,
  UsageSeries,
} from "../../../shared/schemas/usage_history.ts";

type App = OpenAPIHono<{ Variables: UserVariables }>;

const tags = ["reports"];
const RANGE_NOTE = "`from` (default: 24 h before `to`) and `to` (default: now) are ISO 8601 " +
  "date-times; the range is [from, to) in UTC. Hourly points exist within the retention " +
  "window (30 days by default); daily points cover the whole history.";

export const connectionUsageSeriesRoute = createRoute({
  method: "get",
  path: "/connections/{id}/usage",
  tags,
  summary: "A connection's usage over time (requests, failures, bytes, latency percentiles)",
  description: RANGE_NOTE,
  security: BEARER_AUTH,
  request: { params: ConnectionIdParam, query: SeriesQuery },
  responses: {
    200: jsonContent(ConnectionUsageSeries, "One point per bucket, empty buckets included"),
    ...errorResponses(400, 401, 404, 503),
  },
});

export const connectionHealthSeriesRoute = createRoute({
  method: "get",
  path: "/connections/{id}/health",
  tags,
  summary: "A connection's health checks over time (uptime, latency percentiles)",
  description: RANGE_NOTE,
  security: BEARER_AUTH,
  request: { params: ConnectionIdParam, query: SeriesQuery },
  responses: {
    200: jsonContent(ConnectionHealthSeries, "One point per bucket, empty buckets included"),
    ...errorResponses(400, 401, 404, 503),
  },
});

export const usageSeriesRoute = createRoute({
  method: "get",
  path: "/usage",
  tags,
  summary: "The caller's usage over time, summed over their connections",
  description: RANGE_NOTE,
  security: BEARER_AUTH,
  request: { query: SeriesQuery },
  responses: {
    200: jsonContent(UsageSeries, "One point per bucket, empty buckets included"),
    ...errorResponses(400, 401, 503),
  },
});

export const usageByConnectionRoute = createRoute({
  method: "get",
  path: "/usage/connections",
  tags,
  summary: "The caller's usage over a range, per connection",
  description: RANGE_NOTE,
  security: BEARER_AUTH,
  request: { query: RangeQuery },
  responses: {
    200: jsonContent(UsageByConnection, "Connections used in the range, busiest first"),
    ...errorResponses(400, 401, 503),
  },
});

export const adminUsageSeriesRoute = createRoute({
  method: "get",
  path: "/admin/usage",
  tags: ["admin"],
  summary: "Admins: every user's usage over time",
  description: RANGE_NOTE,
  security: BEARER_AUTH,
  request: { query: SeriesQuery },
  responses: {
    200: jsonContent(UsageSeries, "One point per bucket, empty buckets included"),
    ...errorResponses(400, 401, 403, 503),
  },
});

export const adminUsageByUserRoute = createRoute({
  method: "get",
  path: "/admin/usage/users",
  tags: ["admin"],
  summary: "Admins: usage over a range, per user",
  description: RANGE_NOTE,
  security: BEARER_AUTH,
  request: { query: RangeQuery },
  responses: {
    200: jsonContent(UsageByUser, "Users whose connections were used, busiest first"),
    ...errorResponses(400, 401, 403, 503),
  },
});

export function registerReportRoutes(app: App): void {
  app.openapi(connectionUsageSeriesRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await connectionUsageSeries(c.var.db, id, c.req.valid("query")), 200);
  });
  app.openapi(connectionHealthSeriesRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await connectionHealthSeries(c.var.db, id, c.req.valid("query")), 200);
  });
  app.openapi(usageSeriesRoute, async (c) => {
    return c.json(await usageSeries(c.var.db, c.req.valid("query")), 200);
  });
  app.openapi(usageByConnectionRoute, async (c) => {
    return c.json(await usageByConnection(c.var.db, c.req.valid("query")), 200);
  });
  app.openapi(adminUsageSeriesRoute, async (c) => {
    return c.json(await adminUsageSeries(c.var.db, c.req.valid("query")), 200);
  });
  app.openapi(adminUsageByUserRoute, async (c) => {
    return c.json(await adminUsageByUser(c.var.db, c.req.valid("query")), 200);
  });
}
