/**
 * One health check cycle at scale, on a stack of its own:
 *
 *     deno run -A bench/health_check_scale.ts [--servers 2000] [--origins 40] \
 *       [--connections-per-server 10] [--hanging-every 50] [--timeout 5000] \
 *       [--batch-size 100] [--parallelism 16]
 *
 * `origins` HTTP listeners on 127.0.0.1 each serve `servers / origins` distinct MCP servers
 * (one path each, the official SDK's modern-era server); one server in every
 * `hanging-every` accepts the request and never answers (2 % by default), and every
 * connection's timeout is `timeout` ms with no retries. Each server has
 * `connections-per-server` connections of one owner with one config (one target per
 * server): owners have 10 servers each, on 10 agents.
 *
 * It measures, from the function host's process (/proc): one invocation alone on one
 * batch, written (CPU per probe, which is what the batch size is chosen from), then one whole
 * cycle started the way the scheduler starts it (`POST {}`), with the function fanning
 * out by itself: the cycle's wall time (its row), the function host's CPU over the cycle
 * divided by the invocations that ran, its peak RSS, and the write statements PostgreSQL
 * executed (pg_stat_statements, nested statements included) per batch.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { startThrowawayStack } from "../scripts/stack/throwaway_stack.ts";
import type { HealthCheckSummary } from "../shared/schemas/health_check.ts";
import { createModernHandler } from "../tests/_support/mcp_servers.ts";
import { childrenMatching, cpuMeter } from "./cpu.ts";

export interface HealthCheckScaleOptions {
  /** Distinct MCP servers (each one target). */
  servers: number;
  /** HTTP listeners the servers are spread over. */
  origins: number;
  connectionsPerServer: number;
  /** One server in this many hangs. */
  hangingEvery: number;
  /** Every connection's timeout, ms: what a hanging server costs. */
  timeoutMs: number;
  batchSize: number;
  parallelism: number;
}

export interface HealthCheckScaleResult extends HealthCheckScaleOptions {
  connections: number;
  hanging: number;
  /** One invocation alone on one batch (after a warm-up call), and the host's peak RSS then. */
  calibration: {
    targets: number;
    cpuMs: number;
    wallMs: number;
    cpuPerProbeMs: number;
    baselineRssMb: number;
    peakRssMb: number;
  };
  /** The first call's answer. */
  summary: HealthCheckSummary;
  /** From the cycle's row: started → finished, ms. */
  cycleMs: number;
  finished: boolean;
  batches: number;
  probed: number;
  healthy: number;
  unhealthy: number;
  skipped: number;
  skipReasons: Record<string, number>;
  /** Invocations that ran (batch claims, retries included). */
  invocations: number;
  /** The function host's CPU over the cycle, ms, and per invocation. */
  functionCpuMs: number;
  cpuPerInvocationMs: number;
  /** The function host's peak resident memory (VmHWM), MB: an upper bound for any invocation. */
  functionPeakRssMb: number;
  /** Servers that received at least one request / the servers. */
  serversReached: number;
  /** INSERT/UPDATE/DELETE statements PostgreSQL executed during the cycle, and which. */
  writeStatements: number;
  writesPerBatch: number;
  writes: { query: string; calls: number; meanMs: number }[];
  /** Connections that got a result. */
  connectionsWritten: number;
}

const WRITE = /^\s*(insert|update|delete|truncate|with\b[\s\S]*\b(insert|update|delete)\b)/i;

interface Origins {
  urls: string[];
  /** Requests per path. */
  seen: Map<string, number>;
  close(): Promise<void>;
}

/** `count` listeners; a path under /hang/ never answers (until the client gives up). */
function startOrigins(count: number): Origins {
  const seen = new Map<string, number>();
  const stopping = new AbortController();
  const servers = Array.from({ length: count }, () => {
    const handler = createModernHandler({ tools: 3 });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        const path = new URL(request.url).pathname;
        seen.set(path, (seen.get(path) ?? 0) + 1);
        if (path.startsWith("/hang/")) {
          await new Promise<void>((resolve) => {
            if (stopping.signal.aborted) return resolve();
            request.signal.addEventListener("abort", () => resolve(), { once: true });
            stopping.signal.addEventListener("abort", () => resolve(), { once: true });
          });
          return new Response(null, { status: 503 });
        }
        return await handler.fetch(request);
      },
    );
    return { server, handler };
  });
  return {
    urls: servers.map(({ server }) => `http://127.0.0.1:${server.addr.port}`),
    seen,
    close: async () => {
      stopping.abort();
      await Promise.all(servers.map(async ({ server, handler }) => {
        await handler.close();
        await server.shutdown();
      }));
    },
  };
}

async function statusMb(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}
const peakRssMb = (pid: number) => statusMb(pid, "VmHWM");
const currentRssMb = (pid: number) => statusMb(pid, "VmRSS");

export async function runHealthCheckScale(
  options: HealthCheckScaleOptions,
  progress: (message: string) => void = () => {},
): Promise<HealthCheckScaleResult> {
  const stack = await startThrowawayStack("health-check-scale-", {
    postgresSettings: [
      "shared_preload_libraries=pg_stat_statements",
      "pg_stat_statements.track=all",
    ],
  });
  const sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  const origins = startOrigins(options.origins);
  try {
    const perOrigin = Math.ceil(options.servers / options.origins);
    const servers = Array.from({ length: options.servers }, (_, i) => {
      const origin = origins.urls[Math.floor(i / perOrigin)]!;
      return i % options.hangingEvery === 0 ? `${origin}/hang/${i}` : `${origin}/mcp/${i}`;
    });
    const hanging = servers.filter((url) => url.includes("/hang/")).length;
    const serversPerOwner = 10;
    const config = { timeout: options.timeoutMs, retryAttempts: 0 };
    await sql`create extension if not exists pg_stat_statements`;
    // Owner k has serversPerOwner servers and connectionsPerServer agents, each agent
    // connected to all of the owner's servers.
    // Fixture rows in bulk: the table's per-row write checks (limits, running servers) are
    // skipped for this one statement, as a restore would; the rows are valid by construction.
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`
        with servers as (
          insert into account_tool_instances (instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
          select 'Scale server ' || n, 'running', url
          from unnest(${sql.array(servers)}::text[]) with ordinality as u (url, n)
          returning id, (substring(instance_name_on_toolbox from '[0-9]+$')::int - 1) / ${serversPerOwner} as owner_no
        ),
        users as (
          insert into auth.users (id, email)
          select gen_random_uuid(), 'scale-' || n || '@bench.local'
          from generate_series(0, ${Math.ceil(options.servers / serversPerOwner) - 1}) as n
          returning id, (substring(email from '[0-9]+') )::int as owner_no
        ),
        new_agents as (
          insert into agents (user_id, name)
          select u.id, 'Scale agent ' || u.owner_no || '/' || a
          from users as u cross join generate_series(1, ${options.connectionsPerServer}) as a
          returning id, user_id
        )
        insert into agent_mcp_connections
            (agent_id, mcp_server_instance_id, created_by, owner_id, connection_config)
        select a.id, s.id, a.user_id, a.user_id, ${sql.json(config)}
        from new_agents as a
        join users as u on u.id = a.user_id
        join servers as s on s.owner_no = u.owner_no
      `;
    });
    const [{ connections }] = await sql<[{ connections: number }]>`
      select count(*)::int as connections from agent_mcp_connections`;
    await sql`vacuum analyze`;
    progress(
      `${options.servers} servers on ${options.origins} origins (${hanging} hanging), ` +
        `${connections} connections`,
    );

    const [functionHost] = await childrenMatching(
      Deno.pid,
      /function_host\.ts/,
      /FUNCTION_ENTRYPOINT=[^\n]*mcp-health-check/,
    );
    if (functionHost === undefined) throw new Error("no mcp-health-check function host found");
    const meter = cpuMeter({ function: () => Promise.resolve([functionHost]) });
    const call = async (body: Record<string, unknown>) => {
      const response = await fetch(`${stack.url}/functions/v1/mcp-health-check`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${stack.keys.serviceRoleKey}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      if (response.status !== 200) {
        throw new Error(`health check answered ${response.status}: ${JSON.stringify(answer)}`);
      }
      return answer as HealthCheckSummary;
    };

    // 1. One invocation alone on one batch of healthy servers (after a warm-up call that
    //    loads and compiles the code): CPU per probe, and the host's memory with one invocation.
    const baselineRssMb = await currentRssMb(functionHost);
    const calibrationIds = (await sql<{ id: string }[]>`
      select id from account_tool_instances where mcp_server_url like '%/mcp/%'
      order by id limit ${options.batchSize + 5}`).map((r) => r.id);
    await call({ serverIds: calibrationIds.splice(0, 5), dryRun: true });
    const calibrationStart = performance.now();
    const stopCalibration = await meter();
    const calibrated = await call({
      serverIds: calibrationIds,
      batchSize: options.batchSize,
      parallelism: 1,
    });
    const calibrationCpu = (await stopCalibration()).function!;
    const calibration = {
      targets: calibrated.probed,
      cpuMs: Math.round(calibrationCpu),
      wallMs: Math.round(performance.now() - calibrationStart),
      cpuPerProbeMs: Math.round((calibrationCpu / Math.max(1, calibrated.probed)) * 100) / 100,
      baselineRssMb,
      peakRssMb: await peakRssMb(functionHost),
    };
    progress(
      `one invocation, ${calibration.targets} probes: ${calibration.cpuMs} ms CPU ` +
        `(${calibration.cpuPerProbeMs} ms per probe), ${calibration.wallMs} ms; host RSS ` +
        `${calibration.baselineRssMb} MB idle, peak ${calibration.peakRssMb} MB`,
    );

    // 2. The cycle, started as the scheduler starts it.
    origins.seen.clear();
    await sql`select pg_stat_statements_reset()`;
    const stopCycle = await meter();
    const summary = await call({
      batchSize: options.batchSize,
      parallelism: options.parallelism,
    });
    const runId = summary.runId!;
    const until = Date.now() + 600_000;
    let finished = false;
    while (Date.now() < until) {
      const [run] = await sql`select finished_at from mcp_health_check_runs where id = ${runId}`;
      if (run?.finished_at) {
        finished = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const functionCpuMs = Math.round((await stopCycle()).function!);
    const [run] = await sql`
      select batches, probed, healthy, unhealthy, skipped, skip_reasons,
             round(extract(epoch from coalesce(finished_at, now()) - started_at) * 1000)::int as ms,
             (select coalesce(sum(attempts), 0)::int from mcp_health_check_batches where run_id = r.id)
               as invocations
      from mcp_health_check_runs as r where id = ${runId}`;
    const statements = await sql<{ query: string; calls: number; mean_ms: number }[]>`
      select query, calls::int, round(mean_exec_time::numeric, 1)::float as mean_ms
      from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database())
    `;
    const writes = statements.filter((s) => WRITE.test(s.query))
      .map((s) => ({
        query: s.query.replace(/\s+/g, " ").slice(0, 90),
        calls: s.calls,
        meanMs: s.mean_ms,
      }))
      .sort((a, b) => b.calls - a.calls);
    const writeStatements = writes.reduce((sum, w) => sum + w.calls, 0);
    const [{ written }] = await sql<[{ written: number }]>`
      select count(*)::int as written from agent_mcp_connections where connection_test_result is not null
    `;
    const invocations = Number(run!.invocations);
    return {
      ...options,
      connections,
      hanging,
      calibration,
      summary,
      cycleMs: Number(run!.ms),
      finished,
      batches: Number(run!.batches),
      probed: Number(run!.probed),
      healthy: Number(run!.healthy),
      unhealthy: Number(run!.unhealthy),
      skipped: Number(run!.skipped),
      skipReasons: run!.skip_reasons,
      invocations,
      functionCpuMs,
      cpuPerInvocationMs: Math.round(functionCpuMs / Math.max(1, invocations)),
      // The first worker's peak; a worker recycled since (the Edge Runtime limits) has none.
      functionPeakRssMb: await peakRssMb(functionHost).catch(() => Number.NaN),
      serversReached: servers.filter((url) => origins.seen.has(new URL(url).pathname)).length,
      writeStatements,
      writesPerBatch: Math.round((writeStatements / Math.max(1, Number(run!.batches))) * 10) / 10,
      writes,
      connectionsWritten: written,
    };
  } finally {
    await sql.end();
    await origins.close();
    await stack.stop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      servers: { type: "string", default: "2000" },
      origins: { type: "string", default: "40" },
      "connections-per-server": { type: "string", default: "10" },
      "hanging-every": { type: "string", default: "50" },
      timeout: { type: "string", default: "5000" },
      "batch-size": { type: "string", default: "100" },
      parallelism: { type: "string", default: "16" },
    },
  });
  // deno-lint-ignore no-console
  const say = (line: string) => console.log(line);
  const result = await runHealthCheckScale({
    servers: Number(values.servers),
    origins: Number(values.origins),
    connectionsPerServer: Number(values["connections-per-server"]),
    hangingEvery: Number(values["hanging-every"]),
    timeoutMs: Number(values.timeout),
    batchSize: Number(values["batch-size"]),
    parallelism: Number(values.parallelism),
  }, say);
  say(
    `cycle: ${result.finished ? "finished" : "NOT finished"} in ${result.cycleMs} ms; ` +
      `${result.batches} batches, ${result.invocations} invocations`,
  );
  say(
    `targets: probed ${result.probed} (healthy ${result.healthy}, unhealthy ${result.unhealthy}), ` +
      `skipped ${result.skipped} ${JSON.stringify(result.skipReasons)}; ` +
      `servers reached ${result.serversReached}/${result.servers}`,
  );
  say(
    `function host: ${result.functionCpuMs} ms CPU over the cycle, ` +
      `${result.cpuPerInvocationMs} ms per invocation; peak RSS ${result.functionPeakRssMb} MB`,
  );
  say(`connections written: ${result.connectionsWritten}/${result.connections}`);
  say(`write statements: ${result.writeStatements} (${result.writesPerBatch} per batch)`);
  say(`the first call (starts the cycle, probes a batch): ${result.summary.durationMs} ms`);
  for (const write of result.writes) {
    say(`  ${write.calls} × ${write.query} (mean ${write.meanMs} ms)`);
  }
}
