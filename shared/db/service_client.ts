/**
 * The one place that builds a service-role database client. It bypasses RLS, so
 * only the scheduled health check uses it for its work, and `mcp-connections` only
 * to read a server's credentials after the caller's RLS allowed the connection
 * (`shared/domain/server_credentials.ts`); user requests use `user_client.ts`.
 */
import { createDbClient, type DbClient } from "./db_client.ts";

export function createServiceDbClient(supabaseUrl: string, serviceApiKey: string): DbClient {
  // As supabase-js sends it without a session: the key as apikey and as the bearer.
  return createDbClient(supabaseUrl, { apiKey: serviceApiKey, bearer: serviceApiKey });
}
