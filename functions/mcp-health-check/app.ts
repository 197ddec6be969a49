/**
 * The mcp-health-check function's Hono app: `POST /mcp-health-check` with the
 * service role key (or the cron secret) starts a health check cycle of every active
 * connection (or works on the cycle named by `runId`), probes one batch of it, and
 * answers with what it did and where the cycle stands. `GET /openapi.json` describes it.
 * `index.ts` only builds the dependencies and serves it.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { DbClient } from "../../shared/db/db_client.ts";
import type { MiddlewareHandler } from "hono";
import {
  authorizeServiceCaller,
  CRON_SECRET_HEADER,
  type ServiceCallerSettings,
} from "../../shared/auth/service_caller.ts";
import { AppError } from "../../shared/errors/app_error.ts";
import { runHealthCheck } from "../../shared/health/run_health_check.ts";
import { limitBody } from "../../shared/http/body_limit.ts";
import { errorResponse, renderErrors, routeNotFound } from "../../shared/http/errors.ts";
import { errorResponses, jsonContent } from "../../shared/http/openapi.ts";
import { requestLog, type RequestLogVariables } from "../../shared/http/request_log.ts";
import { rejectInvalidRequest } from "../../shared/http/validation.ts";
import type { Logger } from "../../shared/log/logger.ts";
import type { Probe } from "../../shared/mcp/mod.ts";
import { HealthCheckRequest, HealthCheckSummary } from "../../shared/schemas/health_check.ts";

export const FUNCTION_NAME = "mcp-health-check";
const MAX_BODY_BYTES = 512 * 1024;
const OPENAPI_PATH = "/openapi.json";

export interface HealthCheckAppDeps {
  auth: ServiceCallerSettings;
  db: DbClient;
  /** The deployment's probe, its network policy bound in (`createProbe`). */
  probe: Probe;
  logger: Logger;
  /** Starts another invocation for a cycle (the fan-out); see runHealthCheck. */
  startInvocation?: (runId: string) => void;
}

/** Only the scheduler (or the function itself) may run the check: before any other work. */
function requireServiceCaller(settings: ServiceCallerSettings): MiddlewareHandler {
  return async (c, next) => {
    await authorizeServiceCaller(c.req.raw.headers, settings);
    await next();
  };
}

/** Any one of the scheduler's credentials. */
const SCHEDULER_AUTH: Record<string, string[]>[] = [
  { serviceKey: [] },
  { secretKey: [] },
  { cronSecret: [] },
];

export function createHealthCheckApp(
  deps: HealthCheckAppDeps,
): OpenAPIHono<{ Variables: RequestLogVariables }> {
  const app = new OpenAPIHono<{ Variables: RequestLogVariables }>({
    defaultHook: rejectInvalidRequest,
  }).basePath(`/${FUNCTION_NAME}`);
  app.use(requestLog(deps.logger));
  app.use(limitBody(MAX_BODY_BYTES));

  app.openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["health check"],
      summary: "Start a health check cycle, or work on one: probe one batch of it",
      description: "Without `runId`, starts a cycle of every active connection's target (or " +
        "resumes one whose invocations died) and probes its first batch; with `runId` (the " +
        "function's own fan-out), probes the next batch of that cycle with the options it was " +
        "started with. `{}` runs with the defaults.",
      security: SCHEDULER_AUTH,
      middleware: requireServiceCaller(deps.auth),
      request: {
        body: { content: { "application/json": { schema: HealthCheckRequest } }, required: true },
      },
      responses: {
        200: jsonContent(HealthCheckSummary, "What this invocation did, and where the cycle is"),
        ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503, 504),
      },
    }),
    async (c) => c.json(await runHealthCheck(c.req.valid("json"), deps), 200),
  );
  app.all("/", (c) => {
    c.header("allow", "POST");
    return errorResponse(c, new AppError("method_not_allowed", "Use POST to run a health check."));
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "serviceKey", {
    type: "http",
    scheme: "bearer",
    description: "The project's service role key (a JWT) or a secret key (`sb_secret_…`).",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "secretKey", {
    type: "apiKey",
    in: "header",
    name: "apikey",
    description: "A secret key (`sb_secret_…`), as the Supabase gateway takes it.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "cronSecret", {
    type: "apiKey",
    in: "header",
    name: CRON_SECRET_HEADER,
    description: "The `HEALTH_CHECK_SECRET` configured for the scheduler.",
  });
  app.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "agent-mcp-connections health check",
      version: "1.0.0",
      description: "The scheduled health check of every active MCP connection: a cycle of " +
        "batches, one per invocation (docs/health-check.md).",
    },
    servers: [{ url: "/functions/v1" }],
  });

  app.notFound(routeNotFound);
  app.onError(renderErrors(deps.logger, "health check failed"));
  return app;
}
