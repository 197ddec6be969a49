/**
 * `POST /connections/:id/test`: mark the connection `testing` (under the caller's RLS), read
 * the server's credentials (service role), probe its MCP server with them and the
 * connection's own timeout, retries and headers, store the result and the
 * new status. Whatever happens in between (the probe fails, throws, or the caller
 * goes away) the connection does not stay `testing`: a finished probe's result is
 * stored; a cancelled or crashed one puts the previous status back.
 */
import type { DbClient } from "../db/db_client.ts";
import { AppError } from "../errors/app_error.ts";
import type { NetworkPolicy } from "../mcp/network_policy.ts";
import { ProbeOptionsError } from "../mcp/probe_errors.ts";
import type { ProbeOptions } from "../mcp/probe_options.ts";
import type { Connection } from "../schemas/connection.ts";
import type { ConnectionTestResult } from "../schemas/test_result.ts";
import { beginConnectionTest, finishConnectionTest } from "./connections.ts";
import type { ReadServerCredentials } from "./server_credentials.ts";

export type Probe = (url: string, options: ProbeOptions) => Promise<ConnectionTestResult>;

export interface ConnectionTestDeps {
  probe: Probe;
  /**
   * The addresses the probe may reach, passed with every probe. Left out when `probe` applies
   * its own (the mcp-connections function binds the policy when it loads the probe lazily).
   */
  networkPolicy?: NetworkPolicy;
  /**
   * Reads the server's credentials with the service role; called only after the caller's RLS
   * found the connection. Absent: servers are probed without credentials.
   */
  readCredentials?: ReadServerCredentials;
}

export interface ConnectionTestOutcome {
  connection: Connection;
  result: ConnectionTestResult;
}

/** Tests a connection now. `signal` aborts when the caller goes away. */
export async function testConnection(
  db: DbClient,
  id: string,
  deps: ConnectionTestDeps,
  signal?: AbortSignal,
): Promise<ConnectionTestOutcome> {
  // RLS first: the caller's JWT finds (and locks) the connection, or nothing happens.
  const start = await beginConnectionTest(db, id);

  let result: ConnectionTestResult | null = null;
  let failure: unknown = null;
  try {
    // Only then the server's credentials, with the service role.
    const credentials = (await deps.readCredentials?.(start.serverId)) ?? null;
    result = await deps.probe(start.serverUrl, {
      ...start.config,
      networkPolicy: deps.networkPolicy,
      credentials,
      signal,
    });
  } catch (error) {
    failure = error;
  }

  // A cancelled test says nothing about the server: put the previous status back.
  const stored = signal?.aborted || failure !== null ? null : result;
  const connection = await finish(db, id, stored, start.restoreStatus);

  if (failure instanceof ProbeOptionsError) {
    // A URL or config the probe cannot use (written around the API's validation).
    throw new AppError(
      "mcp_server_unreachable",
      `The MCP server cannot be tested with this URL and config: ${failure.message}`,
      undefined,
      { cause: failure },
    );
  }
  if (failure !== null) throw failure;
  return { connection, result: result! };
}

/**
 * The finishing write, which must not leave the connection `testing`: retried once after a
 * transient database error (a timeout, an outage); if the result still cannot be stored, the
 * previous status is put back instead (a smaller write, retried once too) and the error goes to
 * the caller, who may test again. Only a database that refuses even that leaves `testing`.
 */
async function finish(
  db: DbClient,
  id: string,
  result: ConnectionTestResult | null,
  restoreStatus: "connected" | "disconnected" | "error",
): Promise<Connection> {
  try {
    return await withOneRetry(() => finishConnectionTest(db, id, result, restoreStatus));
  } catch (error) {
    if (result === null || !isTransient(error)) throw error;
    await withOneRetry(() => finishConnectionTest(db, id, null, restoreStatus)).catch(() => {});
    throw error;
  }
}

/** Runs `write`, and once more after a short pause if it failed transiently. */
async function withOneRetry<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isTransient(error)) throw error;
    await new Promise((resolve) => setTimeout(resolve, FINISH_RETRY_DELAY_MS));
    return await write();
  }
}

/** Whether a database error may pass: anything but a client error (4xx). */
function isTransient(error: unknown): boolean {
  return !(error instanceof AppError && error.status < 500);
}

const FINISH_RETRY_DELAY_MS = 250;
