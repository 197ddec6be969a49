/**
 * The functions' database client: supabase-js (DESIGN.md §1), used for its PostgREST client
 * only. Each request carries the caller's access token as the bearer and the public key as
 * `apikey` (a user's request), or the service key as both (the service client), so PostgREST
 * runs the query as that role and RLS decides. Failures are PostgrestError values, mapped in
 * `postgrest_errors.ts`.
 *
 * Measured and not taken: `@supabase/postgrest-js` alone (the part of supabase-js the functions
 * use) starts each function 35–60 ms of CPU sooner (docs/benchmarks.md, cold start); the design
 * names supabase-js, and this module is the one place to change if that is revisited.
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";

export type DbClient = SupabaseClient;

/**
 * Milliseconds one PostgREST call may take. Fails fast (database_timeout) instead of
 * holding a request to the function's wall-clock limit.
 */
export const DB_REQUEST_TIMEOUT_MS = 10_000;

/** A client of the project's `public` schema, as `bearer` with `apiKey`. */
export function createDbClient(
  supabaseUrl: string,
  credentials: { apiKey: string; bearer: string },
): DbClient {
  return createClient(supabaseUrl, credentials.apiKey, {
    // The token is given, not a session: supabase-js then builds no auth client and does not
    // look a session up before every request.
    accessToken: () => Promise.resolve(credentials.bearer),
    // No retries: an outage answers 503 at once, and writes are never replayed.
    db: { schema: "public", retry: false, timeout: DB_REQUEST_TIMEOUT_MS },
  });
}
