/**
 * Edge function `mcp-health-check`: re-tests every active connection, probing each
 * distinct MCP server target once per cycle, one batch per invocation. Called by the
 * scheduler (pg_cron + pg_net on Supabase, the local stack's timer locally) with the
 * service role key or the health check secret; `verify_jwt = false` in config.toml,
 * it checks its caller itself. It calls itself (`POST {runId}`, with the service
 * key) to spread a cycle over several invocations. Deploy with
 * `supabase functions deploy mcp-health-check`.
 */
import { createJwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import { loadFunctionEnv } from "../../shared/config/function_env.ts";
import { createServiceDbClient } from "../../shared/db/service_client.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { createProbe, networkPolicyFromEnv } from "../../shared/mcp/mod.ts";
import { createHealthCheckApp, FUNCTION_NAME } from "./app.ts";

const env = loadFunctionEnv();
if (!env.serviceApiKey) {
  throw new Error("mcp-health-check needs SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SECRET_KEYS");
}
const logger = createLogger({ function: FUNCTION_NAME });
const serviceApiKey = env.serviceApiKey;
const selfUrl = `${env.supabaseUrl}/functions/v1/${FUNCTION_NAME}`;

/** The platform's hook that keeps a worker alive for work after its response. */
const edgeRuntime = (globalThis as {
  EdgeRuntime?: { waitUntil(promise: Promise<unknown>): void };
}).EdgeRuntime;

/**
 * Starts another invocation for the cycle and does not wait for its answer here:
 * the request is awaited in the background (EdgeRuntime.waitUntil where there is one),
 * its outcome only logged.
 */
function startInvocation(runId: string): void {
  const call = fetch(selfUrl, {
    method: "POST",
    headers: {
      authorization: `Bearer ${serviceApiKey}`,
      apikey: serviceApiKey,
      "content-type": "application/json",
    },
    body: JSON.stringify({ runId }),
  }).then(async (response) => {
    await response.body?.cancel();
    if (!response.ok && response.status !== 409) {
      logger.warn("health check invocation failed", { runId, status: response.status });
    }
  }).catch((error) => {
    logger.warn("health check invocation not started", {
      runId,
      error: error instanceof Error ? error.message : String(error),
    });
  });
  edgeRuntime?.waitUntil(call);
}

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
  probe: createProbe({ networkPolicy: networkPolicyFromEnv() }),
  logger,
  startInvocation,
});

Deno.serve(app.fetch);
