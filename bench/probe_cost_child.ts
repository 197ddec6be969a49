/**
 * One server kind's probe cost, measured in a process of its own so that the server's CPU is
 * not counted (bench/probe_cost.ts starts it):
 *
 *     deno run -A bench/probe_cost_child.ts <probe module URL> <server URL> <runs> [hint JSON]
 *
 * Imports `probe` from the given module (this tree's shared/mcp/mod.ts, or an older tree's, to
 * compare), warms up, then probes `runs` times one after the other and prints one JSON line:
 * requests per probe by method, CPU microseconds per probe (user + system, this process) and
 * wall milliseconds per probe.
 */
import process from "node:process";
import { parseNetworkPolicy } from "../shared/mcp/mod.ts";

/** What the child prints. */
export interface ProbeCost {
  readonly requests: Record<string, number>;
  readonly cpuMicros: number;
  readonly wallMs: number;
  readonly success: boolean;
  readonly transport: string | null;
}

type ProbeFn = (url: string, options: Record<string, unknown>) => Promise<{
  success: boolean;
  transport: string | null;
}>;

const WARM_UP = 10;

if (import.meta.main) {
  const [moduleUrl = "", url = "", runsText = "50", hintText = ""] = Deno.args;
  const { probe } = await import(moduleUrl) as { probe: ProbeFn };
  const options: Record<string, unknown> = {
    networkPolicy: parseNetworkPolicy("127.0.0.0/8"),
    ...(hintText === "" ? {} : { hint: JSON.parse(hintText) }),
  };
  let last = { success: false, transport: null as string | null };
  for (let index = 0; index < WARM_UP; index++) last = await probe(url, options);
  const counts: Record<string, number> = {};
  const original = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const method = (init?.method ?? "GET").toUpperCase();
    counts[method] = (counts[method] ?? 0) + 1;
    return original(input, init);
  };
  const runs = Number(runsText);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  for (let index = 0; index < runs; index++) last = await probe(url, options);
  const wall = performance.now() - wallBefore;
  const cpu = process.cpuUsage(cpuBefore);
  globalThis.fetch = original;
  const cost: ProbeCost = {
    requests: Object.fromEntries(Object.entries(counts).map(([m, n]) => [m, n / runs])),
    cpuMicros: (cpu.user + cpu.system) / runs,
    wallMs: wall / runs,
    success: last.success,
    transport: last.transport,
  };
  await Deno.stdout.write(new TextEncoder().encode(`${JSON.stringify(cost)}\n`));
  // An older tree's probe may leave SSE reads behind that keep the process alive for good
  // (issue 13, item 5): the figures are out, so end here.
  Deno.exit(0);
}
