/**
 * The functions' database client: `@supabase/postgrest-js`, the part of supabase-js that
 * queries PostgREST, on its own. The functions use nothing else of supabase-js (no auth
 * sessions, storage, realtime or functions clients), and importing all of it made each cold
 * start 35–60 ms of CPU longer than postgrest-js alone (docs/benchmarks.md, cold start).
 * The version is the one supabase-js 2.119.1 depends on; the web console and the tests
 * keep supabase-js.
 *
 * Each request carries what supabase-js sends to PostgREST: `apikey` (the anon, publishable
 * or service key) and `Authorization: Bearer <token>` (the caller's access token, or the
 * service key itself), so PostgREST runs the query as that role and RLS applies as before.
 * Failures are the same PostgrestError values, mapped in `postgrest_errors.ts`.
 */
import { PostgrestClient } from "@supabase/postgrest-js";

export type DbClient = PostgrestClient;

/**
 * Milliseconds one PostgREST call may take. Fails fast (database_timeout) instead of
 * holding a request to the function's wall-clock limit.
 */
export const DB_REQUEST_TIMEOUT_MS = 10_000;

/** A PostgREST client of the project's `public` schema, as `bearer` with `apiKey`. */
export function createDbClient(
  supabaseUrl: string,
  credentials: { apiKey: string; bearer: string },
): DbClient {
  return new PostgrestClient(`${supabaseUrl.replace(/\/+$/, "")}/rest/v1`, {
    headers: { apikey: credentials.apiKey, authorization: `Bearer ${credentials.bearer}` },
    schema: "public",
    // No retries: an outage answers 503 at once, and writes are never replayed.
    retry: false,
    timeout: DB_REQUEST_TIMEOUT_MS,
  });
}
