/**
 * Requests and CPU per probe by server kind (issue 13, item 6), without and with the hint of
 * what the server spoke last time, and optionally with an older tree's probe beside them:
 *
 *     deno run -A bench/probe_cost.ts [runs] [older shared/mcp/mod.ts path] [server filter] [rounds]
 *
 * Each variant runs in a child process of its own (bench/probe_cost_child.ts), so the CPU is
 * the probe's alone: the servers run in this process (server-everything in its own). The
 * variants of a server kind run one after the other against the same server, `rounds` times
 * (default 1) in turn, and each line gives the median of its rounds: on a loaded machine, a few
 * rounds make the current tree and the older one comparable (the load changes between them).
 */
import type { ProbeCost } from "./probe_cost_child.ts";
import {
  startHandshakeServer,
  startLegacySseServer,
  startModernServer,
  startServerEverything,
} from "../tests/_support/mcp_servers.ts";

const CHILD = new URL("./probe_cost_child.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);
const CURRENT = new URL("../shared/mcp/mod.ts", import.meta.url).href;

interface Kind {
  readonly server: string;
  readonly start: () => Promise<{ url: string; close(): Promise<void> }>;
  readonly hint: { era: string; transport: string };
}

const KINDS: readonly Kind[] = [
  {
    server: "modern SDK server",
    start: () => startModernServer({ tools: 13 }),
    hint: { era: "modern", transport: "streamable-http" },
  },
  {
    server: "handshake SDK server",
    start: () => startHandshakeServer({ tools: 13 }),
    hint: { era: "legacy", transport: "streamable-http" },
  },
  {
    server: "legacy SSE server",
    start: () => startLegacySseServer({ tools: 13 }),
    hint: { era: "legacy", transport: "sse" },
  },
  {
    server: "server-everything streamableHttp",
    start: () => startServerEverything("streamableHttp"),
    hint: { era: "legacy", transport: "streamable-http" },
  },
  {
    server: "server-everything sse",
    start: () => startServerEverything("sse"),
    hint: { era: "legacy", transport: "sse" },
  },
];

async function measure(
  moduleUrl: string,
  url: string,
  runs: number,
  hint: object | null,
): Promise<ProbeCost> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "-A",
      `--config=${CONFIG.pathname}`,
      CHILD.pathname,
      moduleUrl,
      url,
      String(runs),
      hint === null ? "" : JSON.stringify(hint),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success || text === "") {
    throw new Error(`probe cost child failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(text) as ProbeCost;
}

/** The round of median CPU (its wall time and requests with it). */
function median(costs: readonly ProbeCost[]): ProbeCost {
  return [...costs].sort((a, b) => a.cpuMicros - b.cpuMicros)[Math.floor(costs.length / 2)]!;
}

function requests(cost: ProbeCost): string {
  const total = Object.values(cost.requests).reduce((sum, n) => sum + n, 0);
  const parts = ["POST", "GET", "DELETE"].filter((m) => cost.requests[m] !== undefined)
    .map((m) => `${cost.requests[m]} ${m}`);
  return `${total} (${parts.join(" + ")})`;
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? "50");
  const older = Deno.args[1] === undefined ? null : new URL(Deno.args[1], `file://${Deno.cwd()}/`);
  const lines: string[] = [];
  const filter = Deno.args[2] ?? "";
  const rounds = Number(Deno.args[3] ?? "1");
  for (const kind of KINDS.filter((candidate) => candidate.server.includes(filter))) {
    const server = await kind.start();
    try {
      const variants: [string, string, object | null][] = [
        ["no hint", CURRENT, null],
        ...(older === null
          ? []
          : [["before (older tree)", older.href, null] as [string, string, null]]),
        ["no hint", CURRENT, null],
        ["hint", CURRENT, kind.hint],
      ];
      const costs: ProbeCost[][] = variants.map(() => []);
      for (let round = 0; round < rounds; round++) {
        for (const [index, [, moduleUrl, hint]] of variants.entries()) {
          costs[index]!.push(await measure(moduleUrl, server.url, runs, hint));
        }
      }
      for (const [index, [name]] of variants.entries()) {
        const cost = median(costs[index]!);
        lines.push(
          [
            kind.server.padEnd(34),
            name.padEnd(20),
            `${cost.success ? "ok" : "FAILED"} ${cost.transport}`.padEnd(20),
            requests(cost).padEnd(30),
            `${(cost.cpuMicros / 1000).toFixed(2)} ms CPU`.padEnd(16),
            `${cost.wallMs.toFixed(2)} ms wall`,
          ].join(" "),
        );
        // deno-lint-ignore no-console
        console.log(lines.at(-1));
      }
    } finally {
      await server.close();
    }
  }
}
