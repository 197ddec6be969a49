/**
 * The mcp-connections API through the gateway, against the real stack: connect,
 * list, read, update, disconnect, and every user's isolation.
 */
import assert from "node:assert/strict";
import type { Connection } from "../../../shared/schemas/connection.ts";
import type { ConnectionPage, ErrorBody } from "../../../shared/schemas/responses.ts";
import { api, createAgent, createServer, createUser, openDb } from "../../_support/stack.ts";

const UNUSED_URL = "http://127.0.0.1:9/mcp";

Deno.test("POST /connections", async (t) => {
  await using sql = openDb();
  const owner = await createUser(sql, { label: "owner" });
  const other = await createUser(sql, { label: "other" });
  const serverId = await createServer(sql, UNUSED_URL);

  await t.step("answers 201 with the new connection, disconnected until tested", async () => {
    const res = await api<Connection>("POST", "/connections", {
      token: owner.token,
      body: { agentId: owner.agentId, mcpServerInstanceId: serverId, config: { timeout: 5000 } },
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.agentId, owner.agentId);
    assert.equal(res.body.mcpServerInstanceId, serverId);
    assert.deepEqual(res.body.connectionConfig, { timeout: 5000 });
    assert.equal(res.body.connectionStatus, "disconnected");
    assert.equal(res.body.isActive, true);
    assert.equal(res.body.createdBy, owner.id);
    assert.deepEqual(res.body.server, { name: "Test MCP server", status: "running" });
    assert.equal(res.body.connectionTestResult, null);
  });

  await t.step("answers 409 already_connected with the active connection's id", async () => {
    const [active] = await sql`select id from agent_mcp_connections
      where agent_id = ${owner.agentId} and mcp_server_instance_id = ${serverId} and is_active`;
    const res = await api<ErrorBody>("POST", "/connections", {
      token: owner.token,
      body: { agentId: owner.agentId, mcpServerInstanceId: serverId },
    });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, "already_connected");
    assert.equal(res.body.error.details?.connectionId, active!.id);
  });

  await t.step(
    "answers 404 agent_not_found for another user's agent, and writes nothing",
    async () => {
      const res = await api<ErrorBody>("POST", "/connections", {
        token: owner.token,
        body: { agentId: other.agentId, mcpServerInstanceId: serverId },
      });
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, "agent_not_found");
      const [row] =
        await sql`select count(*)::int as n from agent_mcp_connections where agent_id = ${other.agentId}`;
      assert.equal(row!.n, 0);
    },
  );

  await t.step("answers 404 agent_not_found for an agent that does not exist", async () => {
    const res = await api<ErrorBody>("POST", "/connections", {
      token: owner.token,
      body: { agentId: crypto.randomUUID(), mcpServerInstanceId: serverId },
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, "agent_not_found");
  });

  await t.step("answers 404 mcp_server_not_found for a server that does not exist", async () => {
    const agentId = await createAgent(sql, owner.id);
    const res = await api<ErrorBody>("POST", "/connections", {
      token: owner.token,
      body: { agentId, mcpServerInstanceId: crypto.randomUUID() },
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, "mcp_server_not_found");
  });

  for (const status of ["pending", "starting", "stopped", "error"]) {
    await t.step(
      `answers 409 mcp_server_not_running for a ${status} server, and writes nothing`,
      async () => {
        const agentId = await createAgent(sql, owner.id);
        const server = await createServer(sql, "http://127.0.0.1:9/mcp", `A ${status} server`);
        await sql`update account_tool_instances set status_on_toolbox = ${status} where id = ${server}`;
        const res = await api<ErrorBody>("POST", "/connections", {
          token: owner.token,
          body: { agentId, mcpServerInstanceId: server },
        });
        assert.equal(res.status, 409);
        assert.equal(res.body.error.code, "mcp_server_not_running");
        assert.deepEqual(res.body.error.details, { serverStatus: status });
        const rows = await sql`select 1 from agent_mcp_connections where agent_id = ${agentId}`;
        assert.equal(rows.length, 0);
      },
    );
  }

  await t.step("answers 400 for an invalid config, and writes nothing", async () => {
    const agentId = await createAgent(sql, owner.id);
    for (
      const config of [
        { timeout: "abc" },
        { timeout: -1 },
        { timeout: 1e12 },
        { retryAttempts: 3.5 },
        { customHeaders: { Host: "evil" } },
        { customHeaders: { "X-A": "a\r\nb" } },
        { customHeaders: "x" },
        { unknown: true },
      ]
    ) {
      const res = await api<ErrorBody>("POST", "/connections", {
        token: owner.token,
        body: { agentId, mcpServerInstanceId: serverId, config },
      });
      assert.equal(res.status, 400, JSON.stringify(config));
      assert.equal(res.body.error.code, "invalid_request");
      assert.ok(Array.isArray(res.body.error.details?.issues));
    }
    const [row] =
      await sql`select count(*)::int as n from agent_mcp_connections where agent_id = ${agentId}`;
    assert.equal(row!.n, 0);
  });

  await t.step("answers 400 for unknown fields, wrong types and bad UUIDs", async () => {
    const bodies = [
      { agentId: owner.agentId, mcpServerInstanceId: serverId, extra: 1 },
      { agentId: 42, mcpServerInstanceId: serverId },
      { agentId: "not-a-uuid", mcpServerInstanceId: serverId },
      { agentId: `{${owner.agentId}}`, mcpServerInstanceId: serverId },
      { mcpServerInstanceId: serverId },
      [],
      "connect",
      null,
    ];
    for (const body of bodies) {
      const res = await api<ErrorBody>("POST", "/connections", {
        token: owner.token,
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, "invalid_request");
    }
  });

  await t.step("answers 400 invalid_json for malformed JSON", async () => {
    const res = await api<ErrorBody>("POST", "/connections", {
      token: owner.token,
      body: '{"agentId":',
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "invalid_json");
  });

  await t.step("answers 415 for a body that is not JSON", async () => {
    const res = await api<ErrorBody>("POST", "/connections", {
      token: owner.token,
      body: "agentId=1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(res.status, 415);
    assert.equal(res.body.error.code, "unsupported_media_type");
  });

  await t.step("answers 413 for a body over 256 KiB", async () => {
    const res = await api<ErrorBody>("POST", "/connections", {
      token: owner.token,
      body: JSON.stringify({ agentId: owner.agentId, pad: "x".repeat(300 * 1024) }),
    });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, "payload_too_large");
  });

  await t.step("answers 401 without a token (the gateway checks JWTs first)", async () => {
    const res = await api("POST", "/connections", {
      body: { agentId: owner.agentId, mcpServerInstanceId: serverId },
    });
    assert.equal(res.status, 401);
  });

  await t.step(
    "20 parallel connects of one pair: exactly one 201, the rest 409 naming it",
    async () => {
      const agentId = await createAgent(sql, owner.id);
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          api<Connection & ErrorBody>("POST", "/connections", {
            token: owner.token,
            body: { agentId, mcpServerInstanceId: serverId },
          })),
      );
      const created = results.filter((r) => r.status === 201);
      const conflicts = results.filter((r) => r.status === 409);
      assert.equal(created.length, 1);
      assert.equal(conflicts.length, 19);
      for (const conflict of conflicts) {
        assert.equal(conflict.body.error.code, "already_connected");
        assert.equal(conflict.body.error.details?.connectionId, created[0]!.body.id);
      }
      const [row] =
        await sql`select count(*)::int as n from agent_mcp_connections where agent_id = ${agentId}`;
      assert.equal(row!.n, 1);
    },
  );
});

Deno.test("GET /connections", async (t) => {
  await using sql = openDb();
  const owner = await createUser(sql, { label: "lister" });
  const other = await createUser(sql, { label: "lister-other" });
  const servers = await Promise.all(
    Array.from({ length: 5 }, (_, i) => createServer(sql, UNUSED_URL, `S${i}`)),
  );
  const ids: string[] = [];
  for (const serverId of servers) {
    const res = await api<Connection>("POST", "/connections", {
      token: owner.token,
      body: { agentId: owner.agentId, mcpServerInstanceId: serverId },
    });
    ids.push(res.body.id);
  }
  await api("POST", "/connections", {
    token: other.token,
    body: { agentId: other.agentId, mcpServerInstanceId: servers[0] },
  });

  await t.step("lists only the caller's connections, newest first", async () => {
    const res = await api<ConnectionPage>("GET", "/connections", { token: owner.token });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.items.map((c) => c.id), [...ids].reverse());
    assert.equal(res.body.nextCursor, null);
  });

  await t.step("pages with a cursor that is stable under inserts", async () => {
    const first = await api<ConnectionPage>("GET", "/connections?limit=2", { token: owner.token });
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 2);
    assert.ok(first.body.nextCursor);
    // A connection created between pages must not shift the next page.
    const extraServer = await createServer(sql, UNUSED_URL, "late");
    await api("POST", "/connections", {
      token: owner.token,
      body: { agentId: owner.agentId, mcpServerInstanceId: extraServer },
    });
    const seen = first.body.items.map((c) => c.id);
    let cursor: string | null = first.body.nextCursor;
    while (cursor) {
      const next: Awaited<ReturnType<typeof api<ConnectionPage>>> = await api<ConnectionPage>(
        "GET",
        `/connections?limit=2&cursor=${encodeURIComponent(cursor)}`,
        { token: owner.token },
      );
      assert.equal(next.status, 200);
      seen.push(...next.body.items.map((c) => c.id));
      cursor = next.body.nextCursor;
    }
    assert.deepEqual(seen, [...ids].reverse());
  });

  await t.step("filters by agent, status and activity", async () => {
    const byAgent = await api<ConnectionPage>("GET", `/connections?agentId=${other.agentId}`, {
      token: owner.token,
    });
    assert.deepEqual(byAgent.body.items, []);
    await api("DELETE", `/connections/${ids[0]}`, { token: owner.token });
    const history = await api<ConnectionPage>("GET", "/connections?active=false", {
      token: owner.token,
    });
    assert.deepEqual(history.body.items.map((c) => c.id), [ids[0]]);
    const all = await api<ConnectionPage>("GET", "/connections?active=all", { token: owner.token });
    assert.equal(all.body.items.length, 6);
    const errors = await api<ConnectionPage>("GET", "/connections?status=error", {
      token: owner.token,
    });
    assert.deepEqual(errors.body.items, []);
  });

  await t.step("answers 400 for a bad cursor, limit, status or unknown parameter", async () => {
    for (
      const query of [
        "cursor=bm90LWEtY3Vyc29y",
        "cursor=%%%",
        "limit=0",
        "limit=201",
        "limit=ten",
        "status=broken",
        "active=yes",
        "agentId=42",
        "sort=asc",
      ]
    ) {
      const res = await api<ErrorBody>("GET", `/connections?${query}`, { token: owner.token });
      assert.equal(res.status, 400, query);
      assert.ok(["invalid_request", "invalid_cursor"].includes(res.body.error.code), query);
    }
  });
});

Deno.test("GET, PATCH and DELETE /connections/:id", async (t) => {
  await using sql = openDb();
  const owner = await createUser(sql, { label: "editor" });
  const other = await createUser(sql, { label: "snoop" });
  const serverId = await createServer(sql, UNUSED_URL);
  const created = await api<Connection>("POST", "/connections", {
    token: owner.token,
    body: { agentId: owner.agentId, mcpServerInstanceId: serverId, config: { timeout: 3000 } },
  });
  const id = created.body.id;

  await t.step("GET answers 200 with the connection", async () => {
    const res = await api<Connection>("GET", `/connections/${id}`, { token: owner.token });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, created.body);
  });

  await t.step("GET answers 400 for a malformed id and 404 for an unknown one", async () => {
    assert.equal((await api("GET", "/connections/not-a-uuid", { token: owner.token })).status, 400);
    const res = await api<ErrorBody>("GET", `/connections/${crypto.randomUUID()}`, {
      token: owner.token,
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, "connection_not_found");
  });

  await t.step("PATCH replaces the config", async () => {
    const config = { timeout: 8000, retryAttempts: 1, customHeaders: { "X-Api-Key": "k1" } };
    const res = await api<Connection>("PATCH", `/connections/${id}`, {
      token: owner.token,
      body: { config },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.connectionConfig, config);
    assert.ok(res.body.updatedAt > created.body.updatedAt);
  });

  await t.step("PATCH answers 400 for an invalid config and changes nothing", async () => {
    for (
      const body of [
        { config: { timeout: 0 } },
        { config: { customHeaders: { "Transfer-Encoding": "x" } } },
        {},
        { config: {}, agentId: other.agentId },
      ]
    ) {
      const res = await api<ErrorBody>("PATCH", `/connections/${id}`, { token: owner.token, body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    const [row] = await sql`select connection_config from agent_mcp_connections where id = ${id}`;
    assert.deepEqual(row!.connection_config, {
      timeout: 8000,
      retryAttempts: 1,
      customHeaders: { "X-Api-Key": "k1" },
    });
  });

  await t.step("another user gets 404 on every route, and nothing changes", async () => {
    const attempts = [
      api<ErrorBody>("GET", `/connections/${id}`, { token: other.token }),
      api<ErrorBody>("PATCH", `/connections/${id}`, { token: other.token, body: { config: {} } }),
      api<ErrorBody>("DELETE", `/connections/${id}`, { token: other.token }),
      api<ErrorBody>("POST", `/connections/${id}/test`, { token: other.token }),
      api<ErrorBody>("POST", `/connections/${id}/usage`, {
        token: other.token,
        body: { success: true, responseTimeMs: 1, bytesTransferred: 1 },
      }),
    ];
    for (const res of await Promise.all(attempts)) {
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, "connection_not_found");
    }
    const list = await api<ConnectionPage>("GET", "/connections?active=all", {
      token: other.token,
    });
    assert.deepEqual(list.body.items, []);
    const [row] =
      await sql`select is_active, connection_status, usage_stats from agent_mcp_connections where id = ${id}`;
    assert.deepEqual(row, { is_active: true, connection_status: "disconnected", usage_stats: {} });
  });

  await t.step("DELETE disconnects; the row stays as history", async () => {
    const res = await api<Connection>("DELETE", `/connections/${id}`, { token: owner.token });
    assert.equal(res.status, 200);
    assert.equal(res.body.isActive, false);
    assert.equal(res.body.connectionStatus, "disconnected");
    const again = await api<Connection>("DELETE", `/connections/${id}`, { token: owner.token });
    assert.equal(again.status, 200);
    assert.equal(again.body.isActive, false);
  });

  await t.step(
    "a disconnected connection can be read but not changed: 409 connection_inactive",
    async () => {
      assert.equal((await api("GET", `/connections/${id}`, { token: owner.token })).status, 200);
      const patch = await api<ErrorBody>("PATCH", `/connections/${id}`, {
        token: owner.token,
        body: { config: {} },
      });
      assert.equal(patch.status, 409);
      assert.equal(patch.body.error.code, "connection_inactive");
      const test = await api<ErrorBody>("POST", `/connections/${id}/test`, { token: owner.token });
      assert.equal(test.status, 409);
      assert.equal(test.body.error.code, "connection_inactive");
    },
  );

  await t.step("connecting again creates a new row beside the history", async () => {
    const res = await api<Connection>("POST", "/connections", {
      token: owner.token,
      body: { agentId: owner.agentId, mcpServerInstanceId: serverId },
    });
    assert.equal(res.status, 201);
    assert.notEqual(res.body.id, id);
    const rows = await sql`select id, is_active from agent_mcp_connections
      where agent_id = ${owner.agentId} and mcp_server_instance_id = ${serverId} order by created_at`;
    assert.deepEqual(rows.map((r) => [r.id, r.is_active]), [[id, false], [res.body.id, true]]);
  });
});
