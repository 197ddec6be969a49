/** POST /connections/:id/usage, GET /stats and the admin routes, through the gateway. */
import assert from "node:assert/strict";
import type { Connection } from "../../../shared/schemas/connection.ts";
import type {
  AdminStats,
  ConnectionPage,
  ErrorBody,
  RecordUsageResponse,
  UserStats,
} from "../../../shared/schemas/responses.ts";
import { api, createServer, createUser, openDb } from "../../_support/stack.ts";

const UNUSED_URL = "http://127.0.0.1:9/mcp";

async function connect(token: string, agentId: string, serverId: string): Promise<string> {
  const res = await api<Connection>("POST", "/connections", {
    token,
    body: { agentId, mcpServerInstanceId: serverId },
  });
  assert.equal(res.status, 201);
  return res.body.id;
}

Deno.test("POST /connections/:id/usage", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "usage" });
  const serverId = await createServer(sql, UNUSED_URL);
  const id = await connect(user.token, user.agentId, serverId);
  const usage = (body: unknown) =>
    api<RecordUsageResponse & ErrorBody>("POST", `/connections/${id}/usage`, {
      token: user.token,
      body,
    });

  await t.step("records one event and returns the new usageStats", async () => {
    const res = await usage({ success: true, responseTimeMs: 120, bytesTransferred: 2048 });
    assert.equal(res.status, 200);
    const { lastUsed, ...stats } = res.body.usageStats;
    assert.deepEqual(stats, {
      totalRequests: 1,
      successfulRequests: 1,
      failedRequests: 0,
      totalResponseTime: 120,
      averageResponseTime: 120,
      bytesTransferred: 2048,
    });
    assert.ok(typeof lastUsed === "string");
  });

  await t.step("records a batch in one call", async () => {
    const res = await usage({
      events: [
        { success: false, responseTimeMs: 300, bytesTransferred: 0 },
        { success: true, responseTimeMs: 180, bytesTransferred: 1000 },
      ],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.usageStats.totalRequests, 3);
    assert.equal(res.body.usageStats.failedRequests, 1);
    assert.equal(res.body.usageStats.averageResponseTime, 200);
    assert.equal(res.body.usageStats.bytesTransferred, 3048);
  });

  await t.step("200 parallel calls lose nothing: exact totals", async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        usage(
          i % 2 === 0 ? { success: true, responseTimeMs: 10, bytesTransferred: 1 } : {
            events: [{ success: false, responseTimeMs: 20, bytesTransferred: 2 }, {
              success: true,
              responseTimeMs: 30,
              bytesTransferred: 3,
            }],
          },
        )),
    );
    assert.ok(results.every((r) => r.status === 200));
    const [row] = await sql`select usage_stats from agent_mcp_connections where id = ${id}`;
    const stats = row!.usage_stats;
    // 3 before; 100 single events; 100 batches of 2.
    assert.equal(stats.totalRequests, 3 + 100 + 200);
    assert.equal(stats.successfulRequests, 2 + 100 + 100);
    assert.equal(stats.failedRequests, 1 + 100);
    assert.equal(stats.bytesTransferred, 3048 + 100 * 1 + 100 * 5);
    assert.equal(stats.totalResponseTime, 600 + 100 * 10 + 100 * 50);
  });

  await t.step("answers 400 for bad events and records nothing", async () => {
    const [before] = await sql`select usage_stats from agent_mcp_connections where id = ${id}`;
    for (
      const body of [
        {},
        { success: "yes", responseTimeMs: 1, bytesTransferred: 1 },
        { success: true, responseTimeMs: -1, bytesTransferred: 1 },
        { success: true, responseTimeMs: 1, bytesTransferred: 1.5 },
        { success: true, responseTimeMs: 1, bytesTransferred: 1, extra: 1 },
        { events: [] },
        {
          events: Array.from(
            { length: 1001 },
            () => ({ success: true, responseTimeMs: 1, bytesTransferred: 1 }),
          ),
        },
        { events: [{ success: true, responseTimeMs: 1, bytesTransferred: 1 }, { success: true }] },
      ]
    ) {
      const res = await usage(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 100));
      assert.equal(res.body.error.code, "invalid_request");
    }
    const [after] = await sql`select usage_stats from agent_mcp_connections where id = ${id}`;
    assert.deepEqual(after, before);
  });

  await t.step("accepts a full batch of 1000 events", async () => {
    const events = Array.from(
      { length: 1000 },
      () => ({ success: true, responseTimeMs: 1, bytesTransferred: 1 }),
    );
    const res = await usage({ events });
    assert.equal(res.status, 200);
    assert.equal(res.body.usageStats.totalRequests, 1303);
  });

  await t.step("answers 409 connection_inactive after a disconnect", async () => {
    await api("DELETE", `/connections/${id}`, { token: user.token });
    const res = await usage({ success: true, responseTimeMs: 1, bytesTransferred: 1 });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, "connection_inactive");
  });
});

Deno.test("GET /stats", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "stats" });
  const fresh = await createUser(sql, { label: "stats-fresh" });

  await t.step("is all zeros for a user without connections", async () => {
    const res = await api<UserStats>("GET", "/stats", { token: fresh.token });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      totalConnections: 0,
      activeConnections: 0,
      errorConnections: 0,
      lastConnectionUsed: null,
      firstConnectionCreated: null,
    });
  });

  await t.step("counts the caller's active connections only", async () => {
    const a = await connect(user.token, user.agentId, await createServer(sql, UNUSED_URL));
    const b = await connect(user.token, user.agentId, await createServer(sql, UNUSED_URL));
    const c = await connect(user.token, user.agentId, await createServer(sql, UNUSED_URL));
    await sql`update agent_mcp_connections set connection_status = 'connected' where id = ${a}`;
    await sql`update agent_mcp_connections set connection_status = 'error' where id = ${b}`;
    await api("DELETE", `/connections/${c}`, { token: user.token });
    await api("POST", `/connections/${a}/usage`, {
      token: user.token,
      body: { success: true, responseTimeMs: 1, bytesTransferred: 1 },
    });
    const res = await api<UserStats>("GET", "/stats", { token: user.token });
    assert.equal(res.status, 200);
    assert.equal(res.body.totalConnections, 2);
    assert.equal(res.body.activeConnections, 1);
    assert.equal(res.body.errorConnections, 1);
    assert.ok(res.body.lastConnectionUsed);
    assert.ok(res.body.firstConnectionCreated);
  });
});

Deno.test("admin routes", async (t) => {
  await using sql = openDb();
  const admin = await createUser(sql, { admin: true, label: "admin" });
  const user = await createUser(sql, { label: "plain" });
  const serverId = await createServer(sql, UNUSED_URL);
  const userConnection = await connect(user.token, user.agentId, serverId);

  await t.step("GET /admin/connections lists every user's connections for an admin", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor
        ? `?limit=100&cursor=${encodeURIComponent(cursor)}`
        : "?limit=100";
      const res: Awaited<ReturnType<typeof api<ConnectionPage>>> = await api<ConnectionPage>(
        "GET",
        `/admin/connections${query}`,
        { token: admin.token },
      );
      assert.equal(res.status, 200);
      seen.push(...res.body.items.map((c) => c.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 1000);
    assert.ok(seen.includes(userConnection));
    assert.equal(new Set(seen).size, seen.length, "no connection twice across pages");
  });

  await t.step("GET /admin/stats returns the exact totals over every user's rows", async () => {
    // The stack is shared with the other test files, which run one after another:
    // the totals are read from the tables right after the request, and must be equal.
    const res = await api<AdminStats>("GET", "/admin/stats", { token: admin.token });
    assert.equal(res.status, 200);
    const [expected] = await sql<[Record<keyof AdminStats, number | string | null>]>`
      select count(*)::int as "totalConnections",
             (count(*) filter (where c.is_active))::int as "activeConnections",
             (count(*) filter (where c.is_active and c.connection_status = 'connected'))::int
               as "connectedConnections",
             (count(*) filter (where c.is_active and c.connection_status = 'error'))::int
               as "errorConnections",
             (count(*) filter (where c.is_active and c.connection_status = 'testing'))::int
               as "testingConnections",
             (count(*) filter (where not c.is_active))::int as "disconnectedConnections",
             count(distinct a.user_id)::int as users,
             count(distinct c.agent_id)::int as agents,
             count(distinct c.mcp_server_instance_id)::int as servers,
             max(c.last_used) as "lastConnectionUsed",
             min(c.created_at) as "firstConnectionCreated"
      from agent_mcp_connections as c join agents as a on a.id = c.agent_id
    `;
    const asIso = (value: unknown) =>
      value === null ? null : new Date(value as string).toISOString();
    assert.deepEqual(
      {
        ...res.body,
        lastConnectionUsed: asIso(res.body.lastConnectionUsed),
        firstConnectionCreated: asIso(res.body.firstConnectionCreated),
      },
      {
        ...expected,
        lastConnectionUsed: asIso(expected!.lastConnectionUsed),
        firstConnectionCreated: asIso(expected!.firstConnectionCreated),
      },
    );
    assert.ok(res.body.totalConnections >= 2 && res.body.users >= 2, "this test's own rows");
  });

  await t.step("non-admins get 403 forbidden", async () => {
    for (const path of ["/admin/connections", "/admin/stats"]) {
      const res = await api<ErrorBody>("GET", path, { token: user.token });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.error.code, "forbidden");
    }
  });

  await t.step(
    "an admin cannot change another user's connection through the user routes",
    async () => {
      const res = await api<ErrorBody>("PATCH", `/connections/${userConnection}`, {
        token: admin.token,
        body: { config: { timeout: 1000 } },
      });
      assert.equal(res.status, 404);
    },
  );
});
