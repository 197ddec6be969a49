/**
 * The usage history's cost and its reports, in one run on a throw-away stack:
 *
 *     deno run -A bench/usage_history.ts [--rounds 6] [--singles 600] [--batches 20]
 *
 * 1. Recording, database side: `record_agent_mcp_connection_usage()` as a signed-in user
 *    (RLS, the private writer, the hour's bucket in the same statement) beside the same
 *    function with the writer of before the usage history (no bucket), on the same data,
 *    in alternating rounds: single events on one hot connection from 8 clients, and
 *    batches of 1000 events. Target: the buckets cost at most 15% of throughput.
 * 2. Reports: a user with 50 connections and a year of usage, as the fold leaves it (the
 *    last 30 days hourly, the rest daily), and unfolded (a year of hourly buckets, 438,000
 *    rows): `agent_mcp_usage_series(year, 'day')` and one connection's hourly week, as the
 *    user, median database time (EXPLAIN ANALYZE) over repeated runs. Target ≤ 10 ms.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { startThrowawayStack } from "../scripts/stack/throwaway_stack.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "6" },
    singles: { type: "string", default: "600" },
    batches: { type: "string", default: "20" },
    runs: { type: "string", default: "25" },
  },
});
const ROUNDS = Number(values.rounds);
const SINGLES = Number(values.singles);
const BATCHES = Number(values.batches);
const RUNS = Number(values.runs);
const CLIENTS = 8;

// deno-lint-ignore no-console
const say = (line: string) => console.log(line);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The writer before the usage history: the same UPDATE, no bucket. */
const WRITER_WITHOUT_BUCKETS = `
create function agent_mcp_private.bench_add_usage_without_buckets(p_connection_id uuid, p_events jsonb)
returns jsonb language sql volatile security definer set search_path = '' as $$
    with batch as (
        select count(*) as requests,
               count(*) filter (where (e ->> 'success')::boolean) as successes,
               sum((e ->> 'responseTimeMs')::numeric) as response_time,
               sum((e ->> 'bytesTransferred')::numeric) as bytes
        from jsonb_array_elements(p_events) as e
    ),
    totals as (
        select c.id,
               least(public.usage_stat(c.usage_stats, 'totalRequests') + b.requests, 1e21) as requests,
               least(public.usage_stat(c.usage_stats, 'successfulRequests') + b.successes, 1e21) as successes,
               least(public.usage_stat(c.usage_stats, 'failedRequests') + (b.requests - b.successes), 1e21) as failures,
               least(public.usage_stat(c.usage_stats, 'totalResponseTime') + b.response_time, 1e21) as response_time,
               least(public.usage_stat(c.usage_stats, 'bytesTransferred') + b.bytes, 1e21) as bytes
        from public.agent_mcp_connections as c, batch as b
        where c.id = p_connection_id
    )
    update public.agent_mcp_connections as c
    set usage_stats = c.usage_stats || jsonb_build_object(
            'totalRequests', t.requests, 'successfulRequests', t.successes,
            'failedRequests', t.failures, 'totalResponseTime', t.response_time,
            'averageResponseTime', coalesce(round(t.response_time / nullif(t.requests, 0), 3), 0),
            'bytesTransferred', t.bytes, 'lastUsed', to_jsonb(now())),
        last_used = now()
    from totals as t where c.id = t.id
    returning c.usage_stats;
$$;
grant execute on function agent_mcp_private.bench_add_usage_without_buckets(uuid, jsonb) to authenticated;`;

const stack = await startThrowawayStack("bench-usage-history-");
const admin = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
const pool = postgres(stack.dbUrl, { max: CLIENTS, onnotice: () => {} });
try {
  // The public function with the old writer: its own definition, with the call swapped.
  const [{ def }] = await admin<[{ def: string }]>`
    select pg_get_functiondef('public.record_agent_mcp_connection_usage(uuid, jsonb)'::regprocedure) as def`;
  await admin.unsafe(WRITER_WITHOUT_BUCKETS);
  await admin.unsafe(
    def.replace(
      "public.record_agent_mcp_connection_usage(",
      "public.bench_record_usage_without_buckets(",
    )
      .replaceAll(
        "agent_mcp_private.add_connection_usage(",
        "agent_mcp_private.bench_add_usage_without_buckets(",
      ),
  );
  await admin.unsafe(
    "grant execute on function public.bench_record_usage_without_buckets(uuid, jsonb) to authenticated",
  );

  // One user, one agent, one hot connection per variant.
  const [user] = await admin<[{ id: string }]>`
    insert into auth.users (id, email) values (gen_random_uuid(), 'usage@bench.local') returning id`;
  const [server] = await admin<[{ id: string }]>`
    insert into account_tool_instances (instance_name_on_toolbox, mcp_server_url)
    values ('Bench server', 'http://127.0.0.1:9/mcp') returning id`;
  const connections: Record<string, string> = {};
  for (const variant of ["with", "without"]) {
    const [agentOf] = await admin<[{ id: string }]>`
      insert into agents (user_id, name) values (${user.id}, ${variant}) returning id`;
    const [row] = await admin<[{ id: string }]>`
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
      values (${agentOf.id}, ${server.id}, ${user.id}) returning id`;
    connections[variant] = row.id;
  }
  const claims = JSON.stringify({ sub: user.id, role: "authenticated", aud: "authenticated" });
  const fn = {
    with: "record_agent_mcp_connection_usage",
    without: "bench_record_usage_without_buckets",
  };
  const event = (i: number) => ({
    success: i % 10 !== 0,
    responseTimeMs: 5 + (i % 200),
    bytesTransferred: 512,
  });

  /** `count` calls from CLIENTS clients, each a transaction as the user; returns calls/s. */
  const load = async (
    variant: "with" | "without",
    count: number,
    size: number,
  ): Promise<number> => {
    const events = Array.from({ length: size }, (_, i) => event(i));
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next < count) {
        next++;
        await pool.begin(async (tx) => {
          await tx`select set_config('role', 'authenticated', true),
                          set_config('request.jwt.claims', ${claims}, true)`;
          await tx.unsafe(`select public.${fn[variant]}($1, $2)`, [
            connections[variant]!,
            tx.json(events),
          ]);
        });
      }
    }));
    return (count * size) / ((performance.now() - started) / 1000);
  };

  const rates = {
    single: { with: [] as number[], without: [] as number[] },
    batch: { with: [] as number[], without: [] as number[] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ["with", "without"] as const : ["without", "with"] as const;
    for (const variant of order) {
      rates.single[variant].push(await load(variant, SINGLES, 1));
      rates.batch[variant].push(await load(variant, BATCHES, 1000));
    }
  }
  const [check] = await admin<[{ totals: string; buckets: string }]>`
    select (c.usage_stats ->> 'totalRequests') as totals,
           (select sum(requests)::text from agent_mcp_connection_usage_buckets where connection_id = c.id) as buckets
    from agent_mcp_connections as c where c.id = ${connections.with!}`;
  say("\n== recording (database side, 8 clients, one hot connection)");
  for (const kind of ["single", "batch"] as const) {
    const w = median(rates[kind].with);
    const wo = median(rates[kind].without);
    say(
      `${kind === "single" ? "single events" : "batches of 1000"}: with buckets ${
        w.toFixed(0)
      } events/s, ` +
        `without ${wo.toFixed(0)} events/s: ${(w / wo).toFixed(2)}x the throughput ` +
        `(cost ${((1 - w / wo) * 100).toFixed(1)}%; target <= 15%)`,
    );
  }
  say(`totals ${check.totals} = buckets ${check.buckets}: ${check.totals === check.buckets}`);

  // --- reports: a user with 50 connections and a year of usage -----------------------
  const [reporter] = await admin<[{ id: string }]>`
    insert into auth.users (id, email) values (gen_random_uuid(), 'reports@bench.local') returning id`;
  // 50 servers, one connection each, on one agent.
  const [reportAgent] = await admin<[{ id: string }]>`
    insert into agents (user_id, name) values (${reporter.id}, 'Reports agent') returning id`;
  await admin`
    insert into account_tool_instances (instance_name_on_toolbox, mcp_server_url)
    select 'Report server ' || n, 'http://127.0.0.1:9/mcp' from generate_series(1, 50) as n`;
  await admin`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    select ${reportAgent.id}, s.id, ${reporter.id}
    from account_tool_instances as s where s.instance_name_on_toolbox like 'Report server %'`;
  const fill = (granularity: string, from: string, to: string, step: string) =>
    admin.unsafe(
      `
      insert into agent_mcp_connection_usage_buckets
        (connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
         bytes, response_time_ms, latency_histogram)
      select c.id, c.agent_id, '${granularity}', t, 100, 97, 3, 51200, 4200,
             '{0,0,5,10,20,30,20,10,3,1,1,0,0,0,0,0}'
      from agent_mcp_connections as c
      cross join generate_series(${from}, ${to}, interval '${step}') as t
      where c.agent_id = $1`,
      [reportAgent.id],
    );
  const today = "date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'";
  await fill("day", `${today} - interval '365 days'`, `${today} - interval '31 days'`, "1 day");
  await fill("hour", `${today} - interval '30 days'`, "date_trunc('hour', now())", "1 hour");
  await admin`vacuum analyze agent_mcp_connection_usage_buckets`;

  const reportMs = async (query: string): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await admin.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true),
                        set_config('request.jwt.claims', ${
          JSON.stringify({ sub: reporter.id, role: "authenticated", aud: "authenticated" })
        }, true)`;
        const plan = await tx.unsafe(`explain (analyze, format json) ${query}`);
        times.push((plan[0]!["QUERY PLAN"] as [{ "Execution Time": number }])[0]["Execution Time"]);
      });
    }
    return median(times);
  };

  const [{ id: oneConnection }] = await admin<[{ id: string }]>`
    select id from agent_mcp_connections where agent_id = ${reportAgent.id} limit 1`;
  const year = "now() - interval '365 days', now()";
  const figures = async (label: string) => {
    const totals = await reportMs(`select * from public.agent_mcp_usage_series(${year}, 'day')`);
    const byConnection = await reportMs(
      `select * from public.agent_mcp_usage_by_connection(${year})`,
    );
    const week = await reportMs(
      `select * from public.agent_mcp_connection_usage_series('${oneConnection}', now() - interval '7 days', now(), 'hour')`,
    );
    const [{ n }] = await admin<[{ n: number }]>`
      select count(*)::int as n from agent_mcp_connection_usage_buckets where agent_id = ${reportAgent.id}`;
    say(`\n== reports, ${label} (${n.toLocaleString("en")} buckets of the user's 50 connections)`);
    say(`the user's daily totals over a year: ${totals.toFixed(2)} ms (target <= 10 ms)`);
    say(`the user's usage per connection over a year: ${byConnection.toFixed(2)} ms`);
    say(`one connection, hourly, last 7 days: ${week.toFixed(2)} ms`);
  };
  await figures("as the fold leaves them: 30 days hourly, the rest daily");
  // Unfolded: a year of hourly buckets.
  await admin`delete from agent_mcp_connection_usage_buckets where agent_id = ${reportAgent.id}`;
  await fill("hour", `${today} - interval '365 days'`, "date_trunc('hour', now())", "1 hour");
  await admin`vacuum analyze agent_mcp_connection_usage_buckets`;
  await figures("a year of hourly buckets, not folded");
} finally {
  await pool.end();
  await admin.end();
  await stack.stop();
}
