/**
 * The mcp-health-check function's Hono app: `POST /mcp-health-check` with the
 * service role key (or the cron secret) starts a health check cycle of every active
 * connection (or works on the cycle named by `runId`), probes one batch of it, and
 * answers with what it did and where the cycle stands.
 */
import type { DbClient } from "../../shared/db/db_client.ts";
import { Hono } from "hono";
import {
  authorizeServiceCaller,
  type ServiceCallerSettings,
} from "../../shared/auth/service_caller.ts";
import { AppError } from "../../shared/errors/app_error.ts";
import { errorResponse, renderErrors, routeNotFound } from "../../shared/http/errors.ts";
import { limitBody } from "../../shared/http/body_limit.ts";
import type { Logger } from "../../shared/http/logger.ts";
import { requestLog, type RequestLogVariables } from "../../shared/http/request_log.ts";
import { describeIssues } from "../../shared/http/validation.ts";
import { runHealthCheck } from "../../shared/health/run_health_check.ts";
import type { ProbeOptions } from "../../shared/mcp/probe_options.ts";
import { HealthCheckRequest } from "../../shared/schemas/health_check.ts";
import type { ConnectionTestResult } from "../../shared/schemas/test_result.ts";

export const FUNCTION_NAME = "mcp-health-check";
const MAX_BODY_BYTES = 512 * 1024;

export interface HealthCheckAppDeps {
  auth: ServiceCallerSettings;
  db: DbClient;
  probe: (url: string, options: ProbeOptions) => Promise<ConnectionTestResult>;
  logger: Logger;
  /** Starts another invocation for a cycle (the fan-out); see runHealthCheck. */
  startInvocation?: (runId: string) => void;
}

async function readOptions(request: Request): Promise<HealthCheckRequest> {
  const text = await request.text();
  if (text.trim() === "") return HealthCheckRequest.parse({});
  const type = request.headers.get("content-type") ?? "application/json";
  if (!/^application\/([\w.+-]*\+)?json\b/i.test(type)) {
    throw new AppError("unsupported_media_type", "Send the options as application/json.");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError("invalid_json", "The request body is not valid JSON.");
  }
  const parsed = HealthCheckRequest.safeParse(body);
  if (!parsed.success) {
    throw new AppError("invalid_request", "The health check options are invalid.", {
      issues: describeIssues(parsed.error),
    });
  }
  return parsed.data;
}

export function createHealthCheckApp(
  deps: HealthCheckAppDeps,
): Hono<{ Variables: RequestLogVariables }> {
  const app = new Hono<{ Variables: RequestLogVariables }>().basePath(`/${FUNCTION_NAME}`);
  app.use(requestLog(deps.logger));
  app.use(limitBody(MAX_BODY_BYTES));

  app.post("/", async (c) => {
    await authorizeServiceCaller(c.req.raw.headers, deps.auth);
    const options = await readOptions(c.req.raw);
    return c.json(await runHealthCheck(options, deps), 200);
  });
  app.all("/", (c) => {
    c.header("allow", "POST");
    return errorResponse(c, new AppError("method_not_allowed", "Use POST to run a health check."));
  });

  app.notFound(routeNotFound);
  app.onError(renderErrors(deps.logger, "health check failed"));
  return app;
}
