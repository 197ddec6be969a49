/**
 * The recommendations refresh under concurrency: two refreshes at once apply each change
 * once (they queue on an advisory lock; the second counts from the first's committed
 * state), a reader during a refresh sees the aggregates as they were until it commits,
 * servers and pairs together, and a refresh at REPEATABLE READ is refused (a snapshot
 * taken before the lock would count the first refresh's changes again). The counts are
 * checked against the connections themselves. The privacy proofs are in
 * supabase/tests/database/13-recommendations.test.sql.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { createAgent, createServer, createUser, openDb, type TestUser } from "../_support/stack.ts";

const UNUSED_URL = "http://127.0.0.1:9/mcp";
const LOCK_KEY = "public.refresh_agent_mcp_recommendations";

interface PairRow {
  server: string;
  partner: string;
  users: number;
  agents: number;
}

async function connect(
  sql: postgres.Sql,
  user: TestUser,
  agentId: string,
  serverId: string,
): Promise<void> {
  await sql`
    insert into public.agent_mcp_connections
        (agent_id, mcp_server_instance_id, created_by, connection_status)
    values (${agentId}, ${serverId}, ${user.id}, 'connected')`;
}

/** The pairs stored for these servers, as requests read them. */
async function storedPairs(sql: postgres.Sql, servers: string[]): Promise<PairRow[]> {
  return [
    ...await sql<PairRow[]>`
    select mcp_server_instance_id as server, partner_id as partner, users, agents
    from public.agent_mcp_recommendation_pairs
    where mcp_server_instance_id = any (${servers}::uuid[])
    order by 1, 2`,
  ];
}

/** The same pairs counted from the connections themselves (k = 5). */
async function livePairs(sql: postgres.Sql, servers: string[]): Promise<PairRow[]> {
  return [
    ...await sql<PairRow[]>`
    select c1.mcp_server_instance_id as server, c2.mcp_server_instance_id as partner,
           count(distinct a.user_id)::int as users, count(*)::int as agents
    from public.agent_mcp_connections as c1
    join public.agent_mcp_connections as c2
      on c2.agent_id = c1.agent_id and c2.is_active
     and c2.mcp_server_instance_id <> c1.mcp_server_instance_id
    join public.agents as a on a.id = c1.agent_id
    where c1.is_active
      and c1.mcp_server_instance_id = any (${servers}::uuid[])
      and c2.mcp_server_instance_id = any (${servers}::uuid[])
    group by 1, 2
    having count(distinct a.user_id) >= 5
    order by 1, 2`,
  ];
}

async function storedServerUsers(sql: postgres.Sql, servers: string[]): Promise<number[]> {
  const rows = await sql<{ users: number }[]>`
    select users from public.agent_mcp_recommendation_servers
    where mcp_server_instance_id = any (${servers}::uuid[])
    order by mcp_server_instance_id`;
  return rows.map((row) => row.users);
}

async function waitForLockWait(sql: postgres.Sql, pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const [row] = await sql<[{ waiting: boolean }]>`
      select exists (
          select 1 from pg_stat_activity
          where pid = ${pid} and wait_event_type = 'Lock' and wait_event = 'advisory'
      ) as waiting`;
    if (row.waiting) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the second refresh never waited on the refresh lock");
}

Deno.test("recommendations refresh: concurrent refreshes, readers, isolation", async (t) => {
  await using sql = openDb();
  const tag = crypto.randomUUID().slice(0, 8);
  const servers = [
    await createServer(sql, UNUSED_URL, `Refresh anchor ${tag}`),
    await createServer(sql, UNUSED_URL, `Refresh partner ${tag}`),
    await createServer(sql, UNUSED_URL, `Refresh extra ${tag}`),
  ];
  const [anchor, partner, extra] = servers as [string, string, string];
  // Seven users use the anchor with the partner; the first also has a second agent
  // with the same pair (one user, two agents).
  const crowd: TestUser[] = [];
  for (let i = 0; i < 7; i++) {
    const user = await createUser(sql, { label: `refresh-${tag}` });
    await connect(sql, user, user.agentId, anchor);
    await connect(sql, user, user.agentId, partner);
    crowd.push(user);
  }
  const first = crowd[0]!;
  const second = await createAgent(sql, first.id);
  await connect(sql, first, second, anchor);
  await connect(sql, first, second, partner);
  await sql`select public.refresh_agent_mcp_recommendations()`;
  assert.deepEqual(await storedPairs(sql, servers), await livePairs(sql, servers));

  // Changes: six users add the extra server, the first user's second agent moves to the
  // second user (who already uses the pair: one user fewer, as many agents), the last
  // user disconnects the partner.
  for (const user of crowd.slice(0, 6)) await connect(sql, user, user.agentId, extra);
  await sql`update public.agents set user_id = ${crowd[1]!.id} where id = ${second}`;
  await sql`
    update public.agent_mcp_connections set is_active = false, connection_status = 'disconnected'
    where agent_id = ${crowd[6]!.agentId} and mcp_server_instance_id = ${partner}`;
  const expected = await livePairs(sql, servers);

  await t.step("two refreshes at once count each change once", async () => {
    const a = await sql.reserve();
    const b = await sql.reserve();
    try {
      const [{ pid }] = await b<[{ pid: number }]>`select pg_backend_pid() as pid`;
      await a`begin`;
      // Holding the lock first keeps every other refresh (other tests') out, so what a
      // reader sees now is what it must still see during the refresh.
      await a`select pg_advisory_xact_lock(hashtextextended(${LOCK_KEY}, 0))`;
      const before = await storedPairs(sql, servers);
      const beforeServers = await storedServerUsers(sql, servers);
      await a`select public.refresh_agent_mcp_recommendations()`;
      const running = b`select public.refresh_agent_mcp_recommendations()`.then(() => "done");
      await waitForLockWait(sql, pid);

      // A reader during the refresh: the old servers and pairs, together.
      assert.deepEqual(await storedPairs(sql, servers), before);
      assert.deepEqual(await storedServerUsers(sql, servers), beforeServers);
      // The refresh itself sees its own result.
      assert.deepEqual(await storedPairs(a, servers), expected);

      await a`commit`;
      assert.equal(await running, "done");
      assert.deepEqual(await storedPairs(sql, servers), expected);
      assert.deepEqual(
        await storedServerUsers(sql, servers),
        [
          ...await sql<{ users: number }[]>`
          select count(distinct a.user_id)::int as users
          from public.agent_mcp_connections as c
          join public.agents as a on a.id = c.agent_id
          where c.is_active and c.mcp_server_instance_id = any (${servers}::uuid[])
          group by c.mcp_server_instance_id
          having count(distinct a.user_id) >= 5
          order by c.mcp_server_instance_id`,
        ].map((row) => row.users),
      );
    } finally {
      await a`rollback`.catch(() => {});
      a.release();
      b.release();
    }
  });

  await t.step("a third refresh over the same data changes nothing", async () => {
    await sql`select public.refresh_agent_mcp_recommendations()`;
    assert.deepEqual(await storedPairs(sql, servers), expected);
  });

  await t.step("a refresh at REPEATABLE READ is refused", async () => {
    await assert.rejects(
      sql.begin(
        "isolation level repeatable read",
        (tx) => tx`select public.refresh_agent_mcp_recommendations()`,
      ),
      (error: postgres.PostgresError) => {
        assert.equal(error.code, "25001");
        return true;
      },
    );
    assert.deepEqual(await storedPairs(sql, servers), expected);
  });
});
