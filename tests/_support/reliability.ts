/**
 * What the reliability and security suite (tests/reliability/) shares: the function
 * app in-process against the real stack, the API's error shape, a checksum of the
 * module's tables, bounded concurrency, and the soak switch.
 *
 * `RELIABILITY_SOAK=1` scales the load tests up (more events, cases and rounds); CI
 * runs the default sizes.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { createJwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import { loadFunctionEnv } from "../../shared/config/function_env.ts";
import { ERROR_CODES } from "../../shared/errors/app_error.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { createProbe } from "../../shared/mcp/mod.ts";
import { createMcpConnectionsApp } from "../../functions/mcp-connections/app.ts";
import { LOOPBACK_POLICY } from "./mcp_servers.ts";
import { stack } from "./stack.ts";

/** Whether the long soak variant runs (`RELIABILITY_SOAK=1`). */
export const SOAK = Deno.env.get("RELIABILITY_SOAK") === "1";

/** `normal` in CI, `soak` under RELIABILITY_SOAK=1. */
export function scaled(normal: number, soak: number): number {
  return SOAK ? soak : normal;
}

/** The mcp-connections app in this process, on the real stack (its database and keys). */
export function inProcessConnectionsApp(
  logLines: string[] = [],
): ReturnType<typeof createMcpConnectionsApp> {
  return createMcpConnectionsApp({
    env: loadFunctionEnv({ SUPABASE_URL: stack.url, SUPABASE_ANON_KEY: stack.anonKey }),
    verifyJwt: createJwtVerifier({ secret: stack.jwtSecret }),
    probe: createProbe({ networkPolicy: LOOPBACK_POLICY }),
    logger: createLogger({}, (line) => logLines.push(line)),
  });
}

/**
 * Asserts an error response of the API: `{"error": {"code", "message", "details"?}}`,
 * a documented code, and the status that code has.
 */
export function assertErrorShape(status: number, body: unknown, context = ""): string {
  const where = context ? ` (${context})` : "";
  assert.ok(body !== null && typeof body === "object", `an error body is an object${where}`);
  const error = (body as { error?: unknown }).error;
  assert.ok(error !== null && typeof error === "object", `the body has "error"${where}`);
  const { code, message, details, ...rest } = error as Record<string, unknown>;
  assert.equal(typeof code, "string", `error.code is a string${where}`);
  assert.equal(typeof message, "string", `error.message is a string${where}`);
  assert.ok(
    details === undefined || (details !== null && typeof details === "object"),
    `error.details is an object when present${where}`,
  );
  assert.deepEqual(Object.keys(rest), [], `error has no other fields${where}`);
  assert.ok(Object.hasOwn(ERROR_CODES, code as string), `${code} is a documented code${where}`);
  assert.equal(status, ERROR_CODES[code as keyof typeof ERROR_CODES], `status of ${code}${where}`);
  return code as string;
}

/** The tables whose content a request may change. */
const CHECKSUMMED_TABLES = [
  "agent_mcp_connections",
  "agent_mcp_connection_health",
  "mcp_health_checks",
  "mcp_health_check_runs",
  "agents",
  "account_tool_instances",
  "account_tool_instance_secrets",
  "user_roles",
] as const;

/** An md5 of every row of every table of the module, each table in a fixed order. */
export async function tablesChecksum(sql: postgres.Sql): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const table of CHECKSUMMED_TABLES) {
    const [row] = await sql.unsafe<[{ sum: string }]>(
      `select md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as sum
       from public.${table} as t`,
    );
    sums[table] = row.sum;
  }
  return sums;
}

/** Runs `task` over `items` with at most `limit` in flight; resolves with results in order. */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A body read as JSON when it is JSON, else as text (null when empty). */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
