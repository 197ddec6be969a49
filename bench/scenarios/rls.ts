/**
 * RLS at 1M connections: the project's policies (public.agent_mcp_connections and
 * admin_list_agent_mcp_connections()) beside the research draft's policies on a copy of the
 * same rows (draft.agent_mcp_connections, bench/draft_schema.ts).
 *
 * Every trial is one transaction as PostgREST runs it: `set_config('role', 'authenticated')`
 * and `set_config('request.jwt.claims', ...)`, then `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON)`
 * of the query; the figure is the plan's "Execution Time". Per-node timing is off in the timed
 * trials so that instrumentation does not inflate the reference (which walks ~1M rows); each
 * query's plan is also captured once with timing and buffers for the details. The admin list of
 * the project is a plpgsql function (EXPLAIN shows a Function Scan): its inner plan comes from
 * auto_explain (log_nested_statements), sent back as a notice.
 *
 * Project and reference alternate which runs first, trial by trial.
 */
import postgres from "postgres";
import type { BenchUser, Fixture } from "../fixture.ts";
import { type Figure, type ScenarioResult, timeFigure } from "../figures.ts";
import {
  type Explained,
  isIndexScan,
  type PlanNode,
  planText,
  scansOf,
  scanSummary,
} from "../plans.ts";
import { interleave, summarize } from "../stats.ts";

const TABLE = "agent_mcp_connections";
const COLUMNS = "id, agent_id, mcp_server_instance_id, connection_config, " +
  "connection_test_result, is_active, connection_status, last_used, usage_stats, created_at, " +
  "updated_at, created_by";
const USER_TARGET_MS = 2;
const USER_TARGET_RATIO = 50;

interface RlsQuery {
  name: string;
  kind: "user" | "admin";
  user: BenchUser;
  project: string;
  reference: string;
}

export interface RlsOptions {
  dbUrl: string;
  fixture: Fixture;
  trials: number;
  progress?: (message: string) => void;
}

function claims(user: BenchUser): string {
  return JSON.stringify({ sub: user.id, role: "authenticated", aud: "authenticated" });
}

async function explainAs(
  sql: postgres.Sql,
  user: BenchUser,
  query: string,
  options: string,
): Promise<Explained> {
  return await sql.begin(async (tx) => {
    await tx`
      select set_config('role', 'authenticated', true),
             set_config('request.jwt.claims', ${claims(user)}, true)`;
    const [row] = await tx.unsafe<[{ "QUERY PLAN": Explained[] }]>(
      `explain (${options}, format json) ${query}`,
    );
    const explained = row["QUERY PLAN"][0];
    if (!explained) throw new Error(`no plan for: ${query}`);
    return explained;
  });
}

/** The inner plans of a function call, from auto_explain; the last call's plan. */
async function nestedPlan(dbUrl: string, user: BenchUser, query: string): Promise<PlanNode> {
  const notices: string[] = [];
  const sql = postgres(dbUrl, {
    max: 1,
    onnotice: (notice) => notices.push(String(notice.message ?? "")),
  });
  try {
    await sql`load 'auto_explain'`;
    // Enough calls for plpgsql to settle on a generic plan if it would: the last one counts.
    for (let call = 0; call < 8; call++) {
      notices.length = 0;
      await sql.begin(async (tx) => {
        await tx.unsafe(`
          set local auto_explain.log_min_duration = 0;
          set local auto_explain.log_analyze = on;
          set local auto_explain.log_timing = off;
          set local auto_explain.log_nested_statements = on;
          set local auto_explain.log_format = json;
          set local auto_explain.log_level = notice`);
        await tx`
          select set_config('role', 'authenticated', true),
                 set_config('request.jwt.claims', ${claims(user)}, true)`;
        await tx.unsafe(query);
      });
    }
  } finally {
    await sql.end();
  }
  for (const notice of notices) {
    const start = notice.indexOf("{");
    if (start < 0) continue;
    const logged = JSON.parse(notice.slice(start)) as { "Query Text"?: string; Plan: PlanNode };
    if (
      scansOf(logged.Plan, TABLE).length > 0 && !/^\s*select .* from public\.admin_/i.test(
        logged["Query Text"] ?? "",
      )
    ) {
      return logged.Plan;
    }
  }
  throw new Error(`auto_explain logged no plan reading ${TABLE} for: ${query}`);
}

async function pageKey(
  sql: postgres.Sql,
  user: BenchUser,
  where: "own" | "all",
): Promise<{ createdAt: string; id: string }> {
  const [row] = where === "all"
    ? await sql<[{ created_at: string; id: string }]>`
        select created_at::text, id from public.agent_mcp_connections
        order by created_at desc, id desc offset 49 limit 1`
    : await sql<[{ created_at: string; id: string }]>`
        select c.created_at::text, c.id from public.agent_mcp_connections as c
        join public.agents as a on a.id = c.agent_id
        where a.user_id = ${user.id}
        order by c.created_at desc, c.id desc offset 49 limit 1`;
  if (!row) throw new Error(`user ${user.id} has fewer than 51 connections: no page 2`);
  return { createdAt: row.created_at, id: row.id };
}

function queries(
  fixture: Fixture,
  userKey: { createdAt: string; id: string },
  adminKey: { createdAt: string; id: string },
): RlsQuery[] {
  const list = (schema: string) =>
    `select ${COLUMNS} from ${schema}.${TABLE} order by created_at desc limit 50`;
  // The keyset filter the API sends through PostgREST (shared/domain/connections.ts).
  const after = (schema: string, key: { createdAt: string; id: string }) =>
    `select ${COLUMNS} from ${schema}.${TABLE}
     where created_at < '${key.createdAt}' or (created_at = '${key.createdAt}' and id < '${key.id}')
     order by created_at desc, id desc limit 50`;
  const { typical, power, empty, admin } = fixture;
  return [
    {
      name: `user list, page 1 (${typical.connections} connections)`,
      kind: "user",
      user: typical,
      project: list("public"),
      reference: list("draft"),
    },
    {
      name: `user list, page 1 (${power.connections} connections)`,
      kind: "user",
      user: power,
      project: list("public"),
      reference: list("draft"),
    },
    {
      name: `user list, keyset page 2 (${power.connections} connections)`,
      kind: "user",
      user: power,
      project: after("public", userKey),
      reference: after("draft", userKey),
    },
    {
      name: "user who owns nothing, page 1",
      kind: "user",
      user: empty,
      project: list("public"),
      reference: list("draft"),
    },
    {
      name: "admin list, page 1",
      kind: "admin",
      user: admin,
      project: `select ${COLUMNS} from public.admin_list_agent_mcp_connections(50)`,
      reference: list("draft"),
    },
    {
      name: "admin list, keyset page 2",
      kind: "admin",
      user: admin,
      project: `select ${COLUMNS} from public.admin_list_agent_mcp_connections(50, ` +
        `'${adminKey.createdAt}'::timestamptz, '${adminKey.id}'::uuid)`,
      reference: after("draft", adminKey),
    },
  ];
}

export async function runRlsScenario(options: RlsOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const say = options.progress ?? (() => {});
  const sql = postgres(options.dbUrl, { max: 1, onnotice: () => {} });
  const figures: Figure[] = [];
  const details: string[] = [];
  const data: Record<string, unknown> = {};
  try {
    const userKey = await pageKey(sql, options.fixture.power, "own");
    const adminKey = await pageKey(sql, options.fixture.admin, "all");
    for (const query of queries(options.fixture, userKey, adminKey)) {
      say(query.name);
      const timed = "analyze, timing off";
      for (let warm = 0; warm < 2; warm++) {
        await explainAs(sql, query.user, query.project, timed);
        await explainAs(sql, query.user, query.reference, timed);
      }
      const rows = { project: 0, reference: 0 };
      const samples = await interleave(
        options.trials,
        async () => {
          const explained = await explainAs(sql, query.user, query.project, timed);
          rows.project = explained.Plan["Actual Rows"] ?? 0;
          return explained["Execution Time"];
        },
        async () => {
          const explained = await explainAs(sql, query.user, query.reference, timed);
          rows.reference = explained.Plan["Actual Rows"] ?? 0;
          return explained["Execution Time"];
        },
      );
      if (rows.project !== rows.reference) {
        throw new Error(
          `${query.name}: the project returned ${rows.project} rows, the draft ${rows.reference}`,
        );
      }
      const detailed = "analyze, buffers";
      const projectPlan = (await explainAs(sql, query.user, query.project, detailed)).Plan;
      const referencePlan = (await explainAs(sql, query.user, query.reference, detailed)).Plan;
      const innerPlan = query.kind === "admin"
        ? await nestedPlan(options.dbUrl, query.user, query.project)
        : projectPlan;
      const projectScans = scansOf(innerPlan, TABLE);
      const referenceScans = scansOf(referencePlan, TABLE);
      const indexed = projectScans.length > 0 &&
        projectScans.every((scan) => isIndexScan(scan) || scan.node === "Bitmap Heap Scan");
      const project = { label: "project policies", summary: summarize(samples.a) };
      const reference = { label: "research draft's policies", summary: summarize(samples.b) };
      const figure = timeFigure({
        name: query.name,
        project,
        reference,
        target: query.kind === "user"
          ? `≤ ${USER_TARGET_MS} ms and ≥ ${USER_TARGET_RATIO}× faster`
          : "uses an index",
        met: false,
        notes: [
          `${rows.project} rows`,
          `project: ${scanSummary(projectScans)}`,
          `draft: ${scanSummary(referenceScans)}`,
        ],
      });
      figure.met = query.kind === "user"
        ? project.summary.median <= USER_TARGET_MS && (figure.ratio ?? 0) >= USER_TARGET_RATIO &&
          indexed
        : indexed;
      figures.push(figure);
      details.push(
        `#### ${query.name}\n`,
        `Acting as user \`${query.user.id}\` (${query.user.connections} connections). Rows: ${rows.project}.\n`,
        "Project:\n",
        "```sql\n" + query.project.replace(/\s+/g, " ") + "\n```\n",
        "```\n" + planText(projectPlan) + "\n```\n",
        ...(query.kind === "admin"
          ? [
            "Inside the function (auto_explain, the last of 8 calls in one session):\n",
            "```\n" + planText(innerPlan) + "\n```\n",
          ]
          : []),
        "Research draft:\n",
        "```sql\n" + query.reference.replace(/\s+/g, " ") + "\n```\n",
        "```\n" + planText(referencePlan) + "\n```\n",
      );
      data[query.name] = {
        projectMs: samples.a,
        referenceMs: samples.b,
        rows: rows.project,
        projectScans,
        referenceScans,
      };
    }
  } finally {
    await sql.end();
  }
  const { size, timings, sizes } = options.fixture;
  const intro = [
    `Data: ${options.fixture.connections.toLocaleString("en-US")} connections ` +
    `(${size.connectionsPerAgent} per agent, one of them disconnected), ` +
    `${size.agents.toLocaleString("en-US")} agents, ${size.users.toLocaleString("en-US")} users ` +
    `(${size.powerUsers} of them with ${size.agentsPerPowerUser} agents each; one with none), ` +
    `${size.admins} admins, ${size.servers} servers; rows written in created_at order over a ` +
    `year. Filled in ${Object.values(timings).reduce((a, b) => a + b, 0).toFixed(0)} s ` +
    `(${Object.entries(timings).map(([step, s]) => `${step} ${s} s`).join(", ")}), then ` +
    "VACUUM ANALYZE twice. " +
    sizes.map((s) => `${s.table}: heap ${s.heap}, indexes ${s.indexes}`).join("; ") + ".\n",
    `Each figure: ${options.trials} trials per side, project and draft alternating which goes ` +
    "first, each trial one transaction as PostgREST runs it (`set_config('role', " +
    "'authenticated')`, `set_config('request.jwt.claims', ...)`), timed by the \"Execution " +
    'Time" of `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON)` (per-node timing off, so that ' +
    "instrumentation does not inflate the draft's walk over ~1M rows), after 2 warm-up runs " +
    "each. The plans below are one more run each with `EXPLAIN (ANALYZE, BUFFERS)`.\n",
  ];
  return {
    id: "rls",
    title: `RLS at ${options.fixture.connections.toLocaleString("en-US")} connections ` +
      "(EXPLAIN ANALYZE execution time)",
    figures,
    details: [...intro, ...details].join("\n"),
    data,
    durationSeconds: (performance.now() - started) / 1000,
  };
}
