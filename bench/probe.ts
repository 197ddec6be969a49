/**
 * Probe latency against each kind of MCP server, beside the bare SDK doing the least a client
 * can (connect + listTools + close, on the transport it is told) in the same run:
 *
 *     deno run -A bench/probe.ts [runs]
 *
 * The probe does more than the reference, on purpose: the Streamable HTTP try before an SSE
 * fallback, `ping` in the handshake era, the session DELETE, the SSRF guard on every request.
 * The ratio shows what that costs. Runs alternate probe and reference to share any drift.
 */
import {
  Client,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
} from "@modelcontextprotocol/client";
import { probe } from "../shared/mcp/probe.ts";
import {
  LOOPBACK_POLICY,
  startHandshakeServer,
  startLegacySseServer,
  startModernServer,
  startServerEverything,
} from "../tests/_support/mcp_servers.ts";

/** One server kind's figures. Times are wall-clock milliseconds. */
export interface ProbeBenchRow {
  readonly server: string;
  readonly era: string;
  readonly transport: string;
  readonly protocolVersion: string;
  readonly runs: number;
  readonly probeMedianMs: number;
  readonly probeP95Ms: number;
  readonly bareMedianMs: number;
  readonly bareP95Ms: number;
  /** probe median / bare median. */
  readonly ratio: number;
}

interface BenchTarget {
  readonly server: string;
  readonly transport: "streamable-http" | "sse";
  readonly start: () => Promise<{ url: string; close(): Promise<void> }>;
}

const TARGETS: readonly BenchTarget[] = [
  {
    server: "modern SDK server",
    transport: "streamable-http",
    start: () => startModernServer({ tools: 13 }),
  },
  {
    server: "handshake SDK server",
    transport: "streamable-http",
    start: () => startHandshakeServer({ tools: 13 }),
  },
  {
    server: "legacy SSE server",
    transport: "sse",
    start: () => startLegacySseServer({ tools: 13 }),
  },
  {
    server: "server-everything streamableHttp",
    transport: "streamable-http",
    start: () => startServerEverything("streamableHttp"),
  },
  { server: "server-everything sse", transport: "sse", start: () => startServerEverything("sse") },
];

const WARM_UP_RUNS = 3;

/** Runs the bench over every server kind; `runs` timed probes (and bare connects) each. */
export async function runProbeBench(runs = 30): Promise<ProbeBenchRow[]> {
  const rows: ProbeBenchRow[] = [];
  for (const target of TARGETS) {
    const server = await target.start();
    try {
      rows.push(await benchOne(target, server.url, runs));
    } finally {
      await server.close();
    }
  }
  return rows;
}

async function benchOne(target: BenchTarget, url: string, runs: number): Promise<ProbeBenchRow> {
  const probeTimes: number[] = [];
  const bareTimes: number[] = [];
  let last = await probe(url, { networkPolicy: LOOPBACK_POLICY });
  for (let run = 0; run < WARM_UP_RUNS; run++) {
    await probe(url, { networkPolicy: LOOPBACK_POLICY });
    await bareConnect(url, target.transport);
  }
  for (let run = 0; run < runs; run++) {
    const probeFirst = run % 2 === 0;
    if (!probeFirst) bareTimes.push(await bareConnect(url, target.transport));
    const started = performance.now();
    last = await probe(url, { networkPolicy: LOOPBACK_POLICY });
    probeTimes.push(performance.now() - started);
    if (!last.success) {
      throw new Error(`${target.server}: probe failed: ${JSON.stringify(last.error)}`);
    }
    if (probeFirst) bareTimes.push(await bareConnect(url, target.transport));
  }
  const probeMedianMs = percentile(probeTimes, 50);
  const bareMedianMs = percentile(bareTimes, 50);
  return {
    server: target.server,
    era: last.era ?? "?",
    transport: last.transport ?? "?",
    protocolVersion: last.protocolVersion ?? "?",
    runs,
    probeMedianMs,
    probeP95Ms: percentile(probeTimes, 95),
    bareMedianMs,
    bareP95Ms: percentile(bareTimes, 95),
    ratio: probeMedianMs / bareMedianMs,
  };
}

/** The bare SDK reference: connect, list tools, close; milliseconds. */
async function bareConnect(url: string, transport: "streamable-http" | "sse"): Promise<number> {
  const started = performance.now();
  const client = new Client(
    { name: "bench-bare", version: "1.0.0" },
    transport === "sse" ? {} : { versionNegotiation: { mode: "auto" } },
  );
  const connection: Transport = transport === "sse"
    ? new SSEClientTransport(new URL(url))
    : new StreamableHTTPClientTransport(new URL(url));
  try {
    await client.connect(connection, { timeout: 10_000 });
    await client.listTools(undefined, { timeout: 10_000 });
  } finally {
    await client.close();
  }
  return performance.now() - started;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** The rows as a fixed-width table. */
export function formatProbeBench(rows: readonly ProbeBenchRow[]): string {
  const header = [
    "server",
    "era",
    "transport",
    "version",
    "runs",
    "probe p50",
    "probe p95",
    "bare p50",
    "bare p95",
    "probe/bare",
  ];
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const body = rows.map((row) => [
    row.server,
    row.era,
    row.transport,
    row.protocolVersion,
    String(row.runs),
    ms(row.probeMedianMs),
    ms(row.probeP95Ms),
    ms(row.bareMedianMs),
    ms(row.bareP95Ms),
    `${row.ratio.toFixed(2)}x`,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]?.length ?? 0))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ");
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...body.map(line)].join(
    "\n",
  );
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? "30");
  const rows = await runProbeBench(Number.isInteger(runs) && runs > 0 ? runs : 30);
  // deno-lint-ignore no-console
  console.log(formatProbeBench(rows));
}
