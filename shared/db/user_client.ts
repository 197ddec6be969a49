/**
 * The database client of a user's request: PostgREST with the caller's own access
 * token, so it runs every query as that user and RLS decides what they may read and
 * write. Never holds the service role key.
 */
import { createDbClient, type DbClient } from "./db_client.ts";

export interface DbClientSettings {
  supabaseUrl: string;
  /** anon / publishable key: PostgREST's `apikey`. */
  publicApiKey: string;
}

/** A client that acts as the user whose token this is. */
export function createUserDbClient(settings: DbClientSettings, accessToken: string): DbClient {
  return createDbClient(settings.supabaseUrl, {
    apiKey: settings.publicApiKey,
    bearer: accessToken,
  });
}
