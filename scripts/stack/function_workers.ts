/**
 * The Edge Runtime's resource limits for one local function: its workers (Deno processes
 * running function_host.ts), supervised from the stack's process the way the platform's
 * supervisor watches an isolate, and past a limit terminated with the platform's answer.
 *
 * What the platform does (Supabase docs "Limits", "Status codes", "546 WORKER_LIMIT
 * Exceeded"; supabase/edge-runtime crates/base/src/worker/supervisor/strategy_per_worker.rs
 * and strategy_per_request.rs):
 *
 * | resource   | hosted                               | half-way: retire   | limit: terminate |
 * |------------|--------------------------------------|--------------------|------------------|
 * | CPU        | 2 s per request (I/O excluded)       | soft limit (1 s)   | hard limit (2 s) |
 * | memory     | 256 MB per worker                    | 128 MB             | 256 MB           |
 * | wall clock | 150 s free / 400 s paid, per worker  | half of it         | all of it        |
 *
 * A retired worker takes no new requests and ends when its requests are answered; a fresh
 * worker serves the next ones. A terminated worker's requests in flight are answered
 * **546** with `{"code": "WORKER_RESOURCE_LIMIT", "message": "Function failed due to not
 * having enough compute resources (please check logs)"}` and the header
 * `sb-error-code: WORKER_RESOURCE_LIMIT` (the docs' code since 2026-05; it was
 * `WORKER_LIMIT`), and the log names the limit ("CPU time hard limit reached", "Memory
 * limit exceeded", "wall clock time limit reached"). Separately, a request whose response
 * has not started within the request idle timeout (150 s) gets **504** (`sb-error-code:
 * IDLE_TIMEOUT`) and the worker lives on.
 *
 * How this model measures, and where it is exact or approximate:
 *
 * - CPU: the time the worker's main thread ran (`/proc/<pid>/task/<pid>/schedstat`, in ns,
 *   where V8 runs the function's JavaScript; I/O waits cost nothing, as on the platform),
 *   charged per request as the docs state it ("2 s per request") and as edge-runtime's
 *   per_request supervisor counts it (reset when a request starts): the CPU the worker used
 *   between two polls (every 25 ms) is shared equally by the requests in flight. Exact for
 *   requests one at a time (so a limit fires up to ~25 ms late; the platform arms a CPU
 *   timer); for overlapping requests the total is right and the split is even, so a
 *   request that burns CPU beside n - 1 waiting ones is stopped after up to n × the limit.
 *   (The per_worker supervisor sums a worker's whole life; locally that would retire the
 *   one worker far more often than hosted, where concurrent load spreads over isolates
 *   that boot in milliseconds.) Time spent idle between requests is charged to nobody;
 *   the worker's boot is not counted (an eszip boots in ms, a local `deno run` spends
 *   hundreds of ms loading modules). V8's helper threads (concurrent GC, compilation) are
 *   not counted; the platform's thread CPU timer does not count them either.
 * - Memory: the growth of the process's resident set over its size when ready (the platform
 *   counts the isolate's heap and external memory; a `deno run` process carries ~100 MB of
 *   runtime that an isolate shares with its host). V8's old space is also capped at the
 *   limit (`--max-old-space-size`), so a heap that outruns the poll ends the process, which
 *   is answered the same way.
 * - Wall clock: from when the worker was ready, exact to the poll.
 * - Retiring: a local worker boots in ~1 s where the platform's takes milliseconds, so a
 *   retired worker keeps taking new requests until its replacement is ready (then it only
 *   finishes its own); its hard limits still apply all along.
 * - Concurrency: one worker serves concurrent requests (as per_worker does); its CPU and
 *   memory are shared by them, so a terminated worker fails every request in flight.
 */
import { freePort, isPortOpen, type Service, waitFor } from "./processes.ts";

export interface EdgeRuntimeLimits {
  /** CPU ms of one request after which its worker is retired (the platform: half the hard). */
  cpuSoftLimitMs: number;
  /** CPU ms of one request after which its worker is terminated. */
  cpuHardLimitMs: number;
  /** Memory after which a worker is terminated (retired at half). */
  memoryLimitMb: number;
  /** Life of a worker (retired at half, terminated at the end). */
  wallClockLimitMs: number;
  /** A request whose response has not started by then gets 504. */
  requestIdleTimeoutMs: number;
}

/** The hosted platform's limits (free plan wall clock). */
export const HOSTED_LIMITS: EdgeRuntimeLimits = {
  cpuSoftLimitMs: 1_000,
  cpuHardLimitMs: 2_000,
  memoryLimitMb: 256,
  wallClockLimitMs: 150_000,
  requestIdleTimeoutMs: 150_000,
};

/** Environment variables of the stack's process that override a limit (e.g. the paid plan). */
export const LIMIT_VARIABLES: Record<string, keyof EdgeRuntimeLimits> = {
  EDGE_RUNTIME_CPU_SOFT_LIMIT_MS: "cpuSoftLimitMs",
  EDGE_RUNTIME_CPU_HARD_LIMIT_MS: "cpuHardLimitMs",
  EDGE_RUNTIME_MEMORY_LIMIT_MB: "memoryLimitMb",
  EDGE_RUNTIME_WALL_CLOCK_LIMIT_MS: "wallClockLimitMs",
  EDGE_RUNTIME_REQUEST_IDLE_TIMEOUT_MS: "requestIdleTimeoutMs",
};

/** The limits set in `env` (see LIMIT_VARIABLES); throws on a value that is not a positive integer. */
export function limitsFromEnvironment(
  env: Record<string, string | undefined>,
): Partial<EdgeRuntimeLimits> {
  const limits: Partial<EdgeRuntimeLimits> = {};
  for (const [name, key] of Object.entries(LIMIT_VARIABLES)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) {
      throw new Error(`${name}=${value}: must be a positive whole number`);
    }
    limits[key] = n;
  }
  return limits;
}

/** The platform's 546 body and error code. */
export const WORKER_LIMIT_STATUS = 546;
export const WORKER_LIMIT_BODY = {
  code: "WORKER_RESOURCE_LIMIT",
  message: "Function failed due to not having enough compute resources (please check logs)",
} as const;

/** How often a worker's CPU, memory and age are read. */
const POLL_MS = 25;
/** How often an idle worker (no request in flight) is read. */
const IDLE_POLL_MS = 250;
const PAGE_SIZE = 4096;

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ code, message }, { status, headers: { "sb-error-code": code } });
}

export function workerLimitResponse(): Response {
  return errorResponse(WORKER_LIMIT_STATUS, WORKER_LIMIT_BODY.code, WORKER_LIMIT_BODY.message);
}

let clockTicksPerSecond: number | null = null;
async function ticksPerSecond(): Promise<number> {
  if (clockTicksPerSecond !== null) return clockTicksPerSecond;
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    clockTicksPerSecond = Number(new TextDecoder().decode(out.stdout).trim()) || 100;
  } catch {
    clockTicksPerSecond = 100;
  }
  return clockTicksPerSecond;
}

/**
 * CPU ms of a process's main thread, or null when it is gone: from `schedstat` (the time the
 * scheduler ran the thread, in ns), else from `stat` (user + system, in clock ticks).
 */
export async function mainThreadCpuMs(pid: number): Promise<number | null> {
  try {
    const ns = Number(
      (await Deno.readTextFile(`/proc/${pid}/task/${pid}/schedstat`)).split(" ")[0],
    );
    if (Number.isFinite(ns)) return ns / 1e6;
  } catch {
    // no schedstat (or the process is gone): try stat
  }
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / await ticksPerSecond();
  } catch {
    return null;
  }
}

/** Resident set of a process in bytes, or null when it is gone. */
async function residentBytes(pid: number): Promise<number | null> {
  try {
    const fields = (await Deno.readTextFile(`/proc/${pid}/statm`)).split(" ");
    return Number(fields[1]) * PAGE_SIZE;
  } catch {
    return null;
  }
}

/** Counters of one function's workers, for benchmarks and tests. */
export interface WorkerStats {
  /** Workers started so far (the first one included). */
  started: number;
  /** Workers terminated for a limit, by reason. */
  terminated: Record<string, number>;
  /** Workers retired at a soft limit, by reason. */
  retired: Record<string, number>;
  /** Requests answered by a worker (any status). */
  requests: number;
  /** CPU ms of every worker's main thread since it was ready, ended workers included. */
  cpuMs: number;
  /** Pid of the worker taking new requests, if one is ready. */
  currentPid: number | null;
  /** Whether that worker is retired (it serves until its replacement is ready). */
  currentRetired: boolean;
}

class Worker {
  readonly origin: string;
  inFlight = 0;
  /** The CPU ms charged so far to each request in flight (see the header). */
  readonly charges = new Set<{ cpuMs: number }>();
  /** The worker's CPU ms when the charges were last brought up to date. */
  chargedUpTo = 0;
  retiredFor: string | null = null;
  terminatedFor: string | null = null;
  cpuBaselineMs = 0;
  cpuMs = 0;
  rssBaseline = 0;
  rss = 0;
  readyAt = 0;
  /** Aborts each request in flight (called when the worker is terminated or dies). */
  readonly aborts = new Set<() => void>();

  constructor(readonly service: Service, readonly port: number) {
    this.origin = `http://127.0.0.1:${port}`;
  }

  markTerminated(reason: string): void {
    if (this.terminatedFor !== null) return;
    this.terminatedFor = reason;
    for (const abort of this.aborts) abort();
  }
}

export interface FunctionWorkersOptions {
  name: string;
  /** Starts a worker process serving on 127.0.0.1:port. */
  spawn: (port: number, v8Flags: string[]) => Service;
  limits?: Partial<EdgeRuntimeLimits>;
  /** A line for the function's log ("CPU time hard limit reached", ...). */
  log?: (line: string) => void;
  /** How long a worker may take to boot. */
  bootTimeoutMs?: number;
}

/** One function's workers: routes requests to the current one and enforces the limits. */
export class FunctionWorkers {
  readonly limits: EdgeRuntimeLimits;
  #current: Worker | null = null;
  #booting: Promise<Worker> | null = null;
  #all = new Set<Worker>();
  #stopped = false;
  #stats = { started: 0, requests: 0, cpuMsEnded: 0 };
  #terminatedBy: Record<string, number> = {};
  #retiredBy: Record<string, number> = {};

  constructor(readonly options: FunctionWorkersOptions) {
    this.limits = { ...HOSTED_LIMITS, ...options.limits };
  }

  /** Boots the first worker; throws when it cannot boot. */
  async start(): Promise<void> {
    await this.#ready();
  }

  stats(): WorkerStats {
    let live = 0;
    for (const worker of this.#all) live += worker.cpuMs;
    return {
      started: this.#stats.started,
      terminated: { ...this.#terminatedBy },
      retired: { ...this.#retiredBy },
      requests: this.#stats.requests,
      cpuMs: this.#stats.cpuMsEnded + live,
      currentPid: this.#current?.service.pid ?? null,
      currentRetired: (this.#current?.retiredFor ?? null) !== null,
    };
  }

  /** Reads every live worker's CPU now (benchmarks call it before stats()). */
  async refresh(): Promise<void> {
    await Promise.all([...this.#all].map((worker) => this.#measure(worker)));
  }

  /** Forwards a request (path and query as the function sees them) to a worker. */
  async fetch(
    pathAndQuery: string,
    init: { method: string; headers: Headers; body: ReadableStream<Uint8Array> | null },
    clientSignal?: AbortSignal,
  ): Promise<Response> {
    let worker: Worker;
    try {
      worker = await this.#ready();
    } catch {
      return errorResponse(503, "BOOT_ERROR", "Worker failed to boot (please check logs)");
    }
    worker.inFlight++;
    const charge = { cpuMs: 0 };
    worker.charges.add(charge);
    const controller = new AbortController();
    const abort = () => controller.abort();
    worker.aborts.add(abort);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      worker.inFlight--;
      worker.charges.delete(charge);
      worker.aborts.delete(abort);
      this.#stats.requests++;
      this.#maybeEnd(worker);
    };
    let idle = false;
    const timer = setTimeout(() => {
      idle = true;
      controller.abort();
    }, this.limits.requestIdleTimeoutMs);
    const onClientAbort = () => controller.abort();
    clientSignal?.addEventListener("abort", onClientAbort, { once: true });
    try {
      const answer = await fetch(worker.origin + pathAndQuery, {
        method: init.method,
        headers: init.headers,
        body: init.body,
        redirect: "manual",
        signal: controller.signal,
      });
      const body = answer.body ? trackBody(answer.body, release) : null;
      if (!body) release();
      return new Response(body, {
        status: answer.status,
        statusText: answer.statusText,
        headers: answer.headers,
      });
    } catch (error) {
      release();
      if (worker.terminatedFor !== null) return workerLimitResponse();
      if (idle) {
        return errorResponse(
          504,
          "IDLE_TIMEOUT",
          "Function did not send a response before the request idle timeout",
        );
      }
      const message = error instanceof Error ? error.message : String(error);
      return errorResponse(502, "BAD_GATEWAY", `function unreachable: ${message}`);
    } finally {
      clearTimeout(timer);
      clientSignal?.removeEventListener("abort", onClientAbort);
    }
  }

  /** Stops every worker. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#all].map((worker) => worker.service.stop("SIGTERM")));
  }

  /** The worker that takes new requests; boots one when there is none. */
  #ready(): Promise<Worker> {
    if (this.#current && this.#current.terminatedFor === null) {
      // A retired worker still serves until its replacement is ready (see the header).
      // (A replacement that fails to boot is retried by the next request.)
      if (this.#current.retiredFor !== null) this.#replace().catch(() => {});
      return Promise.resolve(this.#current);
    }
    return this.#replace();
  }

  /** Boots a replacement (once at a time); it becomes current when ready. */
  #replace(): Promise<Worker> {
    if (this.#booting) return this.#booting;
    const booting = this.#boot().then((worker) => {
      const previous = this.#current;
      this.#current = worker;
      if (previous && previous !== worker) this.#maybeEnd(previous);
      return worker;
    }).finally(() => {
      if (this.#booting === booting) this.#booting = null;
    });
    this.#booting = booting;
    return booting;
  }

  async #boot(): Promise<Worker> {
    if (this.#stopped) throw new Error(`function ${this.options.name}: the stack is stopping`);
    const port = freePort();
    const v8Flags = [`--max-old-space-size=${this.limits.memoryLimitMb}`];
    const worker = new Worker(this.options.spawn(port, v8Flags), port);
    this.#stats.started++;
    this.#all.add(worker);
    worker.service.status.then((status) => {
      if (!this.#all.has(worker)) return;
      // Died on its own (V8 out of memory, a crash): what was in flight gets the 546.
      if (worker.terminatedFor === null && !this.#stopped && worker.retiredFor === null) {
        this.#log(`worker ${worker.service.pid} exited (code ${status.code})`);
      }
      this.#forget(worker, `exited (code ${status.code})`);
    });
    try {
      await waitFor(`function ${this.options.name}`, () => isPortOpen(port), {
        service: worker.service,
        timeoutMs: this.options.bootTimeoutMs ?? 60_000,
      });
    } catch (error) {
      this.#forget(worker, "boot failed");
      await worker.service.stop("SIGKILL");
      throw error;
    }
    worker.readyAt = performance.now();
    worker.cpuBaselineMs = (await mainThreadCpuMs(worker.service.pid)) ?? 0;
    worker.rssBaseline = (await residentBytes(worker.service.pid)) ?? 0;
    this.#watch(worker);
    return worker;
  }

  #forget(worker: Worker, reason: string): void {
    worker.markTerminated(reason);
    if (!this.#all.delete(worker)) return;
    this.#stats.cpuMsEnded += worker.cpuMs;
    if (this.#current === worker) this.#current = null;
  }

  /** Reads CPU and memory; returns false once the worker is gone. */
  async #measure(worker: Worker): Promise<boolean> {
    const pid = worker.service.pid;
    const [cpu, rss] = await Promise.all([mainThreadCpuMs(pid), residentBytes(pid)]);
    if (cpu === null || rss === null || worker.terminatedFor !== null) return false;
    worker.cpuMs = Math.max(0, cpu - worker.cpuBaselineMs);
    worker.rss = rss;
    return true;
  }

  #watch(worker: Worker): void {
    const limits = this.limits;
    const memoryLimit = limits.memoryLimitMb * 1024 * 1024;
    const tick = async () => {
      if (!(await this.#measure(worker))) return;
      const grown = worker.rss - worker.rssBaseline;
      const age = performance.now() - worker.readyAt;
      // The CPU used since the last poll is shared equally by the requests in flight.
      const used = worker.cpuMs - worker.chargedUpTo;
      worker.chargedUpTo = worker.cpuMs;
      let charged = 0;
      for (const charge of worker.charges) {
        charge.cpuMs += used / worker.charges.size;
        charged = Math.max(charged, charge.cpuMs);
      }
      if (charged >= limits.cpuHardLimitMs) {
        return this.#terminate(worker, "CPU time hard limit reached");
      }
      if (grown >= memoryLimit) return this.#terminate(worker, "Memory limit exceeded");
      if (age >= limits.wallClockLimitMs) {
        return this.#terminate(worker, "wall clock time limit reached");
      }
      if (charged >= limits.cpuSoftLimitMs) {
        this.#retire(worker, "CPU time soft limit reached");
      } else if (grown >= memoryLimit / 2) this.#retire(worker, "memory half-way");
      else if (age >= limits.wallClockLimitMs / 2) this.#retire(worker, "wall clock half-way");
      const busy = worker.inFlight > 0 || worker.retiredFor !== null;
      setTimeout(tick, busy ? POLL_MS : IDLE_POLL_MS);
    };
    setTimeout(tick, POLL_MS);
  }

  #retire(worker: Worker, reason: string): void {
    if (worker.retiredFor !== null || this.#stopped) return;
    worker.retiredFor = reason;
    this.#retiredBy[reason] = (this.#retiredBy[reason] ?? 0) + 1;
    // Recycling at half the wall clock is routine (every 75 s by default): not logged.
    if (!reason.startsWith("wall clock")) {
      this.#log(
        `${reason}: worker ${worker.service.pid} retired (${Math.round(worker.cpuMs)} ms CPU)`,
      );
    }
    if (this.#current === worker) this.#replace().catch(() => {});
    this.#maybeEnd(worker);
  }

  #terminate(worker: Worker, reason: string): void {
    if (worker.terminatedFor !== null) return;
    this.#terminatedBy[reason] = (this.#terminatedBy[reason] ?? 0) + 1;
    const quiet = worker.inFlight === 0;
    if (!quiet || !reason.startsWith("wall clock")) {
      this.#log(
        `${reason}: worker ${worker.service.pid} terminated, ${worker.inFlight} request(s) ` +
          `answered ${WORKER_LIMIT_STATUS} (${Math.round(worker.cpuMs)} ms CPU)`,
      );
    }
    this.#forget(worker, reason);
    worker.service.stop("SIGKILL").catch(() => {});
  }

  /** Ends a retired worker (or one replaced) once its last request is answered. */
  #maybeEnd(worker: Worker): void {
    if (worker.inFlight > 0 || worker.terminatedFor !== null) return;
    if (this.#current === worker && worker.retiredFor === null) return;
    if (this.#current === worker) return; // still serving until its replacement is ready
    this.#forget(worker, worker.retiredFor ?? "replaced");
    // As on the platform, work handed to EdgeRuntime.waitUntil() may finish first, within
    // the worker's wall clock: the host exits on SIGTERM once that work has settled.
    const wallClockLeft = this.limits.wallClockLimitMs -
      (performance.now() - worker.readyAt);
    worker.service.stop("SIGTERM", Math.max(wallClockLeft, 1_000)).catch(() => {});
  }

  #log(line: string): void {
    this.options.log?.(`[${this.options.name}] ${line}`);
  }
}

/** A response body that calls `done` once when it ends, fails or is cancelled. */
function trackBody(
  body: ReadableStream<Uint8Array>,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: ended } = await reader.read();
        if (ended) {
          done();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
}
