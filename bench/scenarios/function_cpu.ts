/**
 * CPU per request beside the Edge Runtime's limit: what every route of mcp-connections costs
 * in function CPU, and what the health check costs per probed server, measured the way the
 * local function host enforces the 2 s limit (scripts/stack/function_workers.ts: the workers'
 * main-thread CPU from schedstat, boot excluded). Its own stack with the seed (demo user,
 * admin, agent, server, connection), requests one at a time through the gateway, and modern
 * MCP servers (3 tools) on 127.0.0.1 for the probes.
 *
 *     deno task bench --only=cpu
 *
 * A route's figure: the median (and p95) over `trials` of the mean CPU of `requests` calls.
 * The health check's: CPU per probed server at each size, and how many servers one 2 s
 * invocation could probe at that rate (the hosted limit; the worker retires at 1 s).
 */
import postgres from "postgres";
import { mintUserToken } from "../../scripts/stack/keys.ts";
import type { FunctionWorkers } from "../../scripts/stack/function_workers.ts";
import { HOSTED_LIMITS } from "../../scripts/stack/function_workers.ts";
import { startThrowawayStack, type ThrowawayStack } from "../../scripts/stack/throwaway_stack.ts";
import { startModernServer, type TestServer } from "../../tests/_support/mcp_servers.ts";
import type { Figure, ScenarioResult } from "../figures.ts";
import { summarize } from "../stats.ts";

const DEMO_USER = "11111111-1111-4111-8111-111111111111";
const ADMIN_USER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const DEMO_AGENT = "22222222-2222-4222-8222-222222222222";
const DEMO_SERVER = "33333333-3333-4333-8333-333333333333";
const DEMO_CONNECTION = "77777777-7777-4777-8777-777777777777";

export interface FunctionCpuOptions {
  /** Calls per route per trial. */
  requests: number;
  trials: number;
  /** Health check sizes (distinct servers probed per run). */
  healthServers: number[];
  healthTrials: number;
}

export const FUNCTION_CPU_DEFAULTS: FunctionCpuOptions = {
  requests: 100,
  trials: 3,
  healthServers: [50, 200],
  healthTrials: 2,
};

/** CPU ms of a function's workers so far (ended workers included). */
async function cpuMs(workers: FunctionWorkers): Promise<number> {
  await workers.refresh();
  return workers.stats().cpuMs;
}

/** Waits until the worker taking requests is not a retired one (a replacement booted). */
async function settled(workers: FunctionWorkers): Promise<void> {
  for (let i = 0; i < 600 && workers.stats().currentRetired; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Route {
  name: string;
  /** One call; throws on an unexpected status. */
  call: () => Promise<void>;
  /** Runs before each call, not measured (e.g. the DELETE a POST needs). */
  before?: () => Promise<void>;
}

async function expect(response: Promise<Response>, status: number, what: string): Promise<unknown> {
  const answer = await response;
  const body = await answer.json().catch(() => null);
  if (answer.status !== status) {
    throw new Error(`${what}: ${answer.status} ${JSON.stringify(body).slice(0, 200)}`);
  }
  return body;
}

function routes(stack: ThrowawayStack, user: string, admin: string): Route[] {
  const api = `${stack.url}/functions/v1/mcp-connections`;
  const headers = (token: string) => ({
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
  });
  const call = (path: string, init: RequestInit, status: number, token = user) => () =>
    expect(fetch(`${api}${path}`, { ...init, headers: headers(token) }), status, path).then(
      () => {},
    );
  // POST /connections and DELETE /connections/:id alternate on one (agent, server) pair.
  let active: string | null = DEMO_CONNECTION;
  const connect = async () => {
    const body = await expect(
      fetch(`${api}/connections`, {
        method: "POST",
        headers: headers(user),
        body: JSON.stringify({ agentId: DEMO_AGENT, mcpServerInstanceId: DEMO_SERVER }),
      }),
      201,
      "POST /connections",
    ) as { id: string };
    active = body.id;
  };
  const disconnect = async () => {
    if (!active) return;
    await expect(
      fetch(`${api}/connections/${active}`, { method: "DELETE", headers: headers(user) }),
      200,
      "DELETE /connections/:id",
    );
    active = null;
  };
  const ensureActive = async () => {
    if (!active) await connect();
  };
  const id = () => active!;
  const events = Array.from(
    { length: 100 },
    (_, i) => ({ success: i % 7 !== 0, responseTimeMs: 10 + i, bytesTransferred: 100 * i }),
  );
  return [
    { name: "GET /openapi.json", call: call("/openapi.json", {}, 200) },
    { name: "GET /connections", call: call("/connections", {}, 200) },
    {
      name: "GET /connections/:id",
      before: ensureActive,
      call: () => call(`/connections/${id()}`, {}, 200)(),
    },
    {
      name: "PATCH /connections/:id",
      before: ensureActive,
      call: () =>
        call(`/connections/${id()}`, {
          method: "PATCH",
          body: JSON.stringify({ config: { timeout: 5000, retryAttempts: 1 } }),
        }, 200)(),
    },
    {
      name: "POST /connections/:id/usage (one event)",
      before: ensureActive,
      call: () =>
        call(`/connections/${id()}/usage`, {
          method: "POST",
          body: JSON.stringify({ success: true, responseTimeMs: 42, bytesTransferred: 1024 }),
        }, 200)(),
    },
    {
      name: "POST /connections/:id/usage (100 events)",
      before: ensureActive,
      call: () =>
        call(`/connections/${id()}/usage`, {
          method: "POST",
          body: JSON.stringify({ events }),
        }, 200)(),
    },
    {
      name: "POST /connections/:id/test (modern MCP server, 2 tools)",
      before: ensureActive,
      call: () => call(`/connections/${id()}/test`, { method: "POST" }, 200)(),
    },
    { name: "GET /stats", call: call("/stats", {}, 200) },
    { name: "GET /admin/connections", call: call("/admin/connections", {}, 200, admin) },
    { name: "GET /admin/stats", call: call("/admin/stats", {}, 200, admin) },
    { name: "DELETE /connections/:id", before: ensureActive, call: disconnect },
    { name: "POST /connections", before: disconnect, call: connect },
  ];
}

function cpuFigure(name: string, label: string, values: number[], notes: string[]): Figure {
  return {
    name,
    unit: "ms",
    project: { label, summary: summarize(values) },
    reference: null,
    ratio: null,
    ratioMeaning: "",
    target: "",
    met: null,
    notes,
  };
}

export async function runFunctionCpuScenario(
  options: FunctionCpuOptions = FUNCTION_CPU_DEFAULTS,
  progress: (message: string) => void = () => {},
): Promise<ScenarioResult> {
  const started = performance.now();
  const stack = await startThrowawayStack("bench-cpu-", { seed: true, demoMcpPort: 0 });
  const servers: TestServer[] = [];
  try {
    const connections = stack.functions.get("mcp-connections")!;
    const healthCheck = stack.functions.get("mcp-health-check")!;
    const secret = stack.keys.jwtSecret;
    const user = await mintUserToken({ sub: DEMO_USER, secret, expiresIn: 3600 });
    const admin = await mintUserToken({ sub: ADMIN_USER, secret, expiresIn: 3600 });
    const figures: Figure[] = [];
    const rows: string[] = [];

    for (const route of routes(stack, user, admin)) {
      const perTrial: number[] = [];
      // One warm-up round (JIT, caches), then the trials.
      for (let i = 0; i < Math.min(20, options.requests); i++) {
        await route.before?.();
        await route.call();
      }
      for (let trial = 0; trial < options.trials; trial++) {
        await settled(connections);
        let total = 0;
        for (let i = 0; i < options.requests; i++) {
          await route.before?.();
          const before = await cpuMs(connections);
          await route.call();
          total += (await cpuMs(connections)) - before;
        }
        perTrial.push(total / options.requests);
      }
      const summary = summarize(perTrial);
      progress(`${route.name}: ${summary.median.toFixed(2)} ms CPU per request`);
      rows.push(`| ${route.name} | ${summary.median.toFixed(2)} | ${summary.max.toFixed(2)} |`);
      figures.push(
        cpuFigure(`CPU per request, ${route.name}`, "mcp-connections main thread", perTrial, []),
      );
    }

    // --- Health check: CPU per probed server -------------------------------------------
    const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
    const healthRows: string[] = [];
    try {
      const largest = Math.max(...options.healthServers);
      for (let i = 0; i < largest; i++) servers.push(await startModernServer({ tools: 3 }));
      for (const size of options.healthServers) {
        // Only this size's servers have active connections (one each, the demo agent's).
        await sql`
          update agent_mcp_connections set is_active = false, connection_status = 'disconnected'
          where is_active
        `;
        await sql`delete from account_tool_instances where instance_name_on_toolbox like 'CPU bench %'`;
        // One agent holding more connections than a user may: a fixture past the per-row
        // checks (limits, owner), so its owner is written here as the trigger would.
        await sql.begin(async (tx) => {
          await tx`set local session_replication_role = replica`;
          await tx`
            with servers as (
              insert into account_tool_instances (instance_name_on_toolbox, status_on_toolbox, mcp_server_url)
              select 'CPU bench ' || n, 'running', url
              from unnest(${sql.array(servers.slice(0, size).map((s) => s.url))}::text[])
                with ordinality as u (url, n)
              returning id
            )
            insert into agent_mcp_connections
              (agent_id, owner_id, mcp_server_instance_id, created_by, connection_config)
            select ${DEMO_AGENT}, ${DEMO_USER}, id, ${DEMO_USER},
              '{"timeout": 10000, "retryAttempts": 0}'::jsonb
            from servers
          `;
        });
        const perServer: number[] = [];
        for (let trial = 0; trial < options.healthTrials; trial++) {
          await settled(healthCheck);
          const before = await cpuMs(healthCheck);
          const summary = await expect(
            fetch(`${stack.url}/functions/v1/mcp-health-check`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${stack.keys.serviceRoleKey}`,
                "content-type": "application/json",
              },
              body: "{}",
            }),
            200,
            "POST mcp-health-check",
          ) as { probed: number };
          const used = (await cpuMs(healthCheck)) - before;
          if (!summary.probed) throw new Error(`the health check probed nothing at ${size}`);
          perServer.push(used / summary.probed);
          progress(
            `health check, ${size} servers: ${used.toFixed(0)} ms CPU for ${summary.probed} ` +
              `probed, ${(used / summary.probed).toFixed(2)} ms per server`,
          );
        }
        const median = summarize(perServer).median;
        const fits = Math.floor(HOSTED_LIMITS.cpuHardLimitMs / median);
        healthRows.push(`| ${size} | ${median.toFixed(2)} | ${fits} |`);
        figures.push(cpuFigure(
          `health check CPU per probed server (${size} servers)`,
          "mcp-health-check main thread",
          perServer,
          [`≈ ${fits} servers per 2 s invocation at this rate`],
        ));
      }
    } finally {
      await sql.end();
    }

    const stats = { connections: connections.stats(), healthCheck: healthCheck.stats() };
    return {
      id: "cpu",
      title: "Function CPU per request (the Edge Runtime's 2 s limit)",
      figures,
      details: [
        `Function CPU as the local host counts it toward the 2 s limit (main thread, from ` +
        `schedstat); ${options.requests} requests per trial, ${options.trials} trials, one at a ` +
        `time through the gateway.\n`,
        "| route | median ms CPU per request | worst trial |",
        "|---|---|---|",
        ...rows,
        "",
        "| health check: servers probed | ms CPU per probed server | servers per 2 s |",
        "|---|---|---|",
        ...healthRows,
        "",
        `Workers: mcp-connections started ${stats.connections.started}, retired ` +
        `${JSON.stringify(stats.connections.retired)}, terminated ` +
        `${JSON.stringify(stats.connections.terminated)}; mcp-health-check started ` +
        `${stats.healthCheck.started}, retired ${JSON.stringify(stats.healthCheck.retired)}, ` +
        `terminated ${JSON.stringify(stats.healthCheck.terminated)}.`,
      ].join("\n"),
      data: { options, stats },
      durationSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(servers.map((server) => server.close()));
    await stack.stop();
  }
}
