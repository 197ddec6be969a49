/**
 * The mcp-connections function's Hono app: middleware, routes, OpenAPI document
 * and error handling. `index.ts` only builds the dependencies and serves it.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import type { JwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import type { FunctionEnv } from "../../shared/config/function_env.ts";
import type { ConnectionTestDeps } from "../../shared/domain/connection_test.ts";
import { renderErrors, routeNotFound } from "../../shared/http/errors.ts";
import { limitBody } from "../../shared/http/body_limit.ts";
import type { Logger } from "../../shared/log/logger.ts";
import { requestLog } from "../../shared/http/request_log.ts";
import { requireUser, type UserVariables } from "../../shared/http/user_auth.ts";
import { rejectInvalidRequest } from "../../shared/http/validation.ts";
import { registerConnectionRoutes } from "./routes/connections.ts";
import { registerReportRoutes } from "./routes/reports.ts";
import { registerRecommendationRoutes } from "./routes/recommendations.ts";
import { registerStatsRoutes } from "./routes/stats.ts";

/** The function's name: Supabase passes `/functions/v1/<name>/...` to it as `/<name>/...`. */
export const FUNCTION_NAME = "mcp-connections";
/** Largest request body (a batch of 1000 usage events, or a config with 32 long headers). */
export const MAX_BODY_BYTES = 256 * 1024;
const OPENAPI_PATH = "/openapi.json";

export interface McpConnectionsDeps extends ConnectionTestDeps {
  env: Pick<FunctionEnv, "supabaseUrl" | "publicApiKey" | "corsOrigins" | "jwtIssuer">;
  verifyJwt: JwtVerifier;
  logger: Logger;
}

export function createMcpConnectionsApp(
  deps: McpConnectionsDeps,
): OpenAPIHono<{ Variables: UserVariables }> {
  const app = new OpenAPIHono<{ Variables: UserVariables }>({ defaultHook: rejectInvalidRequest })
    .basePath(`/${FUNCTION_NAME}`);

  app.use(requestLog(deps.logger));
  app.use(cors({
    origin: deps.env.corsOrigins,
    allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: ["authorization", "apikey", "content-type", "x-client-info", "x-request-id"],
    exposeHeaders: ["x-request-id"],
    maxAge: 86_400,
  }));
  app.use(limitBody(MAX_BODY_BYTES));

  const authenticate = requireUser(deps.verifyJwt, deps.env, { issuer: deps.env.jwtIssuer });
  app.use(async (c, next) => {
    if (c.req.path === `/${FUNCTION_NAME}${OPENAPI_PATH}`) return await next();
    return await authenticate(c, next);
  });

  registerConnectionRoutes(app, deps);
  registerStatsRoutes(app);
  registerReportRoutes(app);
  registerRecommendationRoutes(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The signed-in user's Supabase access token.",
  });
  app.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "agent-mcp-connections",
      version: "1.0.0",
      description: "Connect AI agents to MCP servers, test the connections with a real MCP " +
        "handshake, and record their usage. Row Level Security decides what each user sees.",
    },
    servers: [{ url: `${deps.env.supabaseUrl}/functions/v1` }],
  });

  app.notFound(routeNotFound);
  app.onError(renderErrors(deps.logger, "request failed"));
  return app;
}
