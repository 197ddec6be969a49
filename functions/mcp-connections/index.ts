/**
 * Edge function `mcp-connections`: connect agents to MCP servers, test and use the
 * connections. Deploy with `supabase functions deploy mcp-connections`.
 */
import { createJwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import { loadFunctionEnv } from "../../shared/config/function_env.ts";
import { createServiceDbClient } from "../../shared/db/service_client.ts";
import { serverCredentialsReader } from "../../shared/domain/server_credentials.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { createProbe, networkPolicyFromEnv } from "../../shared/mcp/mod.ts";
import { createMcpConnectionsApp, FUNCTION_NAME } from "./app.ts";

const env = loadFunctionEnv();
const { serviceApiKey } = env;
const app = createMcpConnectionsApp({
  env,
  verifyJwt: createJwtVerifier({
    jwks: env.jwks,
    secret: env.jwtSecret,
    jwksUrl: new URL(`${env.supabaseUrl}/auth/v1/.well-known/jwks.json`),
  }),
  // The MCP SDK and the probe's implementation load on the first test (`createProbe`).
  probe: createProbe({ networkPolicy: networkPolicyFromEnv() }),
  // Server credentials: read with the service role, only after RLS found the connection. The
  // service client is built at the first test.
  ...(serviceApiKey
    ? {
      readCredentials: serverCredentialsReader(() =>
        createServiceDbClient(env.supabaseUrl, serviceApiKey)
      ),
    }
    : {}),
  logger: createLogger({ function: FUNCTION_NAME }),
});

Deno.serve(app.fetch);
