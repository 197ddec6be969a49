/**
 * Access to the throw-away stack `deno task test` starts (scripts/test.ts passes
 * its URL and keys in the environment): the project URL, superuser SQL for
 * fixtures and assertions, users with real JWTs, and an HTTP helper that always
 * reads the body (so Deno's sanitizers see no leaked response).
 */
import postgres from "postgres";
import { z } from "zod";
import { mintUserToken } from "../../scripts/stack/keys.ts";

const StackEnv = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_ANON_KEY: z.string().min(1),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1),
  SUPABASE_DB_URL: z.string().min(1),
  STACK_REST_URL: z.url(),
  STACK_JWT_SECRET: z.string().min(16),
  STACK_PUBLISHABLE_KEY: z.string().min(1),
  STACK_SECRET_KEY: z.string().min(1),
  STACK_DEMO_MCP_URL: z.string(),
  STACK_HEALTH_CHECK_SECRET: z.string(),
  /** The stack's log folder (function and PostgREST output, when it logs to files). */
  STACK_LOG_DIR: z.string().default(""),
});

function loadStackEnv() {
  const parsed = StackEnv.safeParse(Deno.env.toObject());
  if (!parsed.success) {
    throw new Error(
      "These tests need the local stack: run them with `deno task test` " +
        "(it starts a throw-away stack and sets SUPABASE_URL, SUPABASE_DB_URL, ...).",
    );
  }
  const e = parsed.data;
  return {
    url: e.SUPABASE_URL,
    anonKey: e.SUPABASE_ANON_KEY,
    serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY,
    dbUrl: e.SUPABASE_DB_URL,
    restUrl: e.STACK_REST_URL,
    jwtSecret: e.STACK_JWT_SECRET,
    publishableKey: e.STACK_PUBLISHABLE_KEY,
    secretKey: e.STACK_SECRET_KEY,
    demoMcpUrl: e.STACK_DEMO_MCP_URL,
    healthCheckSecret: e.STACK_HEALTH_CHECK_SECRET,
    logDir: e.STACK_LOG_DIR,
  };
}

export const stack = loadStackEnv();

/** Superuser SQL for fixtures and checks. Close it (`await using`) at the end of the test. */
export function openDb(): postgres.Sql & AsyncDisposable {
  const sql = postgres(stack.dbUrl, { max: 4, onnotice: () => {} });
  return Object.assign(sql, { [Symbol.asyncDispose]: () => sql.end({ timeout: 5 }) });
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
  /** One agent of the user's. */
  agentId: string;
}

/** A new user (with one agent, optionally the admin role) and a valid access token. */
export async function createUser(
  sql: postgres.Sql,
  options: { admin?: boolean; label?: string } = {},
): Promise<TestUser> {
  const id = crypto.randomUUID();
  const agentId = crypto.randomUUID();
  const email = `${options.label ?? "user"}-${id.slice(0, 8)}@tests.local`;
  await sql`insert into auth.users (id, email, aud, role) values (${id}, ${email}, 'authenticated', 'authenticated')`;
  await sql`insert into public.agents (id, user_id, name) values (${agentId}, ${id}, ${
    "Agent of " + email
  })`;
  if (options.admin) {
    await sql`insert into public.user_roles (user_id, role) values (${id}, 'admin')`;
  }
  const token = await mintUserToken({ sub: id, email, secret: stack.jwtSecret });
  return { id, email, token, agentId };
}

/** Another agent for a user. */
export async function createAgent(sql: postgres.Sql, userId: string): Promise<string> {
  const [row] = await sql<[{ id: string }]>`
    insert into public.agents (user_id, name) values (${userId}, 'Extra agent') returning id
  `;
  return row.id;
}

/** A new MCP server row pointing at `url`. */
export async function createServer(
  sql: postgres.Sql,
  url: string,
  name = "Test MCP server",
): Promise<string> {
  const [row] = await sql<[{ id: string }]>`
    insert into public.account_tool_instances (instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
    values (${name}, 'running', ${url}) returning id
  `;
  return row.id;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** Calls a URL and returns status, headers and the parsed (or raw text) body. */
export async function call<T = unknown>(
  url: string,
  init: RequestInit = {},
): Promise<ApiResponse<T>> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** The mcp-connections function's base URL through the gateway. */
export const API = `${stack.url}/functions/v1/mcp-connections`;

/** A JSON request to the API as a user. */
export function api<T = unknown>(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers["authorization"] = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  }
  return call<T>(`${API}${path}`, { method, headers, body });
}
