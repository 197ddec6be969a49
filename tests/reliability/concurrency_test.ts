/**
 * Concurrency through the real gateway, functions and database: usage events from many
 * concurrent clients add up exactly; concurrent connects of one pair leave one active
 * row; a disconnect racing a test (or another test, a usage record, a config change)
 * leaves the row in a valid state, never `testing`.
 *
 * `RELIABILITY_SOAK=1` sends 100,000 events and runs ten times the rounds.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Connection } from "../../shared/schemas/connection.ts";
import type { ErrorBody, RecordUsageResponse } from "../../shared/schemas/responses.ts";
import type { UsageEvent } from "../../shared/schemas/usage.ts";
import { startFaultServer, startModernServer } from "../_support/mcp_servers.ts";
import { mapConcurrently, scaled } from "../_support/reliability.ts";
import { api, createAgent, createServer, createUser, openDb } from "../_support/stack.ts";

const EVENTS = scaled(10_000, 100_000);
const CLIENTS = 32;
const CONNECTS = 100;
const RACE_ROUNDS = scaled(12, 120);

/** One request's worth of usage: a single event, or a batch. */
type UsageRequest = { single: UsageEvent } | { events: UsageEvent[] };

/** Response times in quarter milliseconds: their sums are exact in binary floating point. */
const event: fc.Arbitrary<UsageEvent> = fc.record({
  success: fc.integer({ min: 0, max: 4 }).map((n) => n > 0),
  responseTimeMs: fc.integer({ min: 0, max: 20_000 }).map((quarters) => quarters / 4),
  bytesTransferred: fc.integer({ min: 0, max: 5_000_000 }),
});

/**
 * Requests carrying exactly `total` events, shuffled: a fifth of the events as single
 * events, the rest in batches of 1 to 120.
 */
function usagePlan(total: number, seed: number): UsageRequest[] {
  const events = fc.sample(event, { numRuns: total, seed });
  const sizes = fc.sample(fc.integer({ min: 1, max: 120 }), { numRuns: total, seed: seed + 1 });
  const singles = Math.floor(total / 5);
  const requests: UsageRequest[] = events.slice(0, singles).map((single) => ({ single }));
  for (let i = singles, k = 0; i < total; i += sizes[k++]!) {
    requests.push({ events: events.slice(i, i + sizes[k]!) });
  }
  const order = fc.sample(fc.double({ min: 0, max: 1, noNaN: true }), {
    numRuns: requests.length,
    seed: seed + 2,
  });
  return requests.map((request, i) => ({ request, key: order[i]! }))
    .sort((a, b) => a.key - b.key).map(({ request }) => request);
}

Deno.test(`${EVENTS} usage events from ${CLIENTS} concurrent clients add up exactly`, async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "usage-load" });
  const serverId = await createServer(sql, "http://127.0.0.1:9/mcp", "Usage load server");
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values (${user.agentId}, ${serverId}, ${user.id}) returning id
  `;
  const seed = Number(Deno.env.get("USAGE_SEED") ?? Date.now() % 1_000_000);
  const plan = usagePlan(EVENTS, seed);
  const all = plan.flatMap((r) => ("single" in r ? [r.single] : r.events));
  assert.equal(all.length, EVENTS);

  const started = performance.now();
  const statuses = await mapConcurrently(plan, CLIENTS, async (request) => {
    const res = await api<RecordUsageResponse>("POST", `/connections/${row.id}/usage`, {
      token: user.token,
      body: "single" in request ? request.single : { events: request.events },
    });
    return res.status;
  });
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual(
    statuses.filter((s) => s !== 200),
    [],
    `every request was recorded (seed ${seed})`,
  );

  const sum = (pick: (e: UsageEvent) => number) => all.reduce((total, e) => total + pick(e), 0);
  const successes = all.filter((e) => e.success).length;
  const totalResponseTime = sum((e) => e.responseTimeMs);
  const [stored] = await sql<[{ usage_stats: Record<string, number> }]>`
    select usage_stats from agent_mcp_connections where id = ${row.id}
  `;
  const stats = stored.usage_stats;
  assert.equal(stats.totalRequests, EVENTS);
  assert.equal(stats.successfulRequests, successes);
  assert.equal(stats.failedRequests, EVENTS - successes);
  assert.equal(stats.bytesTransferred, sum((e) => e.bytesTransferred));
  assert.equal(stats.totalResponseTime, totalResponseTime);
  assert.equal(stats.averageResponseTime, Math.round((totalResponseTime / EVENTS) * 1000) / 1000);
  // The usage history was written in the same transactions: its hourly buckets and its daily
  // buckets each add up to the totals, and each histogram counts what its events took.
  const buckets = await sql<Record<string, string>[]>`
    select granularity, sum(requests)::text as requests, sum(successes)::text as successes,
           sum(failures)::text as failures, sum(bytes)::text as bytes,
           sum(response_time_ms)::text as response_time,
           sum(requests_under_50ms)::text as under_50ms, sum(requests_under_60s)::text as under_60s
    from agent_mcp_connection_usage_buckets where connection_id = ${row.id}
    group by granularity order by granularity
  `;
  const expected = [
    EVENTS,
    successes,
    EVENTS - successes,
    sum((e) => e.bytesTransferred),
    totalResponseTime,
    all.filter((e) => e.responseTimeMs < 50).length,
    all.filter((e) => e.responseTimeMs < 60_000).length,
  ];
  assert.deepEqual(buckets.map((b) => b.granularity), ["day", "hour"]);
  for (const granularity of buckets) {
    assert.deepEqual(
      Object.values(granularity).slice(1).map(Number),
      expected,
      `${granularity.granularity} buckets: requests, successes, failures, bytes, response time, ` +
        "requests under 50 ms, under 60 s",
    );
  }
  // deno-lint-ignore no-console
  console.log(
    `usage: ${EVENTS} events in ${plan.length} requests (${
      plan.filter((r) => "single" in r).length
    } single) from ${CLIENTS} clients in ${seconds.toFixed(1)} s; totals exact (seed ${seed})`,
  );
});

Deno.test(`${CONNECTS} concurrent connects of one pair make exactly one active connection`, async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "connect-race" });
  const serverId = await createServer(sql, "http://127.0.0.1:9/mcp", "Connect race server");
  const responses = await Promise.all(
    Array.from({ length: CONNECTS }, () =>
      api<Connection & ErrorBody>("POST", "/connections", {
        token: user.token,
        body: { agentId: user.agentId, mcpServerInstanceId: serverId, config: { timeout: 2000 } },
      })),
  );
  const created = responses.filter((r) => r.status === 201);
  const refused = responses.filter((r) => r.status === 409);
  assert.equal(created.length, 1, "one connect wins");
  assert.equal(refused.length, CONNECTS - 1, "every other one is told it is already connected");
  const winner = created[0]!.body.id;
  for (const res of refused) {
    assert.equal(res.body.error.code, "already_connected");
    assert.equal(res.body.error.details?.connectionId, winner);
  }
  const rows = await sql`
    select id, is_active from agent_mcp_connections
    where agent_id = ${user.agentId} and mcp_server_instance_id = ${serverId}
  `;
  assert.deepEqual(rows.map((r) => [r.id, r.is_active]), [[winner, true]]);
});

/** A per-user limit as the database has it (agent_mcp_private.connection_limit()). */
async function limitOf(sql: ReturnType<typeof openDb>, name: string): Promise<number> {
  const [row] = await sql<[{ max: number }]>`
    select agent_mcp_private.connection_limit(${name}) as max
  `;
  return row.max;
}

/** Sends connects all at once; checks that exactly `allowed` win and the rest hit `limit`. */
async function assertLimitHolds(
  token: string,
  bodies: unknown[],
  allowed: number,
  limit: string,
  max: number,
): Promise<void> {
  const responses = await Promise.all(
    bodies.map((body) => api<Connection & ErrorBody>("POST", "/connections", { token, body })),
  );
  const created = responses.filter((r) => r.status === 201);
  const refused = responses.filter((r) => r.status === 409);
  assert.equal(created.length, allowed, `exactly ${allowed} connects win`);
  assert.equal(refused.length, bodies.length - allowed, "every other one is refused");
  for (const res of refused) {
    assert.equal(res.body.error.code, "connection_limit_reached");
    assert.deepEqual(res.body.error.details, { limit, max });
  }
}

Deno.test("concurrent connects never exceed the per-user limits", async (t) => {
  await using sql = openDb();

  await t.step("connections per agent", async () => {
    const max = await limitOf(sql, "connections_per_agent");
    const user = await createUser(sql, { label: "limit-agent" });
    const servers = await Promise.all(
      Array.from(
        { length: max + 10 },
        (_, i) => createServer(sql, "http://127.0.0.1:9/mcp", `Limit server ${i}`),
      ),
    );
    await assertLimitHolds(
      user.token,
      servers.map((mcpServerInstanceId) => ({ agentId: user.agentId, mcpServerInstanceId })),
      max,
      "connections_per_agent",
      max,
    );
    const [row] = await sql`select count(*)::int as n from agent_mcp_connections
                            where agent_id = ${user.agentId} and is_active`;
    assert.equal(row!.n, max);
  });

  await t.step("distinct customHeaders configs per server", async () => {
    const max = await limitOf(sql, "header_configs_per_server");
    const user = await createUser(sql, { label: "limit-headers" });
    const server = await createServer(sql, "http://127.0.0.1:9/mcp", "Limit headers server");
    const agents = await Promise.all(
      Array.from({ length: max + 10 }, () => createAgent(sql, user.id)),
    );
    await assertLimitHolds(
      user.token,
      agents.map((agentId, i) => ({
        agentId,
        mcpServerInstanceId: server,
        config: { customHeaders: { "X-Api-Key": String(1000 + i) } },
      })),
      max,
      "header_configs_per_server",
      max,
    );
    const [row] = await sql`
      select count(distinct connection_config -> 'customHeaders')::int as n
      from agent_mcp_connections where mcp_server_instance_id = ${server} and is_active
    `;
    assert.equal(row!.n, max);
  });

  await t.step("connections per user", async () => {
    const max = await limitOf(sql, "connections_per_user");
    const perAgent = await limitOf(sql, "connections_per_agent");
    const user = await createUser(sql, { label: "limit-user" });
    const agents = Math.ceil(max / perAgent) + 1;
    const servers = await Promise.all(
      Array.from(
        { length: perAgent },
        (_, i) => createServer(sql, "http://127.0.0.1:9/mcp", `User limit server ${i}`),
      ),
    );
    const agentIds = await Promise.all(
      Array.from({ length: agents }, () => createAgent(sql, user.id)),
    );
    // max - 3 connections already, made directly in the database.
    const pairs = agentIds.flatMap((agent) => servers.map((server) => [agent, server] as const));
    await sql`
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
      select (p ->> 0)::uuid, (p ->> 1)::uuid, ${user.id}
      from jsonb_array_elements(${sql.json(pairs.slice(0, max - 3))}) as p
    `;
    await assertLimitHolds(
      user.token,
      pairs.slice(max - 3, max + 7).map(([agentId, mcpServerInstanceId]) => ({
        agentId,
        mcpServerInstanceId,
      })),
      3,
      "connections_per_user",
      max,
    );
    const [row] = await sql`select count(*)::int as n from agent_mcp_connections c
                            join agents a on a.id = c.agent_id
                            where a.user_id = ${user.id} and c.is_active`;
    assert.equal(row!.n, max);
  });
});

Deno.test("a disconnect racing a test, a usage record or a config change leaves a valid row", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "race" });
  await using modern = await startModernServer({ tools: 1 });
  await using hang = await startFaultServer("hang");
  const servers = {
    fast: await createServer(sql, modern.url, "Race: fast server"),
    hanging: await createServer(sql, hang.url, "Race: hanging server"),
  };

  const newConnection = async (server: string, timeout = 400) => {
    const agentId = await createAgent(sql, user.id);
    const res = await api<Connection>("POST", "/connections", {
      token: user.token,
      body: { agentId, mcpServerInstanceId: server, config: { timeout, retryAttempts: 0 } },
    });
    assert.equal(res.status, 201);
    return res.body.id;
  };
  const finalRow = async (id: string) => {
    const [row] = await sql`
      select is_active, connection_status, connection_test_result from agent_mcp_connections
      where id = ${id}
    `;
    return row!;
  };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const test = (id: string) =>
    api<ErrorBody>("POST", `/connections/${id}/test`, { token: user.token });
  const disconnect = (id: string) => api("DELETE", `/connections/${id}`, { token: user.token });

  for (const kind of ["fast", "hanging"] as const) {
    await t.step(`test + disconnect against a ${kind} server, ${RACE_ROUNDS} rounds`, async () => {
      const outcomes = new Map<string, number>();
      await mapConcurrently(Array.from({ length: RACE_ROUNDS }, (_, i) => i), 4, async (round) => {
        const id = await newConnection(servers[kind]);
        // Odd rounds disconnect first and test a moment later; even rounds the other way.
        const delay = (round * 37) % (kind === "fast" ? 40 : 300);
        const [tested, disconnected] = await Promise.all([
          pause(round % 2 === 1 ? round % 7 : 0).then(() => test(id)),
          pause(round % 2 === 1 ? 0 : delay).then(() => disconnect(id)),
        ]);
        assert.equal(disconnected.status, 200);
        assert.ok(
          tested.status === 200 ||
            (tested.status === 409 && tested.body.error.code === "connection_inactive"),
          `test answered ${tested.status} ${JSON.stringify(tested.body)}`,
        );
        const row = await finalRow(id);
        assert.equal(row.is_active, false);
        assert.equal(row.connection_status, "disconnected", "never testing, never connected");
        if (tested.status === 200) assert.ok(row.connection_test_result, "the result is kept");
        const key = `test ${tested.status}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      });
      // deno-lint-ignore no-console
      console.log(`race with a ${kind} server: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    });
  }

  await t.step("two tests at once end connected, not testing", async () => {
    await mapConcurrently(Array.from({ length: RACE_ROUNDS }, (_, i) => i), 4, async () => {
      // "connected" needs every probe to succeed: no short timer that a busy machine can miss.
      const id = await newConnection(servers.fast, 30_000);
      const results = await Promise.all([test(id), test(id), test(id)]);
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
      assert.equal((await finalRow(id)).connection_status, "connected");
    });
  });

  await t.step(
    "usage and config changes racing a disconnect: recorded or refused, never lost half-way",
    async () => {
      await mapConcurrently(Array.from({ length: RACE_ROUNDS }, (_, i) => i), 4, async (round) => {
        const id = await newConnection(servers.fast);
        const [usage, patch, gone] = await Promise.all([
          api<ErrorBody>("POST", `/connections/${id}/usage`, {
            token: user.token,
            body: { success: true, responseTimeMs: 1, bytesTransferred: 1 },
          }),
          api<ErrorBody>("PATCH", `/connections/${id}`, {
            token: user.token,
            body: { config: { timeout: 900 } },
          }),
          pause(round % 10).then(() => disconnect(id)),
        ]);
        assert.equal(gone.status, 200);
        for (const res of [usage, patch]) {
          assert.ok(
            res.status === 200 ||
              (res.status === 409 && res.body.error.code === "connection_inactive"),
            `${res.status} ${JSON.stringify(res.body)}`,
          );
        }
        const [row] = await sql`
        select is_active, connection_status, connection_config, usage_stats
        from agent_mcp_connections where id = ${id}
      `;
        assert.equal(row!.is_active, false);
        assert.equal(row!.connection_status, "disconnected");
        assert.equal(row!.usage_stats.totalRequests ?? 0, usage.status === 200 ? 1 : 0);
        assert.equal(row!.connection_config.timeout, patch.status === 200 ? 900 : 400);
      });
    },
  );
});
