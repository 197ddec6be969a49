/**
 * Usage events on one hot row, the lean index set beside the draft's, in one run:
 *
 *     deno run -A bench/usage_hot_updates.ts [--events 4000] [--rounds 8]
 *
 * Two copies of agent_mcp_connections (same columns, constraints and defaults, no
 * triggers) hold one connection each: `lean` has this module's indexes, `draft` adds
 * back the three the lean schema drops ((is_active) where is_active, (agent_id,
 * is_active) where is_active, (last_used)). The same single-event usage UPDATE (the
 * statement of agent_mcp_private.add_connection_usage()) runs on each, in alternating
 * rounds on one connection. Reported per table: updates per second and the share of
 * HOT updates (pg_stat_user_tables), and the HOT share of the module's own writer on
 * agent_mcp_connections itself (triggers included).
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { startThrowawayStack } from "../scripts/stack/throwaway_stack.ts";

const args = parseArgs({
  options: {
    events: { type: "string", default: "4000" },
    rounds: { type: "string", default: "8" },
  },
});
const EVENTS = Number(args.values.events);
const ROUNDS = Number(args.values.rounds);

const UPDATE = (table: string) => `
  update ${table} as c
  set usage_stats = c.usage_stats || jsonb_build_object(
        'totalRequests', public.usage_stat(c.usage_stats, 'totalRequests') + 1,
        'successfulRequests', public.usage_stat(c.usage_stats, 'successfulRequests') + 1,
        'failedRequests', public.usage_stat(c.usage_stats, 'failedRequests'),
        'totalResponseTime', public.usage_stat(c.usage_stats, 'totalResponseTime') + 5,
        'averageResponseTime', round((public.usage_stat(c.usage_stats, 'totalResponseTime') + 5)
            / (public.usage_stat(c.usage_stats, 'totalRequests') + 1), 3),
        'bytesTransferred', public.usage_stat(c.usage_stats, 'bytesTransferred') + 100,
        'lastUsed', to_jsonb(now())),
      last_used = now(),
      updated_at = now()
  where c.id = $1`;

const stack = await startThrowawayStack("bench-hot-");
const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
try {
  const [user] = await sql<[{ id: string }]>`
    insert into auth.users (id, email) values (gen_random_uuid(), 'hot@bench.local') returning id`;
  const [agent] = await sql<[{ id: string }]>`
    insert into agents (user_id, name) values (${user.id}, 'Hot agent') returning id`;
  const [server] = await sql<[{ id: string }]>`
    insert into account_tool_instances (instance_name_on_toolbox, mcp_server_url)
    values ('Hot server', 'http://127.0.0.1:9/mcp') returning id`;
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values (${agent.id}, ${server.id}, ${user.id}) returning id`;

  for (const table of ["bench_lean", "bench_draft"]) {
    await sql.unsafe(`create table ${table} (like agent_mcp_connections including all)`);
    await sql.unsafe(`insert into ${table} select * from agent_mcp_connections where id = $1`, [
      row.id,
    ]);
  }
  await sql.unsafe(`
    create index on bench_draft (is_active) where is_active;
    create index on bench_draft (agent_id, is_active) where is_active;
    create index on bench_draft (last_used);`);

  const elapsed: Record<string, number> = { bench_lean: 0, bench_draft: 0 };
  const perRound = Math.ceil(EVENTS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ["bench_lean", "bench_draft"] : ["bench_draft", "bench_lean"];
    for (const table of order) {
      const statement = UPDATE(table);
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await sql.unsafe(statement, [row.id]);
      elapsed[table]! += performance.now() - started;
    }
  }
  // The module's own writer on the real table (triggers and all), for its HOT share.
  for (let i = 0; i < perRound; i++) {
    await sql`select agent_mcp_private.add_connection_usage(${row.id},
      '[{"success": true, "responseTimeMs": 5, "bytesTransferred": 100}]')`;
  }
  await sql`select pg_stat_force_next_flush()`;
  await sql`select 1`;
  const stats = await sql<{ relname: string; upd: number; hot: number }[]>`
    select relname, n_tup_upd::int as upd, n_tup_hot_upd::int as hot
    from pg_stat_user_tables
    where relname in ('bench_lean', 'bench_draft', 'agent_mcp_connections')
    order by relname`;
  const lines = stats.map((s) => {
    const rate = elapsed[s.relname]
      ? ` ${(s.upd / (elapsed[s.relname]! / 1000)).toFixed(0)} updates/s,`
      : "";
    return `${s.relname.padEnd(22)}${rate} HOT ${s.hot}/${s.upd} (${
      (100 * s.hot / Math.max(s.upd, 1)).toFixed(1)
    }%)`;
  });
  const lean = stats.find((s) => s.relname === "bench_lean")!;
  const draft = stats.find((s) => s.relname === "bench_draft")!;
  const ratio = (lean.upd / elapsed.bench_lean!) / (draft.upd / elapsed.bench_draft!);
  // deno-lint-ignore no-console
  console.log([...lines, `lean / draft throughput: ${ratio.toFixed(2)}x`].join("\n"));
} finally {
  await sql.end();
  await stack.stop();
}
