/**
 * Edge function `mcp-connections`: connect agents to MCP servers, test and use the
 * connections. Deploy with `supabase functions deploy mcp-connections`.
 */
import { createJwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import { loadFunctionEnv } from "../../shared/config/function_env.ts";
import { createServiceDbClient } from "../../shared/db/service_client.ts";
import { serverCredentialsReader } from "../../shared/domain/server_credentials.ts";
import type { Probe } from "../../shared/domain/connection_test.ts";
import { createLogger } from "../../shared/http/logger.ts";
import { createMcpConnectionsApp, FUNCTION_NAME } from "./app.ts";

const env = loadFunctionEnv();

/**
 * The probe loads on the first test (`POST /connections/:id/test`): the MCP SDK and the rest of
 * shared/mcp/ stay out of a start that serves the other routes (bench: `--only=cold`;
 * tests/functions/lazy_probe_test.ts keeps it so). The specifier is static, so
 * `supabase functions deploy` bundles the module all the same. The network policy
 * (MCP_PROBE_ALLOWED_NETWORKS) is read then too; a load that fails is tried again next time.
 */
let loadedProbe: Promise<Probe> | null = null;
const probe: Probe = async (url, options) => {
  loadedProbe ??= import("../../shared/mcp/mod.ts").then((mcp) => {
    const networkPolicy = mcp.networkPolicyFromEnv();
    return (target: string, probeOptions: Parameters<Probe>[1]) =>
      mcp.probe(target, { ...probeOptions, networkPolicy });
  }).catch((error) => {
    loadedProbe = null;
    throw error;
  });
  return (await loadedProbe)(url, options);
};

const app = createMcpConnectionsApp({
  env,
  verifyJwt: createJwtVerifier({
    jwks: env.jwks,
    secret: env.jwtSecret,
    jwksUrl: new URL(`${env.supabaseUrl}/auth/v1/.well-known/jwks.json`),
  }),
  probe,
  // Server credentials: read with the service role, only after RLS found the connection.
  ...(env.serviceApiKey
    ? {
      readCredentials: serverCredentialsReader(
        createServiceDbClient(env.supabaseUrl, env.serviceApiKey),
      ),
    }
    : {}),
  logger: createLogger({ function: FUNCTION_NAME }),
});

Deno.serve(app.fetch);
