/**
 * POST /connections/:id/test against real MCP servers started by the test, through
 * the gateway (and once in-process, to cancel a running test). Each failure class end to end:
 * tests/functions/mcp_faults_test.ts.
 */
import assert from "node:assert/strict";
import type { DbClient } from "../../../shared/db/db_client.ts";
import type postgres from "postgres";
import { createJwtVerifier } from "../../../shared/auth/jwt_verifier.ts";
import { createUserDbClient } from "../../../shared/db/user_client.ts";
import { testConnection } from "../../../shared/domain/connection_test.ts";
import { AppError } from "../../../shared/errors/app_error.ts";
import { loadFunctionEnv } from "../../../shared/config/function_env.ts";
import { createLogger } from "../../../shared/log/logger.ts";
import { createProbe } from "../../../shared/mcp/mod.ts";
import type { Connection } from "../../../shared/schemas/connection.ts";
import type { ErrorBody, TestConnectionResponse } from "../../../shared/schemas/responses.ts";
import { ConnectionTestResult, RESULT_BOUNDS } from "../../../shared/schemas/test_result.ts";
import { createMcpConnectionsApp } from "../../../functions/mcp-connections/app.ts";
import {
  LOOPBACK_POLICY,
  startFaultServer,
  startHandshakeServer,
  startHostileServer,
  startModernServer,
} from "../../_support/mcp_servers.ts";
import {
  api,
  createAgent,
  createServer,
  createUser,
  openDb,
  stack,
  type TestUser,
} from "../../_support/stack.ts";

async function connect(
  token: string,
  agentId: string,
  serverId: string,
  config: Record<string, unknown> = {},
) {
  const res = await api<Connection>("POST", "/connections", {
    token,
    body: { agentId, mcpServerInstanceId: serverId, config },
  });
  assert.equal(res.status, 201);
  return res.body.id;
}

/** Registers `url` as a server, connects the user's agent to it with `config`, tests it once. */
async function connectAndTest(
  sql: postgres.Sql,
  user: TestUser,
  url: string,
  name: string,
  config: Record<string, unknown>,
) {
  const serverId = await createServer(sql, url, name);
  const id = await connect(user.token, user.agentId, serverId, config);
  const res = await api<TestConnectionResponse>("POST", `/connections/${id}/test`, {
    token: user.token,
  });
  return { id, res };
}

Deno.test("POST /connections/:id/test", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "tester" });

  await t.step("runs a real MCP handshake and stores the result: connected", async () => {
    await using server = await startModernServer({ tools: 3 });
    const { id, res } = await connectAndTest(sql, user, server.url, "Modern", {
      timeout: 5000,
      customHeaders: { "X-Api-Key": "secret-1" },
    });
    assert.equal(res.status, 200);
    const result = ConnectionTestResult.parse(res.body.result);
    assert.equal(result.success, true);
    assert.equal(result.error, null);
    assert.equal(result.era, "modern");
    assert.equal(result.transport, "streamable-http");
    assert.equal(result.toolCount, 3);
    assert.ok(result.capabilities.includes("tools"));
    assert.equal(res.body.connection.connectionStatus, "connected");
    assert.deepEqual(res.body.connection.connectionTestResult, res.body.result);
    const [row] =
      await sql`select connection_status, connection_test_result from agent_mcp_connections where id = ${id}`;
    assert.equal(row!.connection_status, "connected");
    assert.deepEqual(row!.connection_test_result, res.body.result);
    assert.ok(server.requests.length > 0);
    assert.ok(
      server.requests.every((r) => r.headers["x-api-key"] === "secret-1"),
      "custom headers on every request",
    );
  });

  await t.step("speaks the handshake era too", async () => {
    await using server = await startHandshakeServer({ tools: 2 });
    const { res } = await connectAndTest(sql, user, server.url, "Handshake", { timeout: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.body.result.success, true);
    assert.equal(res.body.result.era, "legacy");
    assert.equal(res.body.result.toolCount, 2);
  });

  await t.step(
    "a server answering 8 pages of 3.9 MB tool names gets a bounded stored result, " +
      "and the status error",
    async () => {
      await using hostile = await startHostileServer({ toolNameLength: 3_900_000, pages: 8 });
      const { id, res } = await connectAndTest(sql, user, hostile.url, "Hostile pages", {
        timeout: 20_000,
      });
      assert.equal(res.status, 200);
      const result = ConnectionTestResult.parse(res.body.result);
      assert.equal(result.error?.class, "invalid_response");
      assert.equal(result.truncated, true);
      assert.equal(res.body.connection.connectionStatus, "error");
      const [row] = await sql`
        select connection_status, octet_length(connection_test_result::text) as bytes
          from agent_mcp_connections where id = ${id}`;
      assert.equal(row!.connection_status, "error");
      assert.ok(row!.bytes <= RESULT_BOUNDS.serializedBytes, `${row!.bytes} bytes stored`);
    },
  );

  await t.step(
    "a server whose names hold NUL and unpaired surrogates is stored, connected",
    async () => {
      await using hostile = await startHostileServer({
        toolNames: ["nul\u0000name", "lone\ud800surrogate"],
        serverInfoLength: 1024 * 1024,
      });
      const { id, res } = await connectAndTest(sql, user, hostile.url, "Hostile strings", {
        timeout: 10_000,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.result.success, true);
      assert.equal(res.body.connection.connectionStatus, "connected");
      const [row] = await sql`
        select connection_test_result->'tools' as tools,
               octet_length(connection_test_result::text) as bytes
          from agent_mcp_connections where id = ${id}`;
      assert.deepEqual((row!.tools as string[]).slice(0, 2), [
        "nul\ufffdname",
        "lone\ufffdsurrogate",
      ]);
      assert.ok(row!.bytes <= RESULT_BOUNDS.serializedBytes, `${row!.bytes} bytes stored`);
    },
  );

  await t.step(
    "answers 409 mcp_server_unreachable when the server has no URL, changing nothing",
    async () => {
      const [server] =
        await sql`insert into account_tool_instances (instance_name_on_toolbox) values ('No URL') returning id`;
      const agentId = await createAgent(sql, user.id);
      const id = await connect(user.token, agentId, server!.id);
      const res = await api<ErrorBody>("POST", `/connections/${id}/test`, { token: user.token });
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, "mcp_server_unreachable");
      const [row] = await sql`select connection_status from agent_mcp_connections where id = ${id}`;
      assert.equal(row!.connection_status, "disconnected");
    },
  );

  await t.step(
    "answers 409 mcp_server_not_running when the server stopped, probing nothing and changing nothing",
    async () => {
      const [server] = await sql`
        insert into account_tool_instances (instance_name_on_toolbox, mcp_server_url)
        values ('Stops', 'http://127.0.0.1:9/mcp') returning id`;
      const agentId = await createAgent(sql, user.id);
      const id = await connect(user.token, agentId, server!.id);
      await sql`update account_tool_instances set status_on_toolbox = 'stopped' where id = ${
        server!.id
      }`;
      const before = await sql`select * from agent_mcp_connections where id = ${id}`;
      const res = await api<ErrorBody>("POST", `/connections/${id}/test`, { token: user.token });
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, "mcp_server_not_running");
      assert.deepEqual(res.body.error.details, { serverStatus: "stopped" });
      const after = await sql`select * from agent_mcp_connections where id = ${id}`;
      assert.deepEqual(after, before);
    },
  );

  await t.step("answers 404 for an unknown connection", async () => {
    const res = await api<ErrorBody>("POST", `/connections/${crypto.randomUUID()}/test`, {
      token: user.token,
    });
    assert.equal(res.status, 404);
  });
});

Deno.test("POST /connections/:id/test cancelled by the caller puts the previous status back", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "canceller" });
  await using hang = await startFaultServer("hang");
  const serverId = await createServer(sql, hang.url, "Hang for cancel");
  const id = await connect(user.token, user.agentId, serverId, {
    timeout: 10_000,
    retryAttempts: 0,
  });
  await sql`update agent_mcp_connections set connection_status = 'connected' where id = ${id}`;

  const env = loadFunctionEnv({
    SUPABASE_URL: stack.url,
    SUPABASE_ANON_KEY: stack.anonKey,
    JWT_SECRET: stack.jwtSecret,
  });
  const app = createMcpConnectionsApp({
    env,
    verifyJwt: createJwtVerifier({ secret: stack.jwtSecret }),
    probe: createProbe({ networkPolicy: LOOPBACK_POLICY }),
    logger: createLogger({}, () => {}),
  });
  const controller = new AbortController();
  const pending = Promise.resolve(app.request(`/mcp-connections/connections/${id}/test`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}` },
    signal: controller.signal,
  }));
  // Wait until the test is running, then go away.
  for (let i = 0; i < 100; i++) {
    const [row] = await sql`select connection_status from agent_mcp_connections where id = ${id}`;
    if (row!.connection_status === "testing") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const started = performance.now();
  controller.abort();
  const response = await pending.catch(() => null);
  await response?.body?.cancel();
  assert.ok(performance.now() - started < 3000, "the cancelled test ends promptly");
  const [row] =
    await sql`select connection_status, connection_test_result from agent_mcp_connections where id = ${id}`;
  assert.equal(row!.connection_status, "connected");
  assert.equal(row!.connection_test_result, null);
});

Deno.test("POST /connections/:id/test never leaves testing when storing the result times out", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "write-timeout" });
  await using server = await startModernServer({ tools: 1 });
  const serverId = await createServer(sql, server.url, "Write timeout");
  const id = await connect(user.token, user.agentId, serverId, { timeout: 5_000 });
  await sql`update agent_mcp_connections set connection_status = 'connected' where id = ${id}`;

  /**
   * The caller's database client, except that every write of a result fails as PostgREST
   * reports a statement timeout (SQLSTATE 57014); the other calls reach the database.
   */
  const timingOut = (failures: { count: number }): DbClient => {
    const db = createUserDbClient(
      { supabaseUrl: stack.url, publicApiKey: stack.anonKey },
      user.token,
    );
    const timedOut = {
      data: null,
      error: { code: "57014", message: "canceling statement due to statement timeout" },
      status: 500,
    };
    const failing = {
      select: () => failing,
      single: () => failing,
      then: <R>(resolve: (value: typeof timedOut) => R) => {
        failures.count++;
        return Promise.resolve(resolve(timedOut));
      },
    };
    return new Proxy(db, {
      get(target, key, receiver) {
        if (key !== "rpc") return Reflect.get(target, key, receiver);
        return (name: string, args: Record<string, unknown>) =>
          name === "finish_agent_mcp_connection_test" && args.p_result !== null
            ? failing
            : target.rpc(name, args);
      },
    });
  };

  await t.step(
    "the previous status is put back and the caller gets database_timeout",
    async () => {
      const failures = { count: 0 };
      await assert.rejects(
        testConnection(timingOut(failures), id, {
          probe: createProbe({ networkPolicy: LOOPBACK_POLICY }),
        }),
        (error: unknown) => error instanceof AppError && error.code === "database_timeout",
      );
      assert.equal(failures.count, 2, "the result write is tried twice");
      const [row] = await sql`
        select connection_status, connection_test_result from agent_mcp_connections
         where id = ${id}`;
      assert.equal(row!.connection_status, "connected");
      assert.equal(row!.connection_test_result, null);
    },
  );
});
