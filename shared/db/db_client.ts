/**
 * The functions' database client: supabase-js's own PostgREST client, `@supabase/postgrest-js`
 * (the class `supabase.from()` and `supabase.rpc()` run on, from the same release as the
 * project's supabase-js). Each request carries the caller's access token as the bearer and the
 * public key as `apikey` (a user's request), or the service key as both (the service client), so
 * PostgREST runs the query as that role and RLS decides (DESIGN.md §1). Failures are
 * PostgrestError values, mapped in `postgrest_errors.ts`. tests/shared/db/db_client_test.ts holds
 * every request equal to what supabase-js's `createClient()` sends.
 *
 * Why not `createClient()` itself: the functions use its database client only, and the rest of
 * supabase-js (auth-js, realtime-js, functions-js, storage-js) has no `exports` map, so Deno loads
 * their CommonJS builds through its Node layer at every cold start: 30–50 ms before the first
 * answer (docs/benchmarks.md, cold start); and each signed-in user's client also built a realtime
 * and a storage client it never used. postgrest-js documents the standalone import for such
 * bundle-sensitive runtimes.
 */
import { PostgrestClient } from "@supabase/postgrest-js";

export type DbClient = PostgrestClient;

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
  return new PostgrestClient(`${supabaseUrl}/rest/v1`, {
    headers: { apikey: credentials.apiKey, authorization: `Bearer ${credentials.bearer}` },
    schema: "public",
    // No retries: an outage answers 503 at once, and writes are never replayed.
    retry: false,
    timeout: DB_REQUEST_TIMEOUT_MS,
  });
}
