/**
 * The one place that builds a service-role database client. It bypasses RLS, so
 * only the scheduled health check uses it for its work, and `mcp-connections` only
 * to read a server's credentials after the caller's RLS allowed the connection
 * (`shared/domain/server_credentials.ts`); user requests use `user_client.ts`.
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { DB_REQUEST_TIMEOUT_MS } from "./user_client.ts";

export function createServiceDbClient(supabaseUrl: string, serviceApiKey: string): SupabaseClient {
  return createClient(supabaseUrl, serviceApiKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    db: { retry: false, timeout: DB_REQUEST_TIMEOUT_MS },
  });
}
