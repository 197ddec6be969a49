/**
 * Connection recommendations (issue 17) on generated data with planted structure, in a stack
 * of its own:
 *
 * - servers come in groups of 20 that agents use together; each agent picks one group
 *   (popular groups more often: group = ⌊G·u²⌋), connects 8 of its 20 servers, plus 2 servers
 *   of two other groups (noise). Default size: 100k agents × 10 = 1M connections, 20k users
 *   (5 agents each), 2,000 servers;
 * - one server per group fails its checks (connections in `error`, 5 failed checks in a row,
 *   20 % success) and 1 % of the servers are stopped; the others succeed 90–99 %;
 * - one connection per agent is hidden (disconnected), chosen among its servers that run and
 *   do not fail; the refresh then runs on what is left.
 *
 * Figures:
 * - a request (`agent_mcp_recommendations(agent, 5)` as the agent's owner, EXPLAIN ANALYZE
 *   execution time = database time) beside computing the co-occurrence live for that agent
 *   without the precomputed tables (the reference);
 * - the refresh, wall time beside its backend's CPU time (/proc/<pid>/stat) and the load
 *   average: the first (no state yet: every agent new), a second over unchanged data, and a
 *   third after 1 % of the agents (1,000 at the default size) each disconnected a server,
 *   once the quality is measured (the incremental case a schedule sees);
 * - quality: hit rate at 5 (the hidden server among the 5 recommended) over a sample of
 *   agents, beside a popularity baseline (the 5 running, non-failing servers with the most
 *   users the agent does not use yet) on the same agents in the same run.
 */
import postgres from "postgres";
import { startThrowawayStack } from "../../scripts/stack/throwaway_stack.ts";
import { cpuMeter } from "../cpu.ts";
import type { Figure, ScenarioResult } from "../figures.ts";
import { timeFigure } from "../figures.ts";
import { loadAverage } from "../machine.ts";
import type { Explained } from "../plans.ts";
import { summarize } from "../stats.ts";

export interface RecommendationsOptions {
  /** Agents (10 connections each); users = agents / 5, servers = agents / 50. */
  agents: number;
  /** Timed requests (each on another sampled agent). */
  trials: number;
  /** Agents whose hidden connection is looked for (quality). */
  sample: number;
  progress?: (message: string) => void;
}

export const RECOMMENDATIONS_FULL: Omit<RecommendationsOptions, "progress"> = {
  agents: 100_000,
  trials: 200,
  sample: 2_000,
};

const GROUP_SIZE = 20;
const PER_GROUP = 8;
const REQUEST_TARGET_MS = 20;
const REFRESH_TARGET_S = 60;
const QUALITY_TARGET_RATIO = 2;
const REFERENCE_TRIALS = 10;
/** Share of the agents that change between the second and the third refresh. */
const CHANGED_SHARE = 0.01;

interface Refresh {
  label: string;
  wallS: number;
  cpuS: number;
  reportedMs: number;
  servers: number;
  pairs: number;
  /** 1-minute load average just before and just after. */
  load: [number, number];
}

interface SampledAgent {
  agent_id: string;
  user_id: string;
  hidden: string;
}

/** Fills the planted data set-based, as the superuser, and hides one connection per agent. */
export async function fillRecommendationFixture(
  sql: postgres.Sql,
  agents: number,
  step: (name: string, run: () => Promise<unknown>) => Promise<void>,
): Promise<{ users: number; servers: number; connections: number }> {
  const users = Math.max(5, Math.floor(agents / 5));
  const servers = Math.max(4 * GROUP_SIZE, Math.floor(agents / 50 / GROUP_SIZE) * GROUP_SIZE);
  const groups = servers / GROUP_SIZE;
  const half = Math.floor(groups / 2);

  await step("users, servers, agents", () =>
    sql.begin(async (tx) => {
      await tx.unsafe(`
        insert into auth.users (id, aud, role, email)
        select md5('rec-user-' || n)::uuid, 'authenticated', 'authenticated',
               'rec-user-' || n || '@bench.local'
        from generate_series(1, ${users}) as n`);
      // Server n belongs to group (n - 1) / 20; member 7 of each group fails, 1 % stop.
      await tx.unsafe(`
        insert into public.account_tool_instances
            (id, instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
        select md5('rec-server-' || n)::uuid, 'Server ' || n,
               case when n % 100 = 13 then 'stopped' else 'running' end,
               'http://127.0.0.1:9/mcp/' || n
        from generate_series(1, ${servers}) as n`);
      await tx.unsafe(`
        insert into public.agents (id, user_id, name)
        select md5('rec-agent-' || n)::uuid, md5('rec-user-' || (1 + (n - 1) % ${users}))::uuid,
               'Agent ' || n
        from generate_series(1, ${agents}) as n`);
    }));

  await step(`${agents * 10} connections`, () =>
    sql.begin(async (tx) => {
      await tx.unsafe("set local session_replication_role = replica");
      await tx.unsafe("set local work_mem = '256MB'");
      await tx.unsafe(`
        with planted as (
            select n,
                   floor(${groups} * power(random(), 2))::int as g,
                   floor(random() * ${GROUP_SIZE})::int as offset_in_group,
                   (array[1, 3, 7, 9, 11, 13, 17, 19])[1 + floor(random() * 8)::int] as stride,
                   floor(random() * ${half - 1})::int as r1,
                   floor(random() * ${half - 1})::int as r2
            from generate_series(1, ${agents}) as n
        ),
        chosen as (
            select p.n, i,
                   case when i < ${PER_GROUP}
                        then p.g * ${GROUP_SIZE} + (p.offset_in_group + i * p.stride) % ${GROUP_SIZE} + 1
                        when i = ${PER_GROUP}
                        then ((p.g + 1 + p.r1) % ${groups}) * ${GROUP_SIZE}
                             + floor(random() * ${GROUP_SIZE})::int + 1
                        else ((p.g + ${half} + p.r2) % ${groups}) * ${GROUP_SIZE}
                             + floor(random() * ${GROUP_SIZE})::int + 1
                   end as server_n
            from planted as p
            cross join generate_series(0, ${PER_GROUP + 1}) as i
        )
        insert into public.agent_mcp_connections (
            agent_id, mcp_server_instance_id, connection_config, is_active, connection_status,
            usage_stats, created_by, owner_id)
        select md5('rec-agent-' || c.n)::uuid, md5('rec-server-' || c.server_n)::uuid, '{}'::jsonb,
               true,
               case when c.server_n % ${GROUP_SIZE} = 7 then 'error' else 'connected' end,
               jsonb_build_object(
                   'totalRequests', 100,
                   'successfulRequests',
                   case when c.server_n % ${GROUP_SIZE} = 7 then 20 else 90 + c.server_n % 10 end),
               md5('rec-user-' || (1 + (c.n - 1) % ${users}))::uuid,
               md5('rec-user-' || (1 + (c.n - 1) % ${users}))::uuid
        from chosen as c`);
      await tx.unsafe(`
        insert into public.agent_mcp_connection_health (connection_id, consecutive_failures, last_checked_at)
        select c.id, 5, now()
        from public.agent_mcp_connections as c
        join public.account_tool_instances as s on s.id = c.mcp_server_instance_id
        where c.connection_status = 'error'`);
    }));

  await step("hide one connection per agent", () =>
    sql.begin(async (tx) => {
      await tx.unsafe("set local session_replication_role = replica");
      await tx.unsafe("set local work_mem = '256MB'");
      await tx.unsafe(`
        update public.agent_mcp_connections as c
        set is_active = false, connection_status = 'disconnected'
        where c.id in (
            select distinct on (c2.agent_id) c2.id
            from public.agent_mcp_connections as c2
            join public.account_tool_instances as s on s.id = c2.mcp_server_instance_id
            where c2.connection_status = 'connected' and s.status_on_toolbox = 'running'
            order by c2.agent_id, random()
        )`);
    }));

  await step("vacuum analyze (twice)", async () => {
    await sql`vacuum analyze`;
    await sql`vacuum analyze`;
  });
  return { users, servers, connections: agents * 10 };
}

function claims(userId: string): string {
  return JSON.stringify({ sub: userId, role: "authenticated", aud: "authenticated" });
}

/** Runs `query` as the user in one transaction, as PostgREST does. */
async function asUser<T>(
  sql: postgres.Sql,
  userId: string,
  run: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return await sql.begin(async (tx) => {
    await tx`
      select set_config('role', 'authenticated', true),
             set_config('request.jwt.claims', ${claims(userId)}, true)`;
    return await run(tx);
  }) as T;
}

async function requestMs(sql: postgres.Sql, agent: SampledAgent): Promise<number> {
  return await asUser(sql, agent.user_id, async (tx) => {
    const [row] = await tx.unsafe<[{ "QUERY PLAN": Explained[] }]>(
      `explain (analyze, timing off, format json)
       select * from public.agent_mcp_recommendations('${agent.agent_id}', 5)`,
    );
    return row["QUERY PLAN"][0]!["Execution Time"];
  });
}

/** The reference: the same co-occurrence computed live for one agent, without the tables. */
async function liveMs(sql: postgres.Sql, agent: SampledAgent): Promise<number> {
  const [row] = await sql.unsafe<[{ "QUERY PLAN": Explained[] }]>(
    `explain (analyze, timing off, format json)
     select other.mcp_server_instance_id, count(distinct a.user_id) as users
     from public.agent_mcp_connections as mine
     join public.agent_mcp_connections as same
       on same.mcp_server_instance_id = mine.mcp_server_instance_id and same.is_active
     join public.agents as a on a.id = same.agent_id
     join public.agent_mcp_connections as other
       on other.agent_id = same.agent_id and other.is_active
      and other.mcp_server_instance_id <> same.mcp_server_instance_id
     where mine.agent_id = '${agent.agent_id}' and mine.is_active
       and other.mcp_server_instance_id not in (
           select c.mcp_server_instance_id from public.agent_mcp_connections as c
           where c.agent_id = '${agent.agent_id}' and c.is_active)
     group by other.mcp_server_instance_id
     having count(distinct a.user_id) >= 5
     order by users desc
     limit 5`,
  );
  return row["QUERY PLAN"][0]!["Execution Time"];
}

export async function runRecommendationsScenario(
  options: RecommendationsOptions,
): Promise<ScenarioResult> {
  const started = performance.now();
  const progress = options.progress ?? (() => {});
  const timings: Record<string, number> = {};
  const step = async (name: string, run: () => Promise<unknown>) => {
    const t0 = performance.now();
    await run();
    timings[name] = Math.round((performance.now() - t0) / 100) / 10;
    progress(`${name}: ${timings[name]} s`);
  };

  const stack = await startThrowawayStack("bench-recs-", { seed: false });
  const stopOnSignal = async () => {
    await stack.stop();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stopOnSignal);
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    const size = await fillRecommendationFixture(sql, options.agents, step);

    // The refresh: first every agent is new; then the same data again (nothing to write).
    // The backend's own CPU time too: on a shared machine the wall time also counts the
    // time other processes held the cores (the refresh is one single-threaded backend).
    const [{ pid }] = await sql<[{ pid: number }]>`select pg_backend_pid() as pid`;
    const backendCpu = cpuMeter({ backend: () => Promise.resolve([pid]) });
    const refreshes: Refresh[] = [];
    const timedRefresh = async (label: string) => {
      const loadBefore = (await loadAverage())[0] ?? Number.NaN;
      const cpuSince = await backendCpu();
      const t0 = performance.now();
      const [row] = await sql<
        [{ refreshed_servers: number; refreshed_pairs: number; duration_ms: number }]
      >`select * from public.refresh_agent_mcp_recommendations()`;
      const wallS = (performance.now() - t0) / 1000;
      const cpuS = ((await cpuSince()).backend ?? Number.NaN) / 1000;
      const loadAfter = (await loadAverage())[0] ?? Number.NaN;
      const refresh: Refresh = {
        label,
        wallS,
        cpuS,
        reportedMs: row.duration_ms,
        servers: row.refreshed_servers,
        pairs: row.refreshed_pairs,
        load: [loadBefore, loadAfter],
      };
      refreshes.push(refresh);
      progress(
        `${label}: ${wallS.toFixed(1)} s, backend CPU ${cpuS.toFixed(1)} s, load ` +
          `${loadBefore.toFixed(1)}–${loadAfter.toFixed(1)} (${row.refreshed_servers} servers, ` +
          `${row.refreshed_pairs} pairs kept)`,
      );
      return refresh;
    };
    await timedRefresh("first refresh (no state yet)");
    await timedRefresh("refresh over unchanged data");
    await sql`vacuum analyze public.agent_mcp_recommendation_pairs`;
    await sql`vacuum analyze public.agent_mcp_recommendation_servers`;

    // The sample: agents in a fixed pseudo-random order, with their owner and hidden server.
    const sample = await sql<SampledAgent[]>`
      select c.agent_id, a.user_id, c.mcp_server_instance_id as hidden
      from public.agent_mcp_connections as c
      join public.agents as a on a.id = c.agent_id
      where not c.is_active
      order by md5(c.agent_id::text)
      limit ${Math.max(options.sample, options.trials)}`;
    if (sample.length === 0) throw new Error("no agent with a hidden connection");

    // Speed: one request per sampled agent; the live reference on a few of them.
    const warm = sample.slice(0, 20);
    for (const agent of warm) await requestMs(sql, agent);
    const requests: number[] = [];
    for (const agent of sample.slice(0, options.trials)) {
      requests.push(await requestMs(sql, agent));
    }
    const live: number[] = [];
    for (const agent of sample.slice(0, REFERENCE_TRIALS)) live.push(await liveMs(sql, agent));
    progress(
      `request median ${summarize(requests).median.toFixed(2)} ms, live reference ` +
        `${summarize(live).median.toFixed(1)} ms`,
    );

    // Quality: hit rate at 5 against the popularity baseline, same agents.
    const quality = sample.slice(0, options.sample);
    let hits = 0;
    for (const agent of quality) {
      const items = await asUser(
        sql,
        agent.user_id,
        (tx) =>
          tx<{ mcp_server_instance_id: string }[]>`
          select mcp_server_instance_id
          from public.agent_mcp_recommendations(${agent.agent_id}, 5)`,
      );
      if (items.some((item) => item.mcp_server_instance_id === agent.hidden)) hits++;
    }
    const [baseline] = await sql<[{ hits: number }]>`
      with sampled as (
          select * from unnest(${sql.array(quality.map((a) => a.agent_id))}::uuid[],
                               ${sql.array(quality.map((a) => a.hidden))}::uuid[])
              as s (agent_id, hidden)
      )
      select count(*) filter (where s.hidden = any (top.ids))::int as hits
      from sampled as s
      cross join lateral (
          select array_agg(p.id) as ids
          from (
              select r.mcp_server_instance_id as id
              from public.agent_mcp_recommendation_servers as r
              join public.account_tool_instances as t on t.id = r.mcp_server_instance_id
              where t.status_on_toolbox = 'running'
                and r.users >= 5
                and r.failing_users::numeric / r.users < 0.5
                and not exists (
                    select 1 from public.agent_mcp_connections as c
                    where c.agent_id = s.agent_id and c.is_active
                      and c.mcp_server_instance_id = r.mcp_server_instance_id)
              order by r.users desc, r.mcp_server_instance_id
              limit 5
          ) as p
      ) as top`;
    // Incremental: 1 % of the agents each disconnect one active connection, then refresh.
    const changedAgents = Math.max(1, Math.round(options.agents * CHANGED_SHARE));
    await sql.unsafe(`
      update public.agent_mcp_connections as c
      set is_active = false, connection_status = 'disconnected'
      where c.id in (
          select distinct on (c2.agent_id) c2.id
          from public.agent_mcp_connections as c2
          where c2.is_active
            and c2.agent_id in (
                select a.id from public.agents as a order by md5('changed-' || a.id) limit ${changedAgents})
          order by c2.agent_id, c2.id
      )`);
    await timedRefresh(`refresh after ${changedAgents.toLocaleString("en-US")} agents changed`);

    const hitRate = (100 * hits) / quality.length;
    const baselineRate = (100 * baseline.hits) / quality.length;
    progress(
      `hit rate at 5: ${hitRate.toFixed(1)} % (popularity baseline ${baselineRate.toFixed(1)} %)`,
    );

    const scale = `${size.connections.toLocaleString("en-US")} connections, ` +
      `${options.agents.toLocaleString("en-US")} agents, ${size.servers} servers`;
    const requestSummary = summarize(requests);
    const requestFigure = timeFigure({
      name: `recommendation request (limit 5), ${scale}`,
      project: { label: "agent_mcp_recommendations() (database time)", summary: requestSummary },
      reference: {
        label: "the co-occurrence computed live for the agent",
        summary: summarize(live),
      },
      target: `≤ ${REQUEST_TARGET_MS} ms median`,
      met: requestSummary.median <= REQUEST_TARGET_MS,
      notes: [`${requests.length} agents, EXPLAIN ANALYZE execution time as the agent's owner`],
    });
    const [first, unchanged, changed] = refreshes as [Refresh, Refresh, Refresh];
    const describe = (r: Refresh) =>
      `${r.label}: ${r.wallS.toFixed(1)} s wall, backend CPU ${r.cpuS.toFixed(1)} s, ` +
      `load ${r.load[0].toFixed(1)}–${r.load[1].toFixed(1)}`;
    const refreshFigure: Figure = {
      name: `refresh of the precomputed aggregates, ${scale}`,
      unit: "s",
      project: {
        label: "refresh_agent_mcp_recommendations(), first (every agent new)",
        summary: summarize([first.wallS]),
      },
      reference: {
        label: `incremental, after ${CHANGED_SHARE * 100} % of the agents changed`,
        summary: summarize([changed.wallS]),
      },
      ratio: null,
      ratioMeaning: "",
      target: `≤ ${REFRESH_TARGET_S} s`,
      met: refreshes.every((r) => r.wallS <= REFRESH_TARGET_S),
      notes: [
        ...refreshes.map(describe),
        `${first.servers} servers and ${first.pairs} pairs of ≥ k users kept`,
      ],
    };
    const qualityFigure: Figure = {
      name: `hit rate at 5 (one hidden connection per agent), ${quality.length} agents`,
      unit: "%",
      project: { label: "recommendations", summary: summarize([hitRate]) },
      reference: { label: "popularity baseline", summary: summarize([baselineRate]) },
      ratio: baselineRate > 0 ? hitRate / baselineRate : null,
      ratioMeaning: "× the baseline",
      target: `≥ ${QUALITY_TARGET_RATIO}× the popularity baseline`,
      met: baselineRate > 0 ? hitRate >= QUALITY_TARGET_RATIO * baselineRate : hitRate > 0,
      notes: ["planted groups of 20 servers, one failing per group, 1 % stopped"],
    };

    const details = [
      `Data: ${scale}, ${size.users.toLocaleString("en-US")} users; groups of ${GROUP_SIZE} ` +
      `servers, ${PER_GROUP} of the agent's group + 2 others per agent; one hidden ` +
      `connection per agent. Fill: ${JSON.stringify(timings)}.`,
      "",
      `Refresh (wall, the function's own clock, backend CPU, 1-minute load average): ` +
      refreshes.map((r) =>
        `${r.label} ${r.wallS.toFixed(1)} s (${r.reportedMs} ms, CPU ${r.cpuS.toFixed(1)} s, ` +
        `load ${r.load[0].toFixed(1)}–${r.load[1].toFixed(1)})`
      ).join("; ") + `; unchanged data writes nothing (${unchanged.pairs} pairs kept).`,
      `Request: median ${requestSummary.median.toFixed(2)} ms, p95 ` +
      `${requestSummary.p95.toFixed(2)} ms over ${requests.length} agents.`,
      `Quality: ${hits}/${quality.length} hidden servers in the top 5 ` +
      `(${hitRate.toFixed(1)} %), popularity baseline ${baseline.hits}/${quality.length} ` +
      `(${baselineRate.toFixed(1)} %).`,
    ].join("\n");

    return {
      id: "recs",
      title: "Connection recommendations",
      figures: [requestFigure, refreshFigure, qualityFigure],
      details,
      data: { timings, refreshes, requests, live, hits, baselineHits: baseline.hits, size },
      durationSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    Deno.removeSignalListener("SIGINT", stopOnSignal);
    await sql.end();
    await stack.stop();
  }
}
