/**
 * `GET /connections` through the function beside the same query straight to PostgREST: the
 * request supabase-js sends from the function (same columns and server embedding, same filter,
 * order and limit, same user JWT), through the same gateway, and PostgREST without the gateway.
 * Load with autocannon; the figure is 2xx responses per second.
 */
import type { Fixture } from "../fixture.ts";
import { type Figure, type ScenarioResult, throughputFigure } from "../figures.ts";
import { cpuTable, type HttpLoad, httpRunsTable, runHttpTrials, runsOf } from "../http_trials.ts";
import { CONNECTION_COLUMNS } from "../../shared/schemas/connection.ts";
import { mintUserToken } from "../../scripts/stack/keys.ts";
import type { RunningStack } from "../../scripts/stack/stack.ts";

const TARGET_RATIO = 0.7;

export interface ListHttpOptions {
  stack: Pick<RunningStack, "url" | "restUrl" | "keys">;
  fixture: Fixture;
  load: HttpLoad;
  progress?: (message: string) => void;
}

/** The query string supabase-js builds for listConnections() with the API's defaults. */
export function listQueryString(limit = 50): string {
  const params = new URLSearchParams({
    select: CONNECTION_COLUMNS,
    is_active: "eq.true",
    order: "created_at.desc,id.desc",
    limit: String(limit + 1),
  });
  return params.toString();
}

async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  const response = await fetch(url, { headers });
  const body = await response.json();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

export async function runListHttpScenario(options: ListHttpOptions): Promise<ScenarioResult> {
  const started = performance.now();
  const { stack, fixture } = options;
  const user = fixture.typical;
  const token = await mintUserToken({
    sub: user.id,
    secret: stack.keys.jwtSecret,
    expiresIn: 3600,
  });
  const headers = { apikey: stack.keys.publishableKey, authorization: `Bearer ${token}` };
  const functionUrl = `${stack.url}/functions/v1/mcp-connections/connections`;
  const gatewayUrl = `${stack.url}/rest/v1/agent_mcp_connections?${listQueryString()}`;
  const directUrl = `${stack.restUrl}/agent_mcp_connections?${listQueryString()}`;

  // The same rows either way (the function answers the first 50 of PostgREST's 51).
  const fromFunction = await getJson(functionUrl, headers) as { items: { id: string }[] };
  const fromRest = await getJson(gatewayUrl, headers) as { id: string }[];
  const functionIds = fromFunction.items.map((item) => item.id);
  const restIds = fromRest.slice(0, 50).map((row) => row.id);
  if (functionIds.length === 0 || functionIds.join() !== restIds.join()) {
    throw new Error(
      `the function and PostgREST list different rows (${functionIds.length} vs ${restIds.length})`,
    );
  }

  const results = await runHttpTrials(
    [
      {
        key: "function",
        label: "function GET /connections",
        request: { url: functionUrl, method: "GET", headers },
      },
      {
        key: "gateway",
        label: "PostgREST via the gateway",
        request: { url: gatewayUrl, method: "GET", headers },
      },
      {
        key: "direct",
        label: "PostgREST direct",
        request: { url: directUrl, method: "GET", headers },
      },
    ],
    options.load,
    options.progress,
  );

  const fn = runsOf(results, "function");
  const gateway = runsOf(results, "gateway");
  const direct = runsOf(results, "direct");
  const verified = [fn, gateway, direct].every((runs) => runs.problems.length === 0);
  const side = (label: string, runs: typeof fn) => ({ label, summary: runs.requestsPerSecond });
  const latency = (runs: typeof fn) =>
    `p50 ${runs.latencyP50Ms.median} ms, p99 ${runs.latencyP99Ms.median} ms`;
  const viaGateway = throughputFigure({
    name: `GET /connections (${functionIds.length} rows, ${options.load.connections} connections)`,
    project: side("function", fn),
    reference: side("PostgREST via the gateway", gateway),
    target: `≥ ${TARGET_RATIO}× the throughput`,
    met: null,
    notes: [
      `function ${latency(fn)}; PostgREST ${latency(gateway)}`,
      verified ? "every request 2xx" : "NOT VERIFIED: see details",
    ],
  });
  viaGateway.met = verified && (viaGateway.ratio ?? 0) >= TARGET_RATIO;
  const viaDirect = throughputFigure({
    name: "GET /connections vs PostgREST direct",
    project: side("function", fn),
    reference: side("PostgREST direct (no gateway)", direct),
    target: "(informative)",
    met: null,
    notes: [`PostgREST direct ${latency(direct)}`],
  });
  const figures: Figure[] = [viaGateway, viaDirect];
  const details = [
    `Acting as user \`${user.id}\` (${user.activeConnections} active connections); ` +
    `${options.load.trials} trials of ${options.load.amount} requests on ` +
    `${options.load.connections} connections per target, after ${options.load.warmUp} warm-up ` +
    "requests each; targets rotate their order every trial.\n",
    `- function: \`GET /functions/v1/mcp-connections/connections\``,
    `- PostgREST: \`GET /rest/v1/agent_mcp_connections?${decodeURIComponent(listQueryString())}\`` +
    " (what supabase-js sends from the function), through the gateway and direct\n",
    httpRunsTable(results),
    "",
    cpuTable(results),
  ].join("\n");
  return {
    id: "list",
    title: "GET /connections: the function beside PostgREST",
    figures,
    details,
    data: Object.fromEntries([...results].map(([key, runs]) => [key, runs.outcomes])),
    durationSeconds: (performance.now() - started) / 1000,
  };
}
