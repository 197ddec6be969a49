/**
 * Edge function `mcp-health-check`: re-tests every active connection, probing each
 * distinct MCP server target once. Called by the scheduler (pg_cron + pg_net on
 * Supabase, the local stack's timer locally) with the service role key or the
 * health check secret; `verify_jwt = false` in config.toml, it checks its caller
 * itself. Deploy with `supabase functions deploy mcp-health-check`.
 */
import { createJwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import { loadFunctionEnv } from "../../shared/config/function_env.ts";
import { createServiceDbClient } from "../../shared/db/service_client.ts";
import { createLogger } from "../../shared/http/logger.ts";
import { networkPolicyFromEnv, probe } from "../../shared/mcp/mod.ts";
import type { ProbeOptions } from "../../shared/mcp/probe_options.ts";
import { createHealthCheckApp, FUNCTION_NAME } from "./app.ts";

const env = loadFunctionEnv();
if (!env.serviceApiKey) {
  throw new Error("mcp-health-check needs SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SECRET_KEYS");
}
const networkPolicy = networkPolicyFromEnv();

const app = createHealthCheckApp({
  auth: {
    serviceKeys: env.serviceKeys,
    cronSecret: env.healthCheckSecret,
    verifyJwt: createJwtVerifier({
      jwks: env.jwks,
      secret: env.jwtSecret,
      jwksUrl: new URL(`${env.supabaseUrl}/auth/v1/.well-known/jwks.json`),
    }),
  },
  db: createServiceDbClient(env.supabaseUrl, env.serviceApiKey),
  probe: (url: string, options: ProbeOptions) => probe(url, { ...options, networkPolicy }),
  logger: createLogger({ function: FUNCTION_NAME }),
});

Deno.serve(app.fetch);
