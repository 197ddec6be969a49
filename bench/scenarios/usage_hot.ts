/**
 * Usage events on one hot row: the lean index set beside the research draft's, in one run, with
 * the share of HOT updates from `pg_stat_user_tables` and the throughput of each.
 *
 * Three sides, each holding one copy of the same connection, in rounds that rotate which goes
 * first:
 * - `lean`: a copy of public.agent_mcp_connections with every index the module creates
 *   (`LIKE ... INCLUDING ALL`, so a new index, such as the owner's, is measured as soon as a
 *   migration adds it), no triggers;
 * - `draft`: the same columns and constraints with the research draft's primary key and eight
 *   indexes (bench/draft_schema.ts, verbatim), no triggers; among them (last_used), which every
 *   usage event writes;
 * - `module`: the module's own writer, `record_agent_mcp_connection_usage()` called as the
 *   connection's owner under RLS (as PostgREST calls it), on agent_mcp_connections itself,
 *   triggers, usage buckets and all. Its throughput is informative (it does more per event);
 *   its HOT share is the figure that says whether the real table's usage updates stay HOT,
 *   whatever columns the writer or the migrations add.
 *
 * `lean` and `draft` run the same single-event UPDATE (the columns the usage writer sets:
 * usage_stats, last_used, updated_at). Each round reads the table's n_tup_upd / n_tup_hot_upd
 * before and after (`pg_stat_force_next_flush()`, then a new transaction), so every round is
 * one sample of HOT share and updates per second.
 */
import postgres from "postgres";
import { DRAFT_INDEXES_AND_POLICIES } from "../draft_schema.ts";
import { type Figure, type ScenarioResult, throughputFigure } from "../figures.ts";
import { summarize } from "../stats.ts";

const SCHEMA = "bench_hot";
const HOT_TARGET_PERCENT = 99;
const THROUGHPUT_TARGET_RATIO = 1;

type SideId = "lean" | "draft" | "module";
const SIDES: readonly SideId[] = ["lean", "draft", "module"];

export interface UsageHotOptions {
  dbUrl: string;
  /** Events per side in all (split over the rounds). */
  events: number;
  rounds: number;
  progress?: (message: string) => void;
}

/** The single-event usage UPDATE on a copy (the columns the module's writer sets). */
function usageUpdate(table: string): string {
  return `
    update ${table} as c
    set usage_stats = c.usage_stats || jsonb_build_object(
          'totalRequests', coalesce((c.usage_stats ->> 'totalRequests')::numeric, 0) + 1,
          'successfulRequests', coalesce((c.usage_stats ->> 'successfulRequests')::numeric, 0) + 1,
          'failedRequests', coalesce((c.usage_stats ->> 'failedRequests')::numeric, 0),
          'totalResponseTime', coalesce((c.usage_stats ->> 'totalResponseTime')::numeric, 0) + 5,
          'averageResponseTime', round(
              (coalesce((c.usage_stats ->> 'totalResponseTime')::numeric, 0) + 5)
              / (coalesce((c.usage_stats ->> 'totalRequests')::numeric, 0) + 1), 3),
          'bytesTransferred', coalesce((c.usage_stats ->> 'bytesTransferred')::numeric, 0) + 100,
          'lastUsed', to_jsonb(now())),
        last_used = now(),
        updated_at = now()
    where c.id = $1`;
}

/** The draft's CREATE INDEX statements, verbatim, for a table named `agent_mcp_connections`. */
function draftIndexStatements(): string[] {
  const statements = DRAFT_INDEXES_AND_POLICIES.match(/CREATE (?:UNIQUE )?INDEX [^;]+;/g) ?? [];
  if (statements.length !== 9) {
    throw new Error(`expected the draft's 9 CREATE INDEX statements, found ${statements.length}`);
  }
  return statements;
}

interface Counters {
  updates: number;
  hot: number;
}

async function counters(sql: postgres.Sql): Promise<Record<SideId, Counters>> {
  await sql`select pg_stat_force_next_flush()`;
  // The flush happens once the backend is idle; the next statement is a new transaction and
  // reads a fresh snapshot of the statistics.
  await sql`select 1`;
  const rows = await sql<{ side: SideId; updates: number; hot: number }[]>`
    select case relid
             when ${`${SCHEMA}.lean`}::regclass then 'lean'
             when ${`${SCHEMA}.agent_mcp_connections`}::regclass then 'draft'
             else 'module' end as side,
           n_tup_upd::float8 as updates, n_tup_hot_upd::float8 as hot
    from pg_stat_user_tables
    where relid in (${`${SCHEMA}.lean`}::regclass, ${`${SCHEMA}.agent_mcp_connections`}::regclass,
                    'public.agent_mcp_connections'::regclass)`;
  const result = {
    lean: { updates: 0, hot: 0 },
    draft: { updates: 0, hot: 0 },
    module: { updates: 0, hot: 0 },
  };
  for (const row of rows) result[row.side] = { updates: row.updates, hot: row.hot };
  return result;
}

async function indexList(sql: postgres.Sql, table: string): Promise<string[]> {
  const rows = await sql<{ definition: string }[]>`
    select regexp_replace(pg_get_indexdef(indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ USING btree ', '\\1') as definition
    from pg_index where indrelid = ${table}::regclass
    order by indexrelid`;
  return rows.map((row) => row.definition);
}

export async function runUsageHotScenario(options: UsageHotOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const say = options.progress ?? (() => {});
  const sql = postgres(options.dbUrl, { max: 1, onnotice: () => {} });
  const perRound = Math.max(1, Math.ceil(options.events / options.rounds));
  const hotShare: Record<SideId, number[]> = { lean: [], draft: [], module: [] };
  const rate: Record<SideId, number[]> = { lean: [], draft: [], module: [] };
  let indexes: Record<"lean" | "draft", string[]>;
  try {
    // One connection of a user of its own, written as the API writes it (triggers and all).
    const [user] = await sql<[{ id: string }]>`
      insert into auth.users (id, aud, role, email)
      values (gen_random_uuid(), 'authenticated', 'authenticated',
              'hot-' || gen_random_uuid() || '@bench.local')
      returning id`;
    const [agent] = await sql<[{ id: string }]>`
      insert into public.agents (user_id, name) values (${user.id}, 'Hot agent') returning id`;
    const [server] = await sql<[{ id: string }]>`
      insert into public.account_tool_instances (instance_name_on_toolbox, mcp_server_url)
      values ('Hot server', 'http://127.0.0.1:9/mcp') returning id`;
    const [row] = await sql<[{ id: string }]>`
      insert into public.agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
      values (${agent.id}, ${server.id}, ${user.id}) returning id`;

    await sql.unsafe(`drop schema if exists ${SCHEMA} cascade; create schema ${SCHEMA}`);
    await sql.unsafe(
      `create table ${SCHEMA}.lean (like public.agent_mcp_connections including all)`,
    );
    await sql.begin(async (tx) => {
      await tx.unsafe(`set local search_path = ${SCHEMA}, public`);
      await tx.unsafe(`
        create table agent_mcp_connections
            (like public.agent_mcp_connections including defaults including constraints);
        alter table agent_mcp_connections add primary key (id);`);
      for (const statement of draftIndexStatements()) await tx.unsafe(statement);
    });
    for (const table of ["lean", "agent_mcp_connections"]) {
      await sql.unsafe(
        `insert into ${SCHEMA}.${table} select * from public.agent_mcp_connections where id = $1`,
        [row.id],
      );
    }
    indexes = {
      lean: await indexList(sql, `${SCHEMA}.lean`),
      draft: await indexList(sql, `${SCHEMA}.agent_mcp_connections`),
    };
    await sql`vacuum analyze public.agent_mcp_connections`;
    await sql.unsafe(`vacuum analyze ${SCHEMA}.lean, ${SCHEMA}.agent_mcp_connections`);

    const claims = JSON.stringify({ sub: user.id, role: "authenticated", aud: "authenticated" });
    const event = [{ success: true, responseTimeMs: 5, bytesTransferred: 100 }];
    const runSide = async (side: SideId): Promise<void> => {
      if (side === "module") {
        for (let i = 0; i < perRound; i++) {
          await sql.begin(async (tx) => {
            await tx`
              select set_config('role', 'authenticated', true),
                     set_config('request.jwt.claims', ${claims}, true)`;
            await tx`select public.record_agent_mcp_connection_usage(${row.id}, ${tx.json(event)})`;
          });
        }
        return;
      }
      const statement = usageUpdate(
        `${SCHEMA}.${side === "lean" ? "lean" : "agent_mcp_connections"}`,
      );
      for (let i = 0; i < perRound; i++) await sql.unsafe(statement, [row.id]);
    };

    // A warm-up round, not counted.
    for (const side of SIDES) await runSide(side);
    for (let round = 0; round < options.rounds; round++) {
      const order = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]!);
      for (const side of order) {
        const before = await counters(sql);
        const t0 = performance.now();
        await runSide(side);
        const seconds = (performance.now() - t0) / 1000;
        const after = await counters(sql);
        const updates = after[side].updates - before[side].updates;
        if (updates !== perRound) {
          throw new Error(
            `${side}: pg_stat_user_tables counted ${updates} updates, not ${perRound}`,
          );
        }
        hotShare[side].push((100 * (after[side].hot - before[side].hot)) / updates);
        rate[side].push(perRound / seconds);
      }
      say(
        `round ${round + 1}/${options.rounds}: HOT ${
          SIDES.map((side) => `${side} ${hotShare[side].at(-1)!.toFixed(0)} %`).join(", ")
        }`,
      );
    }
  } finally {
    await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`).catch(() => {});
    await sql.end();
  }

  const side = (label: string, values: number[]) => ({
    label,
    summary: summarize(values),
  });
  const min = (values: number[]) => Math.min(...values);
  const leanHot = side("lean index set (the module's)", hotShare.lean);
  const draftHot = side("research draft's index set", hotShare.draft);
  const moduleHot = side("record_agent_mcp_connection_usage()", hotShare.module);
  const figures: Figure[] = [
    {
      name: "usage UPDATE on one hot row: HOT share, lean index set vs the draft's",
      unit: "%",
      project: leanHot,
      reference: draftHot,
      ratio: null,
      ratioMeaning: "",
      target: `lean ≥ ${HOT_TARGET_PERCENT} % HOT`,
      met: min(hotShare.lean) >= HOT_TARGET_PERCENT,
      notes: [
        `${options.rounds} rounds × ${perRound} updates per side`,
        `lowest round: lean ${min(hotShare.lean).toFixed(1)} %, draft ${
          min(hotShare.draft).toFixed(1)
        } %`,
      ],
    },
    throughputFigure({
      name: "usage UPDATE on one hot row: throughput, lean index set vs the draft's",
      unit: "updates/s",
      project: side("lean index set (the module's)", rate.lean),
      reference: side("research draft's index set", rate.draft),
      target: `≥ ${THROUGHPUT_TARGET_RATIO}× the throughput`,
      met: false,
      notes: ["one connection, one statement per event, no triggers on either copy"],
    }),
    {
      name: "usage events through record_agent_mcp_connection_usage(): HOT share on " +
        "agent_mcp_connections",
      unit: "%",
      project: moduleHot,
      reference: null,
      ratio: null,
      ratioMeaning: "",
      target: `≥ ${HOT_TARGET_PERCENT} % HOT`,
      met: min(hotShare.module) >= HOT_TARGET_PERCENT,
      notes: [
        `lowest round ${min(hotShare.module).toFixed(1)} %`,
        `${summarize(rate.module).median.toFixed(0)} events/s (one transaction each, under RLS, ` +
        "triggers and usage buckets included; informative)",
      ],
    },
  ];
  const throughput = figures[1]!;
  throughput.met = (throughput.ratio ?? 0) >= THROUGHPUT_TARGET_RATIO;

  const details = [
    `${options.rounds} rounds after a warm-up round; each round runs ${perRound} single-event ` +
    "updates per side, the sides rotating which goes first. HOT share per round from " +
    "`pg_stat_user_tables` (n_tup_hot_upd / n_tup_upd, flushed with " +
    "`pg_stat_force_next_flush()`).\n",
    "The lean copy's indexes (`LIKE public.agent_mcp_connections INCLUDING ALL`):\n",
    "```\n" + indexes!.lean.join("\n") + "\n```\n",
    "The draft copy's indexes (bench/draft_schema.ts):\n",
    "```\n" + indexes!.draft.join("\n") + "\n```\n",
    "The statement on both copies:\n",
    "```sql\n" + usageUpdate("<table>").trim().replace(/\n {4}/g, "\n") + "\n```\n",
  ];
  return {
    id: "hot",
    title: "Usage events on one hot row: HOT updates, lean index set vs the draft's",
    figures,
    details: details.join("\n"),
    data: { perRound, rounds: options.rounds, hotShare, rate, indexes: indexes! },
    durationSeconds: (performance.now() - started) / 1000,
  };
}
