/**
 * The cold start's "before" for mcp-health-check: the function as it is, plus what its start did
 * before: supabase-js loaded and its service client built with it, and the probe
 * (shared/mcp/mod.ts, the MCP SDK) loaded at start instead of at the first authorized request.
 * Run with the functions' import map plus supabase-js (bench/scenarios/cold_start.ts writes it).
 */
import { createClient } from "@supabase/supabase-js";
import "../../shared/mcp/mod.ts";
import "../../functions/mcp-health-check/index.ts";

createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  db: { retry: false, timeout: 10_000 },
});
