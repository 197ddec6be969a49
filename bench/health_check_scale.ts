/**
 * One health check run at scale, on a stack of its own:
 *
 *     deno run -A bench/health_check_scale.ts [--connections 1000] [--servers 50] [--hanging 5] [--timeout 5000]
 *
 * Starts `servers` MCP servers on 127.0.0.1 (the official SDK's modern-era server;
 * `hanging` of them accept connections and never answer), connects agents to them
 * until there are `connections` active connections (every connection's timeout is
 * `timeout` ms), calls the mcp-health-check function once, and reports the run's
 * duration, how many probes the servers saw, and how many write statements
 * PostgreSQL executed for it (pg_stat_statements, nested statements included).
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { startThrowawayStack } from "../scripts/stack/throwaway_stack.ts";
import type { HealthCheckSummary } from "../shared/schemas/health_check.ts";
import {
  startFaultServer,
  startModernServer,
  type TestServer,
} from "../tests/_support/mcp_servers.ts";

export interface HealthCheckScaleOptions {
  connections: number;
  servers: number;
  hanging: number;
  /** Every connection's timeout, ms: what a hanging server costs. */
  timeoutMs: number;
}

export interface HealthCheckScaleResult extends HealthCheckScaleOptions {
  summary: HealthCheckSummary;
  /** Wall-clock time of the HTTP call, ms. */
  wallMs: number;
  /** Sessions the healthy servers saw (server/discover or initialize) plus connections the hanging ones accepted. */
  probesSeen: number;
  /** INSERT/UPDATE/DELETE/TRUNCATE statements PostgreSQL executed during the run, and which. */
  writeStatements: number;
  writes: { query: string; calls: number }[];
  /** Connections that got this run's result. */
  connectionsWritten: number;
}

const WRITE = /^\s*(insert|update|delete|truncate|with\b[\s\S]*\b(insert|update|delete)\b)/i;

export async function runHealthCheckScale(
  options: HealthCheckScaleOptions,
): Promise<HealthCheckScaleResult> {
  const stack = await startThrowawayStack("health-check-scale-", {
    postgresSettings: [
      "shared_preload_libraries=pg_stat_statements",
      "pg_stat_statements.track=all",
    ],
  });
  const sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  const healthy: TestServer[] = [];
  const hanging: Awaited<ReturnType<typeof startFaultServer>>[] = [];
  try {
    for (let i = 0; i < options.servers - options.hanging; i++) {
      healthy.push(await startModernServer({ tools: 3 }));
    }
    for (let i = 0; i < options.hanging; i++) hanging.push(await startFaultServer("hang"));
    const urls = [...healthy.map((s) => s.url), ...hanging.map((s) => s.url)];

    // Agents connect to every server, as many agents as it takes.
    const agents = Math.ceil(options.connections / options.servers);
    const config = { timeout: options.timeoutMs, retryAttempts: 0 };
    await sql`create extension if not exists pg_stat_statements`;
    await sql`
      with servers as (
        insert into account_tool_instances (instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
        select 'Scale server ' || n, 'running', url from unnest(${
      sql.array(urls)
    }::text[]) with ordinality as u (url, n)
        returning id
      ),
      users as (
        insert into auth.users (id, email)
        select gen_random_uuid(), 'scale-' || n || '@bench.local' from generate_series(1, ${agents}) as n
        returning id
      ),
      new_agents as (
        insert into agents (user_id, name) select id, 'Scale agent' from users returning id, user_id
      )
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by, connection_config)
      select a.id, s.id, a.user_id, ${sql.json(config)} from new_agents as a cross join servers as s
    `;
    await sql`vacuum analyze`;
    await sql`select pg_stat_statements_reset()`;

    const started = performance.now();
    const response = await fetch(`${stack.url}/functions/v1/mcp-health-check`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.keys.serviceRoleKey}`,
        "content-type": "application/json",
      },
      body: "{}",
    });
    const summary = await response.json() as HealthCheckSummary;
    const wallMs = Math.round(performance.now() - started);
    if (response.status !== 200) {
      throw new Error(`health check answered ${response.status}: ${JSON.stringify(summary)}`);
    }

    const statements = await sql<{ query: string; calls: number }[]>`
      select query, calls::int from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
    `;
    const writes = statements.filter((s) => WRITE.test(s.query))
      .map((s) => ({ query: s.query.replace(/\s+/g, " ").slice(0, 90), calls: s.calls }));
    const [{ written }] = await sql<[{ written: number }]>`
      select count(*)::int as written from agent_mcp_connections where connection_test_result is not null
    `;
    const probesSeen = healthy.reduce(
      (sum, s) =>
        sum +
        s.requests.filter((r) =>
          r.rpcMethods.some((m) => m === "server/discover" || m === "initialize")
        ).length,
      0,
    ) + hanging.reduce((sum, s) => sum + s.connections(), 0);

    return {
      ...options,
      summary,
      wallMs,
      probesSeen,
      writeStatements: writes.reduce((sum, w) => sum + w.calls, 0),
      writes,
      connectionsWritten: written,
    };
  } finally {
    await sql.end();
    await Promise.all([...healthy, ...hanging].map((s) => s.close()));
    await stack.stop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      connections: { type: "string", default: "1000" },
      servers: { type: "string", default: "50" },
      hanging: { type: "string", default: "5" },
      timeout: { type: "string", default: "5000" },
    },
  });
  const result = await runHealthCheckScale({
    connections: Number(values.connections),
    servers: Number(values.servers),
    hanging: Number(values.hanging),
    timeoutMs: Number(values.timeout),
  });
  // deno-lint-ignore no-console
  const say = (line: string) => console.log(line);
  say(
    `connections ${result.summary.connections} on ${result.summary.servers} servers (${result.hanging} hanging), timeout ${result.timeoutMs} ms`,
  );
  say(
    `run: ${result.summary.durationMs} ms in the function, ${result.wallMs} ms for the HTTP call`,
  );
  say(
    `probes: ${result.summary.probed} made, ${result.probesSeen} seen by the servers; healthy ${result.summary.healthy}, unhealthy ${result.summary.unhealthy}, skipped ${result.summary.skipped}`,
  );
  say(`connections written: ${result.connectionsWritten}`);
  say(`write statements: ${result.writeStatements}`);
  for (const write of result.writes) say(`  ${write.calls} × ${write.query}`);
}
