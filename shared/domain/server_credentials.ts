/**
 * Reading MCP server credentials for the probe, with the service role (the only role that may:
 * `mcp_server_probe_credentials()`, migration 20261124001200). Callers read them only for a
 * server the caller's RLS has already let them reach: `POST /connections/:id/test` after
 * `begin_agent_mcp_connection_test()` found the connection with the user's JWT, the health
 * check for the targets of the batch it claimed. What comes back is secret: it goes to the
 * probe and nowhere else (no log, no error message, no response).
 *
 * Every read also tells the worker's token cache what it found: a server whose credentials
 * were deleted is forgotten (its tokens with it), one of another version drops its entry.
 */
import type { DbClient } from "../db/db_client.ts";
import { z } from "zod";
import { AppError } from "../errors/app_error.ts";
import { fromPostgrest } from "../db/postgrest_errors.ts";
import {
  parseServerCredentials,
  type ServerCredential,
  type ServerTokenCache,
  serverTokenCache,
} from "../mcp/mod.ts";

const Row = z.object({
  server_id: z.uuid(),
  version: z.number().int().positive(),
  credentials: z.unknown(),
});

/** Reads one server's credentials for `probe()`'s `credentials` (null: it has none). */
export type ReadServerCredentials = (serverId: string) => Promise<ServerCredential | null>;

/**
 * The credentials of `serverIds` by server id (servers without any are absent). Throws an
 * `AppError` for a database failure, or `internal_error` for a stored credential this code
 * cannot read; neither says anything of the values.
 */
export async function readServerCredentials(
  serviceDb: DbClient,
  serverIds: readonly string[],
  tokenCache: ServerTokenCache = serverTokenCache,
): Promise<Map<string, ServerCredential>> {
  const found = new Map<string, ServerCredential>();
  if (serverIds.length === 0) return found;
  const { data, error, status } = await serviceDb.rpc("mcp_server_probe_credentials", {
    p_server_ids: [...new Set(serverIds)],
  });
  if (error) throw fromPostgrest({ error, status }, "reading MCP server credentials");
  for (const raw of Array.isArray(data) ? data : []) {
    const row = Row.safeParse(raw);
    const credentials = row.success ? await parseServerCredentials(row.data.credentials) : null;
    if (!row.success || !credentials) {
      // Only the server id: zod's issues could quote a value.
      const serverId = row.success ? row.data.server_id : "(unknown)";
      throw new AppError(
        "internal_error",
        `The stored credentials of MCP server ${serverId} cannot be used; set them again.`,
      );
    }
    found.set(row.data.server_id, {
      serverId: row.data.server_id,
      version: row.data.version,
      credentials,
    });
  }
  for (const serverId of serverIds) tokenCache.observe(serverId, found.get(serverId) ?? null);
  return found;
}

/**
 * A reader of one server's credentials over the service role client, which it builds at its
 * first read: a worker that never tests a connection never builds it.
 */
export function serverCredentialsReader(
  serviceDb: () => DbClient,
  tokenCache: ServerTokenCache = serverTokenCache,
): ReadServerCredentials {
  let client: DbClient | undefined;
  return async (serverId) => {
    client ??= serviceDb();
    return (await readServerCredentials(client, [serverId], tokenCache)).get(serverId) ?? null;
  };
}

export type { ServerCredential };
