/**
 * Probe latency against each kind of MCP server, beside two references built on the bare
 * official SDK, all in the same run:
 *
 *     deno run -A bench/probe.ts [runs]
 *
 * - **bare**: the least a client can do: connect + `tools/list` + close, on the transport it is
 *   told. This is the reference of the project's target (probe ≤ 1.2× bare) for a server that
 *   needs no more than that: the modern-era server.
 * - **fair**: the bare SDK doing the same protocol work as the probe, where the probe must do
 *   more than the bare reference: `ping` and the session DELETE in the handshake era, and on an
 *   SSE-only server the Streamable HTTP try (turned down with a 4xx) before the SSE transport.
 *   Where the probe does no more than the bare reference, fair *is* bare (not run twice).
 *
 * What remains between the probe and the fair reference is the probe's own cost: the SSRF guard
 * on every request, the bounded body reads, the deadline, the failure bookkeeping.
 *
 * Method: every server kind gets warm-up rounds, then `runs` rounds; each round runs every
 * variant once, the order rotating round by round, so drift and the load other processes put on
 * the machine fall on all of them alike. Times are wall-clock per call (the whole `probe()`
 * call, session close included); medians and 95th percentiles (nearest rank). One untimed run
 * of each variant counts the HTTP requests it makes, to show that probe and fair reference do
 * the same protocol work.
 */
import {
  Client,
  SSEClientTransport,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import { probe } from "../shared/mcp/mod.ts";
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
  /** The median of the probe's own `latency` (whole ms; to its findings, before the session close). */
  readonly probeLatencyMedianMs: number;
  /** The bare SDK doing the probe's protocol work; the same as bare where that is no more. */
  readonly fairMedianMs: number;
  readonly fairP95Ms: number;
  /** probe median / fair median. */
  readonly fairRatio: number;
  /** The median over rounds of probe time / bare time in the same round (robust to drift). */
  readonly pairedRatio: number;
  /** The same, against the fair reference. */
  readonly fairPairedRatio: number;
  /** Whether the fair reference is a reference of its own (false: it is the bare one). */
  readonly fairIsSeparate: boolean;
  /** What the probe (and the fair reference) does beyond the bare reference. */
  readonly extraWork: string;
  /** HTTP requests of one call: probe, bare, fair ("GET", "POST", "DELETE" counts). */
  readonly probeRequests: string;
  readonly bareRequests: string;
  readonly fairRequests: string;
}

type Reference = (url: string) => Promise<void>;

interface BenchTarget {
  readonly server: string;
  readonly transport: "streamable-http" | "sse";
  readonly start: () => Promise<{ url: string; close(): Promise<void> }>;
  /** The bare SDK doing what the probe does; null when that is just the bare reference. */
  readonly fair: Reference | null;
  readonly extraWork: string;
}

const HANDSHAKE_EXTRA = "ping + session DELETE";
const SSE_EXTRA = "Streamable HTTP try (4xx) before SSE + ping";

const TARGETS: readonly BenchTarget[] = [
  {
    server: "modern SDK server",
    transport: "streamable-http",
    start: () => startModernServer({ tools: 13 }),
    fair: null,
    extraWork: "none",
  },
  {
    server: "handshake SDK server",
    transport: "streamable-http",
    start: () => startHandshakeServer({ tools: 13 }),
    fair: fairStreamableHandshake,
    extraWork: HANDSHAKE_EXTRA,
  },
  {
    server: "legacy SSE server",
    transport: "sse",
    start: () => startLegacySseServer({ tools: 13 }),
    fair: fairSseFallback,
    extraWork: SSE_EXTRA,
  },
  {
    server: "server-everything streamableHttp",
    transport: "streamable-http",
    start: () => startServerEverything("streamableHttp"),
    fair: fairStreamableHandshake,
    extraWork: HANDSHAKE_EXTRA,
  },
  {
    server: "server-everything sse",
    transport: "sse",
    start: () => startServerEverything("sse"),
    fair: fairSseFallback,
    extraWork: SSE_EXTRA,
  },
];

const WARM_UP_ROUNDS = 30;
const DEFAULT_RUNS = 200;
const TIMEOUT_MS = 10_000;

/** Runs the bench over every server kind; `runs` timed rounds each (every variant once a round). */
export async function runProbeBench(runs = DEFAULT_RUNS): Promise<ProbeBenchRow[]> {
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
  const latencies: number[] = [];
  let last = await probe(url, { networkPolicy: LOOPBACK_POLICY });
  const runProbe = async () => {
    last = await probe(url, { networkPolicy: LOOPBACK_POLICY });
    if (!last.success) {
      throw new Error(`${target.server}: probe failed: ${JSON.stringify(last.error)}`);
    }
    if (last.latency !== null) latencies.push(last.latency);
  };
  const runBare = () => bareConnect(url, target.transport);
  const fair = target.fair;
  const variants: { name: string; run: () => Promise<unknown>; times: number[] }[] = [
    { name: "probe", run: runProbe, times: [] },
    { name: "bare", run: runBare, times: [] },
    ...(fair === null ? [] : [{ name: "fair", run: () => fair(url), times: [] }]),
  ];

  const requests = new Map<string, string>();
  for (const variant of variants) requests.set(variant.name, await countRequests(variant.run));

  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    for (const variant of variants) await variant.run();
  }
  latencies.length = 0;
  for (let round = 0; round < runs; round++) {
    for (let index = 0; index < variants.length; index++) {
      const variant = variants[(round + index) % variants.length];
      if (variant === undefined) continue;
      const started = performance.now();
      await variant.run();
      variant.times.push(performance.now() - started);
    }
  }

  const [probeTimes, bareTimes, fairTimes] = [
    variants[0]?.times ?? [],
    variants[1]?.times ?? [],
    variants[2]?.times ?? variants[1]?.times ?? [],
  ];
  const probeMedianMs = percentile(probeTimes, 50);
  const bareMedianMs = percentile(bareTimes, 50);
  const fairMedianMs = percentile(fairTimes, 50);
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
    probeLatencyMedianMs: percentile(latencies, 50),
    fairMedianMs,
    fairP95Ms: percentile(fairTimes, 95),
    fairRatio: probeMedianMs / fairMedianMs,
    pairedRatio: pairedRatio(probeTimes, bareTimes),
    fairPairedRatio: pairedRatio(probeTimes, fairTimes),
    fairIsSeparate: fair !== null,
    extraWork: target.extraWork,
    probeRequests: requests.get("probe") ?? "?",
    bareRequests: requests.get("bare") ?? "?",
    fairRequests: requests.get(fair === null ? "bare" : "fair") ?? "?",
  };
}

/** The bare SDK reference: connect, list tools, close. */
async function bareConnect(url: string, transport: "streamable-http" | "sse"): Promise<void> {
  const client = new Client(
    { name: "bench-bare", version: "1.0.0" },
    transport === "sse" ? {} : { versionNegotiation: { mode: "auto" } },
  );
  const connection = transport === "sse"
    ? new SSEClientTransport(new URL(url))
    : new StreamableHTTPClientTransport(new URL(url));
  try {
    await client.connect(connection, { timeout: TIMEOUT_MS });
    await client.listTools(undefined, { timeout: TIMEOUT_MS });
  } finally {
    await client.close();
  }
}

/**
 * The fair reference for a handshake-era Streamable HTTP server: the bare SDK's connect (with
 * `server/discover` first, as the probe's) and `tools/list`, then `ping` and the session DELETE.
 */
async function fairStreamableHandshake(url: string): Promise<void> {
  const client = new Client(
    { name: "bench-fair", version: "1.0.0" },
    { versionNegotiation: { mode: "auto" } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(url));
  try {
    await client.connect(transport, { timeout: TIMEOUT_MS });
    await client.listTools(undefined, { timeout: TIMEOUT_MS });
    if (client.getProtocolEra() === "legacy") await client.ping({ timeout: TIMEOUT_MS });
    await transport.terminateSession();
  } finally {
    await client.close();
  }
}

/**
 * The fair reference for an SSE-only server: the fallback the MCP specification describes and
 * the SDK documents: Streamable HTTP first (the server turns its POSTs down with a 4xx), then
 * the SSE transport, `tools/list`, and `ping`.
 */
async function fairSseFallback(url: string): Promise<void> {
  const streamable = new Client(
    { name: "bench-fair", version: "1.0.0" },
    { versionNegotiation: { mode: "auto" } },
  );
  let accepted = false;
  try {
    await streamable.connect(new StreamableHTTPClientTransport(new URL(url)), {
      timeout: TIMEOUT_MS,
    });
    accepted = true;
  } catch {
    // Turned down, as a legacy server does: on to SSE.
  } finally {
    await streamable.close();
  }
  if (accepted) throw new Error("the SSE-only server accepted Streamable HTTP");
  const client = new Client({ name: "bench-fair", version: "1.0.0" });
  try {
    await client.connect(new SSEClientTransport(new URL(url)), { timeout: TIMEOUT_MS });
    await client.listTools(undefined, { timeout: TIMEOUT_MS });
    await client.ping({ timeout: TIMEOUT_MS });
  } finally {
    await client.close();
  }
}

/** Runs `work` once, counting the requests it makes through the global `fetch`, by method. */
async function countRequests(work: () => Promise<unknown>): Promise<string> {
  const counts = new Map<string, number>();
  const original = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET"))
      .toUpperCase();
    counts.set(method, (counts.get(method) ?? 0) + 1);
    return original(input, init);
  };
  try {
    await work();
  } finally {
    globalThis.fetch = original;
  }
  return ["POST", "GET", "DELETE"]
    .filter((method) => counts.has(method))
    .map((method) => `${counts.get(method)} ${method}`)
    .join(" + ");
}

/** The median of `a[i] / b[i]`: each round's ratio, so that slow drift in load cancels out. */
function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return percentile(a.map((value, index) => value / (b[index] ?? Number.NaN)), 50);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** The rows as fixed-width tables: the timings, then what each variant sends. */
export function formatProbeBench(rows: readonly ProbeBenchRow[]): string {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const timing = table(
    [
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
      "fair p50",
      "fair p95",
      "probe/fair",
    ],
    rows.map((row) => [
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
      row.fairIsSeparate ? ms(row.fairMedianMs) : "= bare",
      row.fairIsSeparate ? ms(row.fairP95Ms) : "= bare",
      `${row.fairRatio.toFixed(2)}x`,
    ]),
  );
  const work = table(
    [
      "server",
      "paired probe/bare",
      "paired probe/fair",
      "probe latency p50",
      "probe requests",
      "bare requests",
      "fair requests",
      "work beyond bare (probe and fair)",
    ],
    rows.map((row) => [
      row.server,
      `${row.pairedRatio.toFixed(2)}x`,
      `${row.fairPairedRatio.toFixed(2)}x`,
      `${row.probeLatencyMedianMs} ms`,
      row.probeRequests,
      row.bareRequests,
      row.fairRequests,
      row.extraWork,
    ]),
  );
  return [
    timing,
    "",
    work,
    "",
    "bare: connect + tools/list + close. fair: the bare SDK doing the probe's protocol work.",
    "probe/bare, probe/fair: ratios of the medians; paired: the median of each round's ratio.",
    "probe latency: the result's `latency` (to the findings, before the session close).",
  ].join("\n");
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]?.length ?? 0))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...body.map(line)].join(
    "\n",
  );
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? String(DEFAULT_RUNS));
  const rows = await runProbeBench(Number.isInteger(runs) && runs > 0 ? runs : DEFAULT_RUNS);
  // deno-lint-ignore no-console
  console.log(formatProbeBench(rows));
}
