/**
 * The database client of a user's request: supabase-js carrying the caller's own
 * access token, so PostgREST runs every query as that user and RLS decides what
 * they may read and write. Never holds the service role key.
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";

export interface DbClientSettings {
  supabaseUrl: string;
  /** anon / publishable key: PostgREST's `apikey`. */
  publicApiKey: string;
}

/**
 * Milliseconds one PostgREST call may take. Fails fast (database_timeout) instead of
 * holding a request to the function's wall-clock limit.
 */
export const DB_REQUEST_TIMEOUT_MS = 10_000;

/** A client that acts as the user whose token this is. */
export function createUserDbClient(
  settings: DbClientSettings,
  accessToken: string,
): SupabaseClient {
  return createClient(settings.supabaseUrl, settings.publicApiKey, {
    // The token is given, not a session: supabase-js then builds no auth client and
    // does not look a session up before every request.
    accessToken: () => Promise.resolve(accessToken),
    // No retries: an outage answers 503 at once, and writes are never replayed.
    db: { retry: false, timeout: DB_REQUEST_TIMEOUT_MS },
  });
}
