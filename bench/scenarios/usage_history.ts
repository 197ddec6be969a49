/**
 * The usage history's cost and its reports (issue 16), in a stack of its own:
 *
 * 1. Recording, database side: `record_agent_mcp_connection_usage()` as a signed-in user (RLS,
 *    the private writer, this hour's and this day's buckets) beside the same function whose
 *    writer has the history's share cut out (the code between its "usage history" markers:
 *    the latency counts and the bucket upsert), on the same data, in alternating rounds:
 *    single events on one hot connection from 8 clients, and batches of 1000 events.
 *    Target: the buckets cost at most 15 % of throughput.
 * 2. Reports: a user with 50 connections and a year of usage, as the fold leaves it (daily
 *    buckets for the year, rolled up per agent for the days that are over, hourly ones for the
 *    last 30 days), and unfolded (hourly buckets for
 *    the whole year too: 438,000 of them besides the daily ones): the user's daily totals over
 *    a year (target ≤ 10 ms), their usage per connection over a year, one connection's hourly
 *    week and daily year, as the user, EXPLAIN ANALYZE execution time (database time).
 */
import postgres from "postgres";
import { startThrowawayStack } from "../../scripts/stack/throwaway_stack.ts";
import { postgresProcesses } from "../cpu.ts";
import type { Figure, ScenarioResult } from "../figures.ts";
import { slowdownFigure, throughputFigure, timeFigure } from "../figures.ts";
import type { Explained } from "../plans.ts";
import { median, summarize } from "../stats.ts";

export interface UsageHistoryOptions {
  /** Alternating rounds of each recording load (each variant once per round). */
  rounds: number;
  /** Single-event calls per round and variant. */
  singles: number;
  /** 1000-event calls per round and variant. */
  batches: number;
  /** Timed runs of each report. */
  runs: number;
  progress?: (message: string) => void;
}

export const USAGE_HISTORY_FULL: Omit<UsageHistoryOptions, "progress"> = {
  rounds: 10,
  singles: 400,
  batches: 10,
  runs: 25,
};

const CLIENTS = 8;
const COST_TARGET = 0.15;
const REPORT_TARGET_MS = 10;
const CONNECTIONS = 50;
const MARKERS = /[ \t]*-- usage history: begin\n[\s\S]*?-- usage history: end\n/g;

/** The public function with the history, or the reference without it. */
type Variant = "with" | "without";

/** The writer with the history's share cut out, and the public function calling it. */
async function createReference(admin: postgres.Sql): Promise<void> {
  const [writer] = await admin<[{ def: string }]>`
    select pg_get_functiondef('agent_mcp_private.add_connection_usage(uuid, jsonb)'::regprocedure)
      as def`;
  const cut = writer.def.match(MARKERS)?.length ?? 0;
  if (cut !== 2) {
    throw new Error(`the writer should hold 2 "usage history" regions, found ${cut}`);
  }
  await admin.unsafe(
    writer.def.replace(MARKERS, "").replace(
      "agent_mcp_private.add_connection_usage(",
      "agent_mcp_private.bench_add_usage_without_history(",
    ),
  );
  const [record] = await admin<[{ def: string }]>`
    select pg_get_functiondef('public.record_agent_mcp_connection_usage(uuid, jsonb)'::regprocedure)
      as def`;
  await admin.unsafe(
    record.def
      .replace(
        "public.record_agent_mcp_connection_usage(",
        "public.bench_record_usage_without_history(",
      )
      .replaceAll(
        "agent_mcp_private.add_connection_usage(",
        "agent_mcp_private.bench_add_usage_without_history(",
      ),
  );
  await admin.unsafe(`
    grant execute on function agent_mcp_private.bench_add_usage_without_history(uuid, jsonb)
      to authenticated;
    grant execute on function public.bench_record_usage_without_history(uuid, jsonb)
      to authenticated`);
}

/** CPU time (ns) each process has run, from /proc/<pid>/schedstat (ns resolution). */
async function cpuNs(pids: readonly number[]): Promise<Map<number, number>> {
  const ran = new Map<number, number>();
  for (const pid of pids) {
    try {
      ran.set(pid, Number((await Deno.readTextFile(`/proc/${pid}/schedstat`)).split(" ")[0]));
    } catch {
      // gone (an autovacuum worker that finished): left out
    }
  }
  return ran;
}

/** CPU ms the processes ran between two readings, over those present in both. */
function cpuMsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ns = 0;
  for (const [pid, end] of after) {
    const start = before.get(pid);
    if (start !== undefined) ns += end - start;
  }
  return ns / 1e6;
}

const event = (i: number) => ({
  success: i % 10 !== 0,
  responseTimeMs: 5 + (i % 200),
  bytesTransferred: 512,
});

/**
 * A report run as the user: EXPLAIN ANALYZE execution times and the backend's CPU time per
 * run, and the plan of `planQuery` (a report function's inner statement: the function's own
 * plan is one Function Scan).
 */
async function timeReport(
  sql: postgres.Sql,
  claims: string,
  query: string,
  runs: number,
  planQuery?: string,
): Promise<{ times: number[]; cpu: number[]; plan: string }> {
  const times: number[] = [];
  const cpu: number[] = [];
  let plan = "";
  const [{ pid }] = await sql<[{ pid: number }]>`select pg_backend_pid() as pid`;
  for (let i = 0; i < runs; i++) {
    await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${claims}, true)`;
      const before = await cpuNs([pid]);
      const [row] = await tx.unsafe(`explain (analyze, timing off, format json) ${query}`);
      cpu.push(cpuMsBetween(before, await cpuNs([pid])));
      const explained = (row!["QUERY PLAN"] as Explained[])[0]!;
      times.push(explained["Execution Time"]);
      if (i === 0 && planQuery) {
        const text = await tx.unsafe(`explain (analyze, buffers, costs off) ${planQuery}`);
        plan = text.map((r) => r["QUERY PLAN"]).join("\n");
      }
    });
  }
  return { times, cpu, plan };
}

const ms = (x: number) => `${x.toFixed(2)} ms`;

/** agent_mcp_private.usage_series()'s daily sums over a year, as the user runs it. */
const TOTALS_STATEMENT = `
  with not_rolled_up as (
      select distinct b.agent_id, b.bucket_start
      from public.agent_mcp_connection_usage_buckets as b
      where b.granularity = 'day' and not b.rolled_up
        and b.bucket_start >= now() - interval '366 days' and b.bucket_start < now()
  ),
  picked as (
      select r.day as s, r.requests, r.successes, r.failures, r.bytes, r.response_time_ms
      from agent_mcp_private.agent_usage_days as r
      where r.day >= now() - interval '366 days' and r.day < now()
        and not exists (
            select 1 from not_rolled_up as n where n.agent_id = r.agent_id and n.bucket_start = r.day
        )
      union all
      select b.bucket_start, b.requests, b.successes, b.failures, b.bytes, b.response_time_ms
      from not_rolled_up as n
      cross join lateral (
          select b.* from public.agent_mcp_connection_usage_buckets as b
          where b.agent_id = n.agent_id and b.granularity = 'day' and b.bucket_start = n.bucket_start
          offset 0
      ) as b
  )
  select x.s, sum(x.requests)::bigint, sum(x.successes)::bigint, sum(x.failures)::bigint,
         sum(x.bytes), sum(x.response_time_ms)
  from picked as x
  group by x.s`;

export async function runUsageHistoryScenario(
  options: UsageHistoryOptions,
): Promise<ScenarioResult> {
  const started = performance.now();
  const progress = options.progress ?? (() => {});
  const stack = await startThrowawayStack("bench-usage-history-", { seed: false });
  const admin = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const pool = postgres(stack.dbUrl, { max: CLIENTS, onnotice: () => {} });
  try {
    await createReference(admin);

    // One user, one agent per variant, one hot connection each.
    const [user] = await admin<[{ id: string }]>`
      insert into auth.users (id, email) values (gen_random_uuid(), 'usage@bench.local')
      returning id`;
    const [server] = await admin<[{ id: string }]>`
      insert into account_tool_instances (instance_name_on_toolbox, mcp_server_url)
      values ('Bench server', 'http://127.0.0.1:9/mcp') returning id`;
    const connections = {} as Record<Variant, string>;
    for (const variant of ["with", "without"] as const) {
      const [agent] = await admin<[{ id: string }]>`
        insert into agents (user_id, name) values (${user.id}, ${variant}) returning id`;
      const [row] = await admin<[{ id: string }]>`
        insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
        values (${agent.id}, ${server.id}, ${user.id}) returning id`;
      connections[variant] = row.id;
    }
    const claims = JSON.stringify({ sub: user.id, role: "authenticated", aud: "authenticated" });
    const fn: Record<Variant, string> = {
      with: "record_agent_mcp_connection_usage",
      without: "bench_record_usage_without_history",
    };

    /**
     * `count` calls of `size` events from CLIENTS clients, each a transaction as the user:
     * events/s, and PostgreSQL's CPU (every process of the cluster) per call in ms.
     */
    let clusterPids: number[] = [];
    const load = async (
      variant: Variant,
      count: number,
      size: number,
    ): Promise<{ rate: number; cpuMs: number }> => {
      const events = Array.from({ length: size }, (_, i) => event(i));
      let next = 0;
      const cpuBefore = await cpuNs(clusterPids);
      const began = performance.now();
      await Promise.all(Array.from({ length: CLIENTS }, async () => {
        while (next < count) {
          next++;
          await pool.begin(async (tx) => {
            await tx`select set_config('role', 'authenticated', true),
                            set_config('request.jwt.claims', ${claims}, true)`;
            await tx.unsafe(`select public.${fn[variant]}($1, $2)`, [
              connections[variant],
              tx.json(events),
            ]);
          });
        }
      }));
      const seconds = (performance.now() - began) / 1000;
      const cpuMs = cpuMsBetween(cpuBefore, await cpuNs(clusterPids)) / count;
      return { rate: (count * size) / seconds, cpuMs };
    };

    // Warm both (plans cached in every pooled session), then alternate.
    for (const variant of ["with", "without"] as const) await load(variant, 4 * CLIENTS, 1);
    // The cluster's processes (the pool's backends, the WAL writer, ...); per load, those
    // alive at both ends (a short-lived autovacuum worker is left out).
    clusterPids = await postgresProcesses(stack.cluster.dataDir);
    const sample = () => ({
      with: [] as number[],
      without: [] as number[],
      ratio: [] as number[],
      cpuWith: [] as number[],
      cpuWithout: [] as number[],
      cpuRatio: [] as number[],
    });
    const rates = { single: sample(), batch: sample() };
    for (let round = 0; round < options.rounds; round++) {
      const order: Variant[] = round % 2 === 0 ? ["with", "without"] : ["without", "with"];
      for (
        const [kind, count, size] of [
          ["single", options.singles, 1],
          ["batch", options.batches, 1000],
        ] as const
      ) {
        const got = {} as Record<Variant, { rate: number; cpuMs: number }>;
        for (const variant of order) got[variant] = await load(variant, count, size);
        const r = rates[kind];
        r.with.push(got.with.rate);
        r.without.push(got.without.rate);
        r.ratio.push(got.with.rate / got.without.rate);
        r.cpuWith.push(got.with.cpuMs);
        r.cpuWithout.push(got.without.cpuMs);
        r.cpuRatio.push(got.with.cpuMs / got.without.cpuMs);
      }
      progress(
        `round ${round + 1}/${options.rounds}: throughput with/without: single ${
          rates.single.ratio.at(-1)!.toFixed(2)
        }×, batch ${rates.batch.ratio.at(-1)!.toFixed(2)}×; PostgreSQL CPU per call: single ${
          rates.single.cpuRatio.at(-1)!.toFixed(2)
        }×, batch ${rates.batch.cpuRatio.at(-1)!.toFixed(2)}×`,
      );
    }
    // Totals and both granularities agree; how many bucket updates were HOT.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [check] = await admin<
      [{ totals: string; hours: string; days: string; updates: string; hot: string }]
    >`
      select c.usage_stats ->> 'totalRequests' as totals,
             (select sum(requests)::text from agent_mcp_connection_usage_buckets
              where connection_id = c.id and granularity = 'hour') as hours,
             (select sum(requests)::text from agent_mcp_connection_usage_buckets
              where connection_id = c.id and granularity = 'day') as days,
             (select n_tup_upd::text from pg_stat_user_tables
              where relid = 'public.agent_mcp_connection_usage_buckets'::regclass) as updates,
             (select n_tup_hot_upd::text from pg_stat_user_tables
              where relid = 'public.agent_mcp_connection_usage_buckets'::regclass) as hot
      from agent_mcp_connections as c where c.id = ${connections.with}`;
    const consistent = check.totals === check.hours && check.totals === check.days;
    if (!consistent) {
      throw new Error(
        `totals ${check.totals}, hourly buckets ${check.hours}, daily ${check.days}`,
      );
    }
    const hotShare = Number(check.hot) / Math.max(1, Number(check.updates));

    const recordingFigure = (kind: "single" | "batch"): Figure => {
      const r = rates[kind];
      const withSummary = summarize(r.with);
      const withoutSummary = summarize(r.without);
      const ratio = withSummary.median / withoutSummary.median;
      const paired = summarize(r.ratio);
      return throughputFigure({
        name: kind === "single"
          ? `single events, one hot connection, ${CLIENTS} clients`
          : `batches of 1000 events, one hot connection, ${CLIENTS} clients`,
        unit: "events/s",
        project: {
          label: "record_agent_mcp_connection_usage() with buckets",
          summary: withSummary,
        },
        reference: { label: "the same writer without the history", summary: withoutSummary },
        target: `≥ ${1 - COST_TARGET}× the throughput (buckets cost ≤ 15 %)`,
        met: ratio >= 1 - COST_TARGET,
        notes: [
          `paired rounds: median ${paired.median.toFixed(2)}×, ` +
          `range ${paired.min.toFixed(2)}–${paired.max.toFixed(2)}× over ${paired.n}`,
        ],
      });
    };

    const cpuFigure = (kind: "single" | "batch"): Figure => {
      const r = rates[kind];
      const paired = summarize(r.cpuRatio);
      return slowdownFigure({
        name: kind === "single"
          ? "PostgreSQL CPU per single-event call (every process of the cluster)"
          : "PostgreSQL CPU per call of 1000 events (every process of the cluster)",
        project: { label: "with buckets", summary: summarize(r.cpuWith) },
        reference: {
          label: "the same writer without the history",
          summary: summarize(r.cpuWithout),
        },
        ratioMeaning: "× the CPU",
        target: "informative: the throughput cost without the machine's noise",
        met: null,
        notes: [
          `paired rounds: median ${paired.median.toFixed(2)}×, ` +
          `range ${paired.min.toFixed(2)}–${paired.max.toFixed(2)}× over ${paired.n}`,
        ],
      });
    };

    // --- reports: a user with 50 connections and a year of usage -----------------------
    const [reporter] = await admin<[{ id: string }]>`
      insert into auth.users (id, email) values (gen_random_uuid(), 'reports@bench.local')
      returning id`;
    const [reportAgent] = await admin<[{ id: string }]>`
      insert into agents (user_id, name) values (${reporter.id}, 'Reports agent') returning id`;
    await admin`
      insert into account_tool_instances (instance_name_on_toolbox, mcp_server_url)
      select 'Report server ' || n, 'http://127.0.0.1:9/mcp'
      from generate_series(1, ${CONNECTIONS}) as n`;
    await admin`
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
      select ${reportAgent.id}, s.id, ${reporter.id}
      from account_tool_instances as s where s.instance_name_on_toolbox like 'Report server %'`;
    // Buckets as the writer leaves them: 100 requests an hour, 2400 a day, same latencies.
    const fill = (granularity: "hour" | "day", from: string, to: string) => {
      const n = granularity === "hour" ? 1 : 24;
      const under = [0, 0, 5, 15, 35, 65, 85, 95, 98, 99, 100, 100, 100, 100, 100]
        .map((x) => x * n);
      return admin.unsafe(
        `
        insert into agent_mcp_connection_usage_buckets
          (connection_id, agent_id, granularity, bucket_start, requests, successes, failures,
           bytes, response_time_ms, requests_under_1ms, requests_under_2ms, requests_under_5ms,
           requests_under_10ms, requests_under_20ms, requests_under_50ms, requests_under_100ms,
           requests_under_200ms, requests_under_500ms, requests_under_1s, requests_under_2s,
           requests_under_5s, requests_under_10s, requests_under_30s, requests_under_60s)
        select c.id, c.agent_id, '${granularity}', t, ${100 * n}, ${97 * n}, ${3 * n},
               ${51200 * n}, ${4200 * n}, ${under.join(", ")}
        from agent_mcp_connections as c
        cross join generate_series(${from}, ${to}, interval '1 ${granularity}') as t
        where c.agent_id = $1`,
        [reportAgent.id],
      );
    };
    const today = "date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'";
    const thisHour = "date_trunc('hour', now() at time zone 'UTC') at time zone 'UTC'";
    await fill("day", `${today} - interval '365 days'`, today);
    await fill("hour", `${today} - interval '30 days'`, thisHour);
    // The fold as the scheduler runs it: the days that are over rolled up per agent.
    await admin`select public.fold_agent_mcp_usage_buckets()`;
    await admin`vacuum analyze agent_mcp_connection_usage_buckets`;
    await admin`vacuum analyze agent_mcp_private.agent_usage_days`;

    const reporterClaims = JSON.stringify({
      sub: reporter.id,
      role: "authenticated",
      aud: "authenticated",
    });
    const [{ id: oneConnection }] = await admin<[{ id: string }]>`
      select id from agent_mcp_connections where agent_id = ${reportAgent.id} limit 1`;
    const year = "now() - interval '365 days', now()";
    const queries = {
      totals: `select * from public.agent_mcp_usage_series(${year}, 'day')`,
      byConnection: `select * from public.agent_mcp_usage_by_connection(${year})`,
      week:
        `select * from public.agent_mcp_connection_usage_series('${oneConnection}', now() - interval '7 days', now(), 'hour')`,
      connectionYear:
        `select * from public.agent_mcp_connection_usage_series('${oneConnection}', ${year}, 'day')`,
    };
    type Query = keyof typeof queries;
    type Layout = {
      rows: number;
      plan: string;
      times: Record<Query, number[]>;
      cpu: Record<Query, number[]>;
    };
    const measure = async (label: string): Promise<Layout> => {
      const [{ n }] = await admin<[{ n: number }]>`
        select count(*)::int as n from agent_mcp_connection_usage_buckets
        where agent_id = ${reportAgent.id}`;
      const out: Layout = {
        rows: n,
        plan: "",
        times: {} as Layout["times"],
        cpu: {} as Layout["cpu"],
      };
      for (const key of Object.keys(queries) as Query[]) {
        const { times, cpu, plan } = await timeReport(
          admin,
          reporterClaims,
          queries[key],
          options.runs,
          key === "totals" ? TOTALS_STATEMENT : undefined,
        );
        out.times[key] = times;
        out.cpu[key] = cpu;
        if (key === "totals") out.plan = plan;
      }
      const both = (key: Query) =>
        `${ms(median(out.times[key]))} (CPU ${ms(median(out.cpu[key]))})`;
      progress(
        `${label} (${n.toLocaleString("en-US")} buckets): daily totals ${both("totals")}, ` +
          `per connection ${both("byConnection")}, hourly week ${both("week")}, ` +
          `a connection's year ${both("connectionYear")}`,
      );
      return out;
    };
    const folded = await measure("as the fold leaves them");
    // Unfolded: the hourly buckets of the whole year too.
    await fill("hour", `${today} - interval '365 days'`, `${today} - interval '30 days 1 hour'`);
    await admin`vacuum analyze agent_mcp_connection_usage_buckets`;
    const unfolded = await measure("a year of hourly buckets too");

    const reportFigures: Figure[] = [];
    for (const [layout, data] of [["folded", folded], ["a year of hourly", unfolded]] as const) {
      const scale = `${CONNECTIONS} connections, ${data.rows.toLocaleString("en-US")} buckets (${
        layout === "folded" ? "30 days hourly + a year daily" : "a year hourly + a year daily"
      })`;
      const totals = summarize(data.times.totals);
      const cpuNote = (key: Query) =>
        `backend CPU median ${ms(median(data.cpu[key]))} (p95 ${ms(summarize(data.cpu[key]).p95)})`;
      reportFigures.push(
        timeFigure({
          name: `the user's daily totals over a year, ${scale}`,
          project: { label: "agent_mcp_usage_series(year, 'day')", summary: totals },
          reference: null,
          target: `≤ ${REPORT_TARGET_MS} ms median`,
          met: totals.median <= REPORT_TARGET_MS,
          notes: [
            `${data.times.totals.length} runs as the user, EXPLAIN ANALYZE execution time`,
            cpuNote("totals"),
          ],
        }),
        timeFigure({
          name: `the user's usage per connection over a year, ${scale}`,
          project: {
            label: "agent_mcp_usage_by_connection(year)",
            summary: summarize(data.times.byConnection),
          },
          reference: null,
          target: "informative (was 1.2 s)",
          met: null,
          notes: [cpuNote("byConnection")],
        }),
        timeFigure({
          name: `one connection, hourly, last 7 days (${layout})`,
          project: {
            label: "agent_mcp_connection_usage_series(7 days, 'hour')",
            summary: summarize(data.times.week),
          },
          reference: null,
          target: "informative",
          met: null,
          notes: [cpuNote("week")],
        }),
        timeFigure({
          name: `one connection, daily over a year, p50/p95/p99 (${layout})`,
          project: {
            label: "agent_mcp_connection_usage_series(year, 'day')",
            summary: summarize(data.times.connectionYear),
          },
          reference: null,
          target: "informative",
          met: null,
          notes: [cpuNote("connectionYear")],
        }),
      );
    }

    const details = [
      `Recording: ${options.rounds} alternating rounds of ${options.singles} single-event ` +
      `calls and ${options.batches} calls of 1000 events per variant, ${CLIENTS} clients on ` +
      `one hot connection each, every call a transaction as the user. Totals ` +
      `${check.totals} = hourly buckets ${check.hours} = daily buckets ${check.days}. ` +
      `Bucket updates: ${check.updates}, HOT ${check.hot} (${(hotShare * 100).toFixed(1)} %).`,
      "",
      "The daily totals' statement (inside agent_mcp_private.usage_series()), as the user, " +
      "as the fold leaves the buckets:",
      "",
      "```",
      folded.plan,
      "```",
    ].join("\n");

    return {
      id: "history",
      title: "Usage history: the buckets' recording cost and the reports",
      figures: [
        recordingFigure("single"),
        cpuFigure("single"),
        recordingFigure("batch"),
        cpuFigure("batch"),
        ...reportFigures,
      ],
      details,
      data: { rates, check, folded, unfolded },
      durationSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await pool.end();
    await admin.end();
    await stack.stop();
  }
}
