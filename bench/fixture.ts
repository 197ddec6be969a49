/**
 * The benchmark data set, filled set-based (INSERT ... SELECT from generate_series) as the
 * superuser: users, admins, MCP servers, agents and their connections, then a copy of the
 * connections in the research draft's table (bench/draft_schema.ts), then VACUUM ANALYZE twice
 * (index-only scans needed a second VACUUM before).
 *
 * Shape (the defaults: 1M connections, 100k agents, 20k users, 50 admins):
 * - users 1 .. `powerUsers` own `agentsPerPowerUser` agents each (a long list: page 2 is full);
 * - the other agents go round-robin to users `powerUsers + 1` .. `users - 1` (about 5 each);
 * - the last user owns nothing; the 50 users before it are admins (who own agents too);
 * - every agent has `connectionsPerAgent` connections to distinct servers: the last one
 *   disconnected (soft-deleted), one in error, one never tested, the rest connected with a
 *   stored test result and usage statistics;
 * - rows are written in `created_at` order, spread over a year, as an application writes them
 *   over time: a user's rows are scattered over the table, not stored together.
 *
 * Ids are `md5(<kind>-<n>)::uuid`, so the runner can name the users it measures.
 */
import type postgres from "postgres";
import { DRAFT_INDEXES_AND_POLICIES, DRAFT_TABLE } from "./draft_schema.ts";

export interface FixtureSize {
  users: number;
  agents: number;
  connectionsPerAgent: number;
  admins: number;
  servers: number;
  powerUsers: number;
  agentsPerPowerUser: number;
}

export const FULL_SIZE: FixtureSize = {
  users: 20_000,
  agents: 100_000,
  connectionsPerAgent: 10,
  admins: 50,
  servers: 200,
  powerUsers: 100,
  agentsPerPowerUser: 50,
};

/** A small data set for runs that only need a few connections (e.g. `--only=usage`). */
export const SMALL_SIZE: FixtureSize = {
  users: 2_000,
  agents: 10_000,
  connectionsPerAgent: 10,
  admins: 50,
  servers: 200,
  powerUsers: 10,
  agentsPerPowerUser: 50,
};

/** A user the benchmarks act as. */
export interface BenchUser {
  id: string;
  /** Active and disconnected connections of the user's agents. */
  connections: number;
  activeConnections: number;
}

export interface Fixture {
  size: FixtureSize;
  connections: number;
  /** An ordinary user with about `5 × connectionsPerAgent` connections. */
  typical: BenchUser;
  /** A user with `agentsPerPowerUser × connectionsPerAgent` connections. */
  power: BenchUser;
  /** A user who owns no agent. */
  empty: BenchUser;
  admin: BenchUser;
  /** An active connection of the typical user's, for the usage benchmark. */
  hotConnectionId: string;
  /** Seconds each step took. */
  timings: Record<string, number>;
  /** Heap and index sizes of the project's table and the draft's copy. */
  sizes: { table: string; heap: string; indexes: string }[];
}

/** The id of user `n`, in SQL where `n` is a column. */
const USER_N = "md5('bench-user-' || n)::uuid";

/** The SQL of the user who owns agent `n` (an integer expression). */
function ownerOf(size: FixtureSize, n: string): string {
  const powerAgents = size.powerUsers * size.agentsPerPowerUser;
  const ordinaryUsers = size.users - size.powerUsers - 1;
  return `case when ${n} <= ${powerAgents} then (${n} - 1) / ${size.agentsPerPowerUser} + 1
    else ${size.powerUsers} + 1 + (${n} - ${powerAgents} - 1) % ${ordinaryUsers} end`;
}

const CONFIG = { timeout: 10000, retryAttempts: 2 };

const TEST_RESULT = {
  success: true,
  error: null,
  latency: 148,
  capabilities: ["tools"],
  timestamp: "2026-11-20T12:00:00.000Z",
  serverInfo: { name: "bench-mcp-server", version: "1.4.2" },
  protocolVersion: "2025-11-25",
  era: "legacy",
  transport: "streamable-http",
  tools: [
    { name: "search", description: "Search the knowledge base" },
    { name: "fetch", description: "Fetch a document by id" },
    { name: "summarize", description: "Summarize a document" },
  ],
  toolCount: 3,
  attempts: 1,
  durationMs: 151,
};

const USAGE_STATS = {
  totalRequests: 1250,
  successfulRequests: 1200,
  failedRequests: 50,
  averageResponseTime: 300,
  totalResponseTime: 375000,
  lastUsed: "2026-11-20T11:30:00.000Z",
  bytesTransferred: 5242880,
};

/** Fills an empty stack (started with `seed: false`) and returns the users to act as. */
export async function fillFixture(
  sql: postgres.Sql,
  size: FixtureSize,
  progress: (message: string) => void = () => {},
): Promise<Fixture> {
  const timings: Record<string, number> = {};
  const step = async (name: string, run: () => Promise<unknown>) => {
    const started = performance.now();
    await run();
    timings[name] = Math.round((performance.now() - started) / 100) / 10;
    progress(`${name}: ${timings[name]} s`);
  };
  const total = size.agents * size.connectionsPerAgent;
  const lastConnection = size.connectionsPerAgent - 1;

  await step("users, admins, servers, agents", () =>
    sql.begin(async (tx) => {
      await tx.unsafe(`
        insert into auth.users (id, aud, role, email)
        select ${USER_N}, 'authenticated', 'authenticated',
               'bench-user-' || n || '@bench.local'
        from generate_series(1, ${size.users}) as n`);
      await tx.unsafe(`
        insert into public.user_roles (user_id, role)
        select ${USER_N}, 'admin'
        from generate_series(${size.users - size.admins}, ${size.users - 1}) as n`);
      await tx.unsafe(`
        insert into public.account_tool_instances
            (id, instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
        select md5('bench-server-' || n)::uuid, 'Bench server ' || n, 'running',
               'http://127.0.0.1:9/mcp/' || n
        from generate_series(1, ${size.servers}) as n`);
      await tx.unsafe(`
        insert into public.agents (id, user_id, name)
        select md5('bench-agent-' || n)::uuid, md5('bench-user-' || (${ownerOf(size, "n")}))::uuid,
               'Bench agent ' || n
        from generate_series(1, ${size.agents}) as n`);
    }));

  // The rows are consistent by construction: skip the per-row foreign key and creator
  // triggers while filling (session_replication_role = replica); CHECK constraints still run.
  await step(`${total} connections`, () =>
    sql.begin(async (tx) => {
      await tx.unsafe("set local session_replication_role = replica");
      await tx.unsafe("set local work_mem = '256MB'");
      await tx.unsafe(
        `
        insert into public.agent_mcp_connections (
            agent_id, mcp_server_instance_id, connection_config, connection_test_result,
            is_active, connection_status, last_used, usage_stats, created_at, updated_at, created_by,
            owner_id)
        select agent_id, server_id, $1::jsonb,
               case when status = 'connected' then $2::jsonb end,
               i < ${lastConnection}, status,
               case when status = 'connected' then created_at + interval '1 hour' end,
               case when status = 'connected' then $3::jsonb
                    else '{}'::jsonb end,
               created_at, created_at, owner, owner
        from (
            select md5('bench-agent-' || a.n)::uuid as agent_id,
                   md5('bench-server-' || (1 + (a.n * 13 + i * 17) % ${size.servers}))::uuid
                       as server_id,
                   md5('bench-user-' || (${ownerOf(size, "a.n")}))::uuid as owner,
                   i,
                   case when i = ${lastConnection} then 'disconnected'
                        when i = ${lastConnection - 1} then 'error'
                        when i = ${lastConnection - 2} then 'disconnected'
                        else 'connected' end as status,
                   now() - interval '1 minute' - random() * interval '365 days' as created_at
            from generate_series(1, ${size.agents}) as a (n)
            cross join generate_series(0, ${lastConnection}) as i
        ) as generated
        order by created_at`,
        [CONFIG, TEST_RESULT, USAGE_STATS],
      );
    }));

  await step("draft copy", () =>
    sql.begin(async (tx) => {
      await tx.unsafe("set local search_path = draft, public");
      await tx.unsafe(DRAFT_TABLE);
      await tx.unsafe(`
        insert into draft.agent_mcp_connections
        select id, agent_id, mcp_server_instance_id, connection_config, connection_test_result,
               is_active, connection_status, last_used, usage_stats, created_at, updated_at,
               created_by
        from public.agent_mcp_connections`);
      await tx.unsafe("set local maintenance_work_mem = '512MB'");
      await tx.unsafe(DRAFT_INDEXES_AND_POLICIES);
    }));

  await step("vacuum analyze (twice)", async () => {
    await sql`vacuum analyze`;
    await sql`vacuum analyze`;
  });

  const user = async (n: number): Promise<BenchUser> => {
    const [row] = await sql<[{ id: string; connections: number; active: number }]>`
      select u.id,
             count(c.id)::int as connections,
             (count(c.id) filter (where c.is_active))::int as active
      from auth.users as u
      left join public.agents as a on a.user_id = u.id
      left join public.agent_mcp_connections as c on c.agent_id = a.id
      where u.id = md5('bench-user-' || ${n}::int)::uuid
      group by u.id`;
    return { id: row.id, connections: row.connections, activeConnections: row.active };
  };
  const typicalN = size.powerUsers + 51;
  const typical = await user(typicalN);
  const [hot] = await sql<[{ id: string }]>`
    select c.id from public.agent_mcp_connections as c
    join public.agents as a on a.id = c.agent_id
    where a.user_id = ${typical.id} and c.is_active
    order by c.created_at limit 1`;
  const sizes = await sql<{ table: string; heap: string; indexes: string }[]>`
    select t as table, pg_size_pretty(pg_relation_size(t::regclass)) as heap,
           pg_size_pretty(pg_indexes_size(t::regclass)) as indexes
    from unnest(array['public.agent_mcp_connections', 'draft.agent_mcp_connections']) as t`;
  return {
    size,
    connections: total,
    sizes: [...sizes],
    typical,
    power: await user(1),
    empty: await user(size.users),
    admin: await user(size.users - 1),
    hotConnectionId: hot.id,
    timings,
  };
}
