/**
 * The cold start's "before" for mcp-health-check: the function as it is, plus what its start did
 * before it built its database client with postgrest-js alone: supabase-js loaded, and the
 * service client built with it. Run with the functions' import map plus supabase-js
 * (bench/scenarios/cold_start.ts writes it).
 */
import { createClient } from "@supabase/supabase-js";
import "../../functions/mcp-health-check/index.ts";

createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  db: { retry: false, timeout: 10_000 },
});
