/**
 * The scheduled health check against the real stack and real MCP servers started
 * by the test. Each run is limited to the test's own servers (serverIds), so other
 * tests' connections are never touched.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { HealthCheckSummary } from "../../../shared/schemas/health_check.ts";
import type { ErrorBody } from "../../../shared/schemas/responses.ts";
import { startLegacySseServer } from "../../_support/mcp_legacy_sse.ts";
import { startFaultServer, startModernServer } from "../../_support/mcp_servers.ts";
import {
  call,
  createAgent,
  createServer,
  createUser,
  openDb,
  stack,
  type TestUser,
} from "../../_support/stack.ts";

const ENDPOINT = `${stack.url}/functions/v1/mcp-health-check`;

function runHealthCheck(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call<HealthCheckSummary & ErrorBody>(ENDPOINT, {
    method: "POST",
    headers: {
      authorization: `Bearer ${stack.serviceRoleKey}`,
      "content-type": "application/json",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

async function connect(
  sql: postgres.Sql,
  user: TestUser,
  serverId: string,
  config: Record<string, unknown>,
  agentId?: string,
): Promise<string> {
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by, connection_config)
    values (${agentId ?? user.agentId}, ${serverId}, ${user.id}, ${sql.json(config as never)})
    returning id
  `;
  return row.id;
}

/** How many times a server was asked to start a session (discover or initialize). */
function probesSeen(server: { requests: readonly { rpcMethods?: readonly string[] }[] }): number {
  return server.requests.filter((r) =>
    r.rpcMethods?.some((m) => m === "server/discover" || m === "initialize")
  ).length;
}

Deno.test("mcp-health-check probes each target once and writes every connection's result", async () => {
  await using sql = openDb();
  await using server = await startModernServer({ tools: 2 });
  const serverId = await createServer(sql, server.url, "Shared server");
  const users = await Promise.all(
    [1, 2, 3].map((i) => createUser(sql, { label: `hc-shared-${i}` })),
  );
  // The first user's two agents share a config: one target. The other users' equal
  // configs are targets of their own (a target never spans owners).
  const shared = await Promise.all(users.map((u) => connect(sql, u, serverId, { timeout: 3000 })));
  shared.push(
    await connect(
      sql,
      users[0]!,
      serverId,
      { timeout: 3000 },
      await createAgent(sql, users[0]!.id),
    ),
  );
  const withKey = await connect(sql, users[0]!, serverId, {
    timeout: 3000,
    customHeaders: { "X-Key": "k" },
  }, await createAgent(sql, users[0]!.id));

  const res = await runHealthCheck({ serverIds: [serverId] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.connections, 5);
  assert.equal(res.body.servers, 1);
  assert.equal(res.body.targets, 4, "one per owner and config: the custom header makes another");
  assert.equal(res.body.probed, 4);
  assert.equal(res.body.healthy, 4);
  assert.equal(res.body.skipped, 0);
  assert.equal(res.body.finished, true, "a cycle of one batch ends with its invocation");
  assert.deepEqual(res.body.batch, { batchNo: 0, attempt: 1, targets: 4, probed: 4 });
  assert.ok(res.body.runId);
  assert.equal(probesSeen(server), 4, "one probe per target, not per connection");
  assert.ok(
    server.requests.some((r) => r.headers["x-key"] === "k"),
    "the target's own headers are sent",
  );

  const rows =
    await sql`select id, connection_status, connection_test_result from agent_mcp_connections
    where id = any(${sql.array([...shared, withKey])}::uuid[])`;
  assert.equal(rows.length, 5);
  for (const row of rows) {
    assert.equal(row.connection_status, "connected");
    assert.equal(row.connection_test_result.success, true);
    assert.equal(row.connection_test_result.toolCount, 2);
  }
  const history = await sql`select owner_id from mcp_health_checks where run_id = ${res
    .body.runId!} order by owner_id`;
  assert.deepEqual(
    history.map((h) => h.owner_id),
    [users[0]!.id, users[0]!.id, users[1]!.id, users[2]!.id].sort(),
    "one history row per target and cycle, each with its owner",
  );
});

Deno.test("a hanging server costs its own timeout, not the run's", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-hang" });
  await using hang = await startFaultServer("hang");
  const healthyServers = await Promise.all([1, 2, 3].map(() => startModernServer()));
  try {
    const hangId = await createServer(sql, hang.url, "Hanging");
    const ids = [hangId];
    const hangConnection = await connect(sql, user, hangId, { timeout: 1000, retryAttempts: 0 });
    for (const server of healthyServers) {
      const id = await createServer(sql, server.url, "Healthy");
      ids.push(id);
      await connect(sql, user, id, { timeout: 1000 }, await createAgent(sql, user.id));
    }
    const budgetMs = 30_000;
    const started = performance.now();
    const res = await runHealthCheck({ serverIds: ids, budgetMs });
    const elapsed = performance.now() - started;
    assert.equal(res.status, 200);
    assert.equal(res.body.healthy, 3);
    assert.equal(res.body.unhealthy, 1);
    // The hanging probe ended at its own timeout (by its own clock, not the machine's load)...
    const [hung] = await sql`
      select connection_test_result as result from agent_mcp_connections where id = ${hangConnection}`;
    assert.equal(hung!.result.error?.class, "timeout");
    assert.ok(
      hung!.result.durationMs >= 1000 - 50 && hung!.result.durationMs <= 1000 + 1500,
      `the probe took ${hung!.result.durationMs} ms for a 1000 ms timeout`,
    );
    // ...and the run did not wait for its budget.
    assert.ok(elapsed >= 900 && elapsed < budgetMs / 2, `run took ${elapsed} ms`);
  } finally {
    await Promise.all(healthyServers.map((s) => s.close()));
  }
});

Deno.test("status turns error only after the failure threshold, and back at the first success", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-threshold" });
  await using dead = await startFaultServer("refused");
  await using alive = await startModernServer();
  const serverId = await createServer(sql, dead.url, "Flaky");
  const id = await connect(sql, user, serverId, { timeout: 1000, retryAttempts: 0 });
  await sql`update agent_mcp_connections set connection_status = 'connected' where id = ${id}`;
  const state = async () =>
    (await sql`select c.connection_status, h.consecutive_failures, h.last_error_class, h.last_status_change_at
      from agent_mcp_connections c left join agent_mcp_connection_health h on h.connection_id = c.id
      where c.id = ${id}`)[0]!;

  for (const expected of [1, 2]) {
    const res = await runHealthCheck({ serverIds: [serverId], failureThreshold: 3 });
    assert.equal(res.status, 200);
    assert.equal(res.body.unhealthy, 1);
    const s = await state();
    assert.equal(s.connection_status, "connected", `still connected after ${expected} failure(s)`);
    assert.equal(s.consecutive_failures, expected);
    assert.equal(s.last_error_class, "refused");
  }
  const third = await runHealthCheck({ serverIds: [serverId], failureThreshold: 3 });
  assert.equal(third.body.becameUnhealthy, 1);
  const failed = await state();
  assert.equal(failed.connection_status, "error");
  assert.ok(failed.last_status_change_at);

  await sql`update account_tool_instances set mcp_server_url = ${alive.url} where id = ${serverId}`;
  const recovered = await runHealthCheck({ serverIds: [serverId], failureThreshold: 3 });
  assert.equal(recovered.body.becameHealthy, 1);
  const s = await state();
  assert.equal(s.connection_status, "connected");
  assert.equal(s.consecutive_failures, 0);
  assert.ok(s.last_status_change_at > failed.last_status_change_at);
});

Deno.test("the health views give uptime and latency percentiles, to each user for their own connections", async () => {
  await using sql = openDb();
  const owner = await createUser(sql, { label: "hc-views" });
  const other = await createUser(sql, { label: "hc-views-other" });
  const serverId = await createServer(sql, "http://127.0.0.1:9/mcp", "Views server");
  const id = await connect(sql, owner, serverId, { timeout: 2000 });
  const config = sql.json({ timeout: 2000 });
  const [{ key }] = await sql<
    [{ key: string }]
  >`select probe_target_key(${owner.id}::uuid, ${config}) as key`;
  const [run] = await sql`insert into mcp_health_check_runs (lease_expires_at, finished_at)
    values (now() + interval '1 minute', now()) returning id`;
  // Last 24 h: 8 successes at 10..80 ms and 2 failures; three days ago: 10 successes.
  await sql`
    insert into mcp_health_checks
      (run_id, mcp_server_instance_id, owner_id, target_key, checked_at, success, latency_ms, error_class)
    select ${
    run!.id
  }::uuid, ${serverId}::uuid, ${owner.id}::uuid, ${key}, checked_at, success, latency,
           error_class
    from (
      select now() - make_interval(mins => i), true, i * 10, null from generate_series(1, 8) as i
      union all
      select now() - make_interval(mins => 30 + i), false, null, 'timeout' from generate_series(1, 2) as i
      union all
      select now() - interval '3 days' - make_interval(mins => i), true, 500, null
      from generate_series(1, 10) as i
    ) as checks (checked_at, success, latency, error_class)
  `;

  const asOwner = await call<Record<string, unknown>[]>(
    `${stack.url}/rest/v1/agent_mcp_connection_health_summary?connection_id=eq.${id}`,
    { headers: { apikey: stack.anonKey, authorization: `Bearer ${owner.token}` } },
  );
  assert.equal(asOwner.status, 200);
  const summary = asOwner.body[0]!;
  assert.equal(summary.checks_24h, 10);
  assert.equal(summary.checks_7d, 20);
  assert.equal(Number(summary.uptime_24h), 0.8);
  assert.equal(Number(summary.uptime_7d), 0.9);
  assert.equal(summary.latency_p50_ms, 45);
  assert.ok(Math.abs((summary.latency_p95_ms as number) - 76.5) < 1e-9);
  assert.ok(Math.abs((summary.latency_p99_ms as number) - 79.3) < 1e-9);

  const checks = await call<unknown[]>(
    `${stack.url}/rest/v1/mcp_health_checks?mcp_server_instance_id=eq.${serverId}&select=id`,
    { headers: { apikey: stack.anonKey, authorization: `Bearer ${owner.token}` } },
  );
  assert.equal(checks.body.length, 20, "the owner reads the history of their connection's target");

  // The other user connects to the same server with the same config: the owner's
  // history stays the owner's (issue 12: equal configs must not reveal each other).
  await connect(sql, other, serverId, { timeout: 2000 });
  for (
    const path of [
      `agent_mcp_connection_health_summary?connection_id=eq.${id}`,
      `mcp_health_checks?mcp_server_instance_id=eq.${serverId}&select=id`,
      `agent_mcp_connection_health?connection_id=eq.${id}`,
      `agent_mcp_connection_health_summary?checks_7d=gt.0`,
    ]
  ) {
    const res = await call<unknown[]>(`${stack.url}/rest/v1/${path}`, {
      headers: { apikey: stack.anonKey, authorization: `Bearer ${other.token}` },
    });
    assert.equal(res.status, 200, path);
    assert.deepEqual(res.body, [], `another user sees none of ${path}`);
  }
});

Deno.test("only the scheduler may run the health check", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-auth" });
  const serverId = await createServer(sql, "http://127.0.0.1:9/mcp", "Auth server");
  const cases: [string, Record<string, string>, number, string][] = [
    ["no credentials", { authorization: "" }, 401, "missing_authorization"],
    ["a user's JWT", { authorization: `Bearer ${user.token}` }, 403, "forbidden"],
    ["the anon key", { authorization: `Bearer ${stack.anonKey}` }, 403, "forbidden"],
    ["a garbage token", { authorization: "Bearer nonsense" }, 401, "invalid_jwt"],
    [
      "a wrong cron secret",
      { authorization: "", "x-health-check-secret": "guess" },
      401,
      "invalid_authorization",
    ],
  ];
  for (const [name, headers, status, code] of cases) {
    await t.step(`${name} → ${status} ${code}, and nothing runs`, async () => {
      const [before] = await sql`select count(*)::int as n from mcp_health_check_runs`;
      const res = await runHealthCheck({ serverIds: [serverId] }, headers);
      assert.equal(res.status, status);
      assert.equal(res.body.error.code, code);
      const [after] = await sql`select count(*)::int as n from mcp_health_check_runs`;
      assert.equal(after!.n, before!.n);
    });
  }
  await t.step(
    "the cron secret, the secret key and the service role key are accepted",
    async () => {
      const accepted: Record<string, string>[] = [
        { authorization: "", "x-health-check-secret": stack.healthCheckSecret },
        { authorization: "", apikey: stack.secretKey },
        { authorization: `Bearer ${stack.serviceRoleKey}` },
      ];
      for (const headers of accepted) {
        const res = await runHealthCheck({ serverIds: [serverId], dryRun: true }, headers);
        assert.equal(res.status, 200, JSON.stringify(headers).slice(0, 60));
      }
    },
  );
  await t.step("GET answers 405 and bad options 400", async () => {
    const get = await call<ErrorBody>(ENDPOINT, {
      headers: { authorization: `Bearer ${stack.serviceRoleKey}` },
    });
    assert.equal(get.status, 405);
    const bad = await runHealthCheck({ serverIds: ["nope"], concurrency: 0 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_request");
  });
});

Deno.test("overlapping runs do not both write; a dry run writes nothing", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-overlap" });
  await using hang = await startFaultServer("hang");
  const serverId = await createServer(sql, hang.url, "Overlap");
  const id = await connect(sql, user, serverId, { timeout: 1500, retryAttempts: 0 });

  const dry = await runHealthCheck({ serverIds: [serverId], dryRun: true, budgetMs: 5000 });
  assert.equal(dry.status, 200);
  assert.equal(dry.body.runId, null);
  assert.equal(dry.body.unhealthy, 1);
  const [untouched] =
    await sql`select connection_test_result from agent_mcp_connections where id = ${id}`;
  assert.equal(untouched!.connection_test_result, null, "a dry run writes nothing");

  // The first run holds the lease while its probe hangs; the hang ends when the server closes
  // (after the second run was refused), long before this timeout.
  await sql`update agent_mcp_connections
    set connection_config = ${sql.json({ timeout: 20_000, retryAttempts: 0 })} where id = ${id}`;
  const dryProbes = hang.connections();
  const first = runHealthCheck({ serverIds: [serverId], budgetMs: 30_000 });
  // The first run's probe reached the server: the run holds its lease until the probe ends.
  await waitFor(() => Promise.resolve(hang.connections() > dryProbes), "the first run's probe");
  const second = await runHealthCheck({ serverIds: [serverId], budgetMs: 30_000 });
  await hang.close();
  assert.equal((await first).status, 200);
  assert.equal(second.status, 409);
  assert.equal(second.body.error.code, "run_in_progress");
  const rows =
    await sql`select run_id from mcp_health_checks where mcp_server_instance_id = ${serverId}`;
  assert.deepEqual(
    rows.map((r) => r.run_id),
    [(await first).body.runId],
    "one history row, from the run that held the lease",
  );
  const [health] =
    await sql`select consecutive_failures from agent_mcp_connection_health where connection_id = ${id}`;
  assert.equal(health!.consecutive_failures, 1, "counted once");
});

/** Waits until `check` holds (polled, no timing assertion), at most `ms`. */
async function waitFor(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cycleFinished(sql: postgres.Sql, runId: string): Promise<boolean> {
  const [run] = await sql`select finished_at from mcp_health_check_runs where id = ${runId}`;
  return Boolean(run?.finished_at);
}

Deno.test("issue 12: another user's secret header cannot be guessed through health history", async () => {
  await using sql = openDb();
  await using server = await startModernServer();
  const serverId = await createServer(sql, server.url, "Secret server");
  const owner = await createUser(sql, { label: "hc-secret-owner" });
  const guesser = await createUser(sql, { label: "hc-secret-guesser" });
  const ownerConnection = await connect(sql, owner, serverId, {
    customHeaders: { "X-Api-Key": "0007" },
  });
  const first = await runHealthCheck({ serverIds: [serverId] });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.probed, 1);

  // The guesser tries 20 values, each on an agent of theirs, through PostgREST.
  const agents = [];
  for (let i = 0; i < 20; i++) agents.push(await createAgent(sql, guesser.id));
  const asGuesser = { apikey: stack.anonKey, authorization: `Bearer ${guesser.token}` };
  const created = await call<{ id: string }[]>(
    `${stack.url}/rest/v1/agent_mcp_connections?select=id`,
    {
      method: "POST",
      headers: {
        ...asGuesser,
        "content-type": "application/json",
        prefer: "return=representation",
      },
      body: JSON.stringify(agents.map((agentId, i) => ({
        agent_id: agentId,
        mcp_server_instance_id: serverId,
        connection_config: { customHeaders: { "X-Api-Key": String(i).padStart(4, "0") } },
      }))),
    },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const guessed = await call<unknown[]>(
    `${stack.url}/rest/v1/agent_mcp_connection_health_summary?checks_7d=gt.0&select=connection_id`,
    { headers: asGuesser },
  );
  assert.equal(guessed.status, 200);
  assert.deepEqual(guessed.body, [], "the matching guess shows none of the owner's checks");
  const checks = await call<unknown[]>(
    `${stack.url}/rest/v1/mcp_health_checks?mcp_server_instance_id=eq.${serverId}&select=id`,
    { headers: asGuesser },
  );
  assert.deepEqual(checks.body, [], "nor does the history");

  // The next cycle probes the owner's target and each guess on its own: no shared result.
  const second = await runHealthCheck({ serverIds: [serverId] });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(second.body.targets, 21, "the equal guess is a target of its own");
  assert.equal(second.body.probed, 21);
  const counts = await call<{ checks_7d: number }[]>(
    `${stack.url}/rest/v1/agent_mcp_connection_health_summary?mcp_server_instance_id=eq.${serverId}&select=checks_7d`,
    { headers: asGuesser },
  );
  assert.deepEqual(
    counts.body.map((c) => c.checks_7d),
    Array(20).fill(1),
    "every guess has exactly its own one check: none stands out",
  );
  const [own] = await sql`select checks_7d::int as n from agent_mcp_connection_health_summary
    where connection_id = ${ownerConnection}`;
  assert.equal(own!.n, 2, "the owner keeps both of their checks");
});

Deno.test("a cycle larger than a batch is spread over invocations that start each other", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-fanout" });
  const servers = await Promise.all([1, 2, 3, 4, 5].map(() => startModernServer()));
  try {
    const ids: string[] = [];
    for (const server of servers) {
      const id = await createServer(sql, server.url, "Fan-out");
      ids.push(id);
      await connect(sql, user, id, { timeout: 3000 }, await createAgent(sql, user.id));
    }
    const res = await runHealthCheck({ serverIds: ids, batchSize: 2, parallelism: 2 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.targets, 5);
    assert.equal(res.body.batches, 3);
    assert.equal(res.body.batch?.targets, 2, "the first invocation probed one batch");
    const runId = res.body.runId!;
    await waitFor(() => cycleFinished(sql, runId), "the cycle to finish");

    const [run] = await sql`select batches_done, probed, healthy, skipped
      from mcp_health_check_runs where id = ${runId}`;
    assert.deepEqual({ ...run }, { batches_done: 3, probed: 5, healthy: 5, skipped: 0 });
    const batches = await sql`select batch_no, state, attempts, target_count
      from mcp_health_check_batches where run_id = ${runId} order by batch_no`;
    assert.deepEqual(batches.map((b) => [b.batch_no, b.state, b.attempts, b.target_count]), [
      [0, "done", 1, 2],
      [1, "done", 1, 2],
      [2, "done", 1, 1],
    ]);
    assert.deepEqual(servers.map(probesSeen), [1, 1, 1, 1, 1], "each server probed once");
    const [written] = await sql`select count(*)::int as n from agent_mcp_connections
      where mcp_server_instance_id = any(${
      sql.array(ids)
    }::uuid[]) and connection_test_result is not null`;
    assert.equal(written!.n, 5);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});

Deno.test("a killed invocation's batch is retried by a later invocation once its lease ran out", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-killed" });
  await using server = await startModernServer();
  const serverId = await createServer(sql, server.url, "Killed");
  const id = await connect(sql, user, serverId, { timeout: 3000 });

  // An invocation starts a cycle with a 2 s lease, claims its batch, and dies.
  const [{ run_id: runId }] = await sql<[{ run_id: string }]>`
    select run_id from begin_mcp_health_check_run(2, 100, array[${serverId}]::uuid[])`;
  const [claim] = await sql`select claim_mcp_health_check_batch(${runId}, 2) as body`;
  assert.equal(claim!.body.batch.attempt, 1);
  const busy = await runHealthCheck({ serverIds: [serverId] });
  assert.equal(busy.status, 409, "while its lease holds, the cycle is in progress");
  assert.equal(busy.body.error.code, "run_in_progress");

  await waitFor(async () => {
    const [row] = await sql`select lease_expires_at < now() as expired
      from mcp_health_check_batches where run_id = ${runId}`;
    return row!.expired;
  }, "the lease to run out");
  const res = await runHealthCheck({});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.runId, runId, "the next call continues the dead cycle");
  assert.equal(res.body.resumed, true);
  assert.deepEqual(res.body.batch, { batchNo: 0, attempt: 2, targets: 1, probed: 1 });
  assert.equal(res.body.finished, true);
  assert.equal(probesSeen(server), 1);
  const [row] = await sql`select connection_status, connection_test_result
    from agent_mcp_connections where id = ${id}`;
  assert.equal(row!.connection_status, "connected");
  assert.equal(row!.connection_test_result.success, true);
});

Deno.test("one owner's 500 configs on a shared server do not starve another owner's check", async () => {
  await using sql = openDb();
  await using server = await startModernServer();
  const serverId = await createServer(sql, server.url, "Shared and crowded");
  const crowd = await createUser(sql, { label: "hc-crowd" });
  const other = await createUser(sql, { label: "hc-crowd-other" });
  // The API stops a user at 20 header configs per server (connection_limit_reached), but
  // the check must stay fair whatever the table holds (rows from before the limit, or
  // written by service_role): the fixture skips the table's triggers to write 500.
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`
      with agents as (
        insert into agents (user_id, name)
        select ${crowd.id}, 'Crowd ' || n from generate_series(1, 500) as n
        returning id
      )
      insert into agent_mcp_connections
          (agent_id, mcp_server_instance_id, created_by, owner_id, connection_config)
      select a.id, ${serverId}, ${crowd.id}, ${crowd.id},
             jsonb_build_object('timeout', 3000, 'retryAttempts', 2,
                                'customHeaders', jsonb_build_object('X-Tenant', a.id::text))
      from agents as a
    `;
  });
  const otherConnection = await connect(sql, other, serverId, { timeout: 3000, retryAttempts: 0 });

  // Cap 20 targets per owner; 30 attempts for the origin (the crowd's cost 3 each).
  const res = await runHealthCheck({
    serverIds: [serverId],
    batchSize: 4,
    parallelism: 1,
    maxTargetsPerOwner: 20,
    maxAttemptsPerOrigin: 30,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const [early] = await sql`select connection_test_result from agent_mcp_connections
    where id = ${otherConnection}`;
  assert.equal(
    early!.connection_test_result?.success,
    true,
    "the other owner's target was in the first batch",
  );
  await waitFor(() => cycleFinished(sql, res.body.runId!), "the cycle to finish");
  const [run] = await sql`select targets, probed, skipped, skip_reasons
    from mcp_health_check_runs where id = ${res.body.runId!}`;
  assert.deepEqual({ ...run }, {
    targets: 501,
    probed: 10,
    skipped: 491,
    skip_reasons: { owner_cap: 480, origin_budget: 11 },
  });
  assert.equal(probesSeen(server), 10, "the origin received its budget, not 501 probes");
});

Deno.test("servers that are not running are skipped, and the cycle says why", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-stopped" });
  await using server = await startModernServer();
  const serverId = await createServer(sql, server.url, "Stopped");
  // Connected while it ran; stopped since (a stopped server takes no new connection).
  const id = await connect(sql, user, serverId, { timeout: 3000 });
  await sql`update account_tool_instances set status_on_toolbox = 'stopped' where id = ${serverId}`;
  const res = await runHealthCheck({ serverIds: [serverId] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.targets, 1);
  assert.equal(res.body.probed, 0);
  assert.equal(res.body.skipped, 1);
  assert.deepEqual(res.body.skipReasons, { server_not_running: 1 });
  assert.equal(res.body.finished, true);
  assert.equal(probesSeen(server), 0, "the server was not probed");
  const [row] =
    await sql`select connection_test_result from agent_mcp_connections where id = ${id}`;
  assert.equal(row!.connection_test_result, null);
});

Deno.test("a repeat check starts with what the target spoke last time (issue 13, item 6)", async () => {
  await using sql = openDb();
  await using server = await startLegacySseServer();
  const serverId = await createServer(sql, server.url, "Legacy SSE only");
  const user = await createUser(sql, { label: "hc-hint" });
  const id = await connect(sql, user, serverId, { timeout: 5000, retryAttempts: 0 });

  const cycle = async () => {
    const before = server.requests.length;
    const res = await runHealthCheck({ serverIds: [serverId] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitFor(() => cycleFinished(sql, res.body.runId!), "the cycle to finish");
    const [row] = await sql`select connection_test_result as r from agent_mcp_connections
      where id = ${id}`;
    assert.equal(row!.r.success, true);
    assert.equal(row!.r.transport, "sse");
    return server.requests.length - before;
  };
  const first = await cycle();
  const second = await cycle();
  // The first check tries Streamable HTTP before it falls back to the SSE transport; the
  // second starts on SSE, so the server sees fewer requests (and no failed POST to /sse).
  assert.ok(second < first, `requests: first check ${first}, second ${second}`);
  assert.equal(server.streamsOpened(), 2, "one event stream per check");
});

Deno.test("a target whose timeout is longer than a batch's budget is probed in a batch of its own, not skipped", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "hc-long" });
  await using hang = await startFaultServer("hang");
  await using patient = await startModernServer();
  await using quick = await startModernServer();
  const hangId = await createServer(sql, hang.url, "Hanging, long timeout");
  const patientId = await createServer(sql, patient.url, "Healthy, long timeout");
  const quickId = await createServer(sql, quick.url, "Healthy, short timeout");
  // A 2 s batch budget fits timeouts up to 1.5 s: the two 4 s ones never fit in a batch.
  await connect(sql, user, hangId, { timeout: 4000, retryAttempts: 0 });
  await connect(sql, user, patientId, { timeout: 4000 }, await createAgent(sql, user.id));
  await connect(sql, user, quickId, { timeout: 1500 }, await createAgent(sql, user.id));

  const res = await runHealthCheck({
    serverIds: [hangId, patientId, quickId],
    budgetMs: 2000,
    parallelism: 2,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.targets, 3);
  assert.equal(res.body.batches, 2, "the long ones' batch, then the others'");
  assert.deepEqual(res.body.batch, { batchNo: 0, attempt: 1, targets: 2, probed: 2 });
  const runId = res.body.runId!;
  await waitFor(() => cycleFinished(sql, runId), "the cycle to finish");

  const [run] = await sql`select probed, healthy, unhealthy, skipped, skip_reasons
    from mcp_health_check_runs where id = ${runId}`;
  assert.deepEqual({ ...run }, {
    probed: 3,
    healthy: 2,
    unhealthy: 1,
    skipped: 0,
    skip_reasons: {},
  });
  const batches = await sql`select batch_no, state, target_count,
      array(select t ->> 'serverId' from jsonb_array_elements(targets) as t order by 1) as servers
    from mcp_health_check_batches where run_id = ${runId} order by batch_no`;
  assert.deepEqual(batches.map((b) => [b.batch_no, b.state, b.target_count, b.servers]), [
    [0, "done", 2, [hangId, patientId].sort()],
    [1, "done", 1, [quickId]],
  ]);
  const [hanging] = await sql`select connection_test_result -> 'error' ->> 'class' as class
    from agent_mcp_connections where mcp_server_instance_id = ${hangId}`;
  assert.equal(hanging!.class, "timeout", "the hanging server was probed up to its own timeout");
});
