/**
 * HTTP load with autocannon (pinned in deno.json), from this machine to 127.0.0.1 only, run in a
 * child process (bench/load_worker.ts) so that the load generator does not share the runner's
 * event loop, where the stack's gateway runs.
 */
import { fileURLToPath } from "node:url";

/** What to send, how hard and for how long at most. */
export interface LoadSpec {
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  /** Concurrent connections. */
  connections: number;
  /** Requests in all. */
  amount: number;
  /** The run is stopped after this many seconds (and marked `capped`). */
  maxSeconds: number;
  timeoutSeconds: number;
}

export interface LoadOutcome {
  /** Responses received. */
  completed: number;
  /** 2xx responses. */
  ok: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Stopped by `maxSeconds` before `amount` responses. */
  capped: boolean;
  /** First request to last response. */
  elapsedMs: number;
  /** 2xx responses per second. */
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
}

const WORKER = fileURLToPath(new URL("./load_worker.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/** Runs one load and returns what the worker measured. */
export async function runLoad(spec: LoadSpec): Promise<LoadOutcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--no-prompt", "--config", CONFIG, WORKER],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(spec)));
  await writer.close();
  const output = await child.output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      `load worker exited with ${output.code}: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const last = stdout.split("\n").at(-1) ?? "";
  return JSON.parse(last) as LoadOutcome;
}

/** Why a load run cannot be trusted, or null: every request answered 2xx, none lost. */
export function loadProblem(outcome: LoadOutcome, amount: number): string | null {
  if (outcome.capped) return `stopped at the time cap after ${outcome.completed} of ${amount}`;
  if (outcome.errors || outcome.timeouts) {
    return `${outcome.errors} errors, ${outcome.timeouts} timeouts`;
  }
  if (outcome.ok !== amount) {
    return `${outcome.ok} of ${amount} answered 2xx (${JSON.stringify(outcome.statuses)})`;
  }
  return null;
}
