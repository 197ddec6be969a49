/**
 * `POST /connections/:id/test`: mark the connection `testing`, probe its MCP server
 * with the connection's own timeout, retries and headers, store the result and the
 * new status. Whatever happens in between (the probe fails, throws, or the caller
 * goes away) the connection does not stay `testing`: a finished probe's result is
 * stored; a cancelled or crashed one puts the previous status back.
 */
import type { DbClient } from "../db/db_client.ts";
import { fromPostgrest } from "../db/postgrest_errors.ts";
import { AppError } from "../errors/app_error.ts";
import { type Probe, ProbeOptionsError } from "../mcp/mod.ts";
import {
  type Connection,
  CONNECTION_COLUMNS,
  ConnectionRow,
  toConnection,
} from "../schemas/connection.ts";
import type { ConnectionConfig } from "../schemas/connection_config.ts";
import type { ConnectionTestResult } from "../schemas/test_result.ts";
import type { ReadServerCredentials } from "./server_credentials.ts";

export interface ConnectionTestDeps {
  /** The deployment's probe, its network policy bound in (`createProbe`). */
  probe: Probe;
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
    result = await deps.probe(start.serverUrl, { ...start.config, credentials, signal });
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

export interface TestStart {
  /** The status to put back if the test is cancelled. */
  restoreStatus: "connected" | "disconnected" | "error";
  config: ConnectionConfig;
  serverUrl: string;
  /** The server's id: the key of its credentials. */
  serverId: string;
}

/**
 * Marks an active connection as `testing` and returns what the probe needs. SQL
 * refuses with `connection_not_found`, `connection_inactive`, `mcp_server_not_running`
 * or `mcp_server_unreachable` (no URL), changing nothing.
 */
export async function beginConnectionTest(db: DbClient, id: string): Promise<TestStart> {
  const { data, error, status } = await db.rpc("begin_agent_mcp_connection_test", {
    p_connection_id: id,
  }).single<
    {
      previous_status: string;
      connection_config: ConnectionConfig;
      mcp_server_url: string;
      mcp_server_id: string;
    }
  >();
  if (error) throw fromPostgrest({ error, status }, "starting a connection test");
  const previous = data.previous_status;
  return {
    restoreStatus: previous === "connected" || previous === "error" ? previous : "disconnected",
    config: data.connection_config,
    serverUrl: data.mcp_server_url,
    serverId: data.mcp_server_id,
  };
}

/** Stores a test's result (or, with `result` null, undoes a cancelled test's `testing`). */
export async function finishConnectionTest(
  db: DbClient,
  id: string,
  result: Record<string, unknown> | null,
  restoreStatus: TestStart["restoreStatus"],
): Promise<Connection> {
  const { data, error, status } = await db.rpc("finish_agent_mcp_connection_test", {
    p_connection_id: id,
    p_result: result,
    p_restore_status: restoreStatus,
  }).select(CONNECTION_COLUMNS).single();
  if (error) throw fromPostgrest({ error, status }, "storing a test result");
  return toConnection(ConnectionRow.parse(data));
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
