/**
 * The local function host holds a function to the Edge Runtime's limits and environment:
 * past its CPU, memory or wall-clock limit the worker is terminated and the caller gets the
 * platform's 546; a request with no answer by the idle timeout gets 504; a fresh worker
 * serves what comes next; a function sees the platform's variables and its secrets, no more.
 * A tiny fixture function (tests/_support/functions/limits/index.ts) with small limits.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createGatewayHandler } from "../../../scripts/stack/gateway.ts";
import {
  functionEnvironment,
  PLATFORM_VARIABLES,
  platformEnvironment,
} from "../../../scripts/stack/function_environment.ts";
import {
  type EdgeRuntimeLimits,
  FunctionWorkers,
  HOSTED_LIMITS,
  limitsFromEnvironment,
  WORKER_LIMIT_BODY,
} from "../../../scripts/stack/function_workers.ts";
import { LOCAL_API_KEYS } from "../../../scripts/stack/keys.ts";
import { projectRootFromHere } from "../../../scripts/stack/project_config.ts";
import { functionWorkerSpawner } from "../../../scripts/stack/stack.ts";

const ROOT = projectRootFromHere();
const FIXTURE = join(ROOT, "tests/_support/functions/limits/index.ts");
const GENEROUS: EdgeRuntimeLimits = {
  cpuSoftLimitMs: 60_000,
  cpuHardLimitMs: 120_000,
  memoryLimitMb: 1_024,
  wallClockLimitMs: 600_000,
  requestIdleTimeoutMs: 600_000,
};

interface Harness {
  workers: FunctionWorkers;
  logLines: string[];
  get(path: string): Promise<{ status: number; body: unknown; errorCode: string | null }>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The fixture function behind a gateway handler, with these limits and secrets. */
async function startFixture(
  limits: Partial<EdgeRuntimeLimits>,
  secrets: Record<string, string> = {},
): Promise<Harness> {
  const logDir = await Deno.makeTempDir({ prefix: "function-workers-" });
  const functionEnv = functionEnvironment(
    platformEnvironment({
      url: "http://127.0.0.1:9",
      dbUrl: "postgresql://postgres:postgres@127.0.0.1:9/postgres",
      keys: LOCAL_API_KEYS,
    }),
    secrets,
  );
  const logLines: string[] = [];
  const workers = new FunctionWorkers({
    name: "limits",
    limits: { ...GENEROUS, ...limits },
    log: (line) => logLines.push(line),
    spawn: functionWorkerSpawner({
      projectRoot: ROOT,
      fn: { name: "limits", verifyJwt: false, entrypoint: FIXTURE },
      functionEnv,
      log: { file: join(logDir, "limits.log") },
    }),
  });
  const handler = createGatewayHandler({
    rest: "http://127.0.0.1:9",
    functions: new Map([["limits", { upstream: workers, verifyJwt: false }]]),
  }, LOCAL_API_KEYS);
  try {
    await workers.start();
  } catch (error) {
    await workers.stop();
    throw error;
  }
  return {
    workers,
    logLines,
    async get(path) {
      const response = await handler(new Request(`http://127.0.0.1:54321/functions/v1${path}`));
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: response.status, body, errorCode: response.headers.get("sb-error-code") };
    },
    async [Symbol.asyncDispose]() {
      await workers.stop();
      await Deno.remove(logDir, { recursive: true }).catch(() => {});
    },
  };
}

function pidOf(body: unknown): number {
  const pid = (body as { pid?: unknown }).pid;
  assert.equal(typeof pid, "number", `a pid in ${JSON.stringify(body)}`);
  return pid as number;
}

/** Asks /limits/ok until a worker other than `pid` answers (a retired one hands over). */
async function servedByAnotherWorker(fixture: Harness, pid: number): Promise<number> {
  for (;;) {
    const ok = await fixture.get("/limits/ok");
    assert.equal(ok.status, 200);
    if (pidOf(ok.body) !== pid) return pidOf(ok.body);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function assertWorkerLimit(answer: { status: number; body: unknown; errorCode: string | null }) {
  assert.equal(answer.status, 546, JSON.stringify(answer.body));
  assert.deepEqual(answer.body, WORKER_LIMIT_BODY);
  assert.equal(answer.errorCode, "WORKER_RESOURCE_LIMIT");
}

Deno.test("a worker past its CPU hard limit is terminated: 546, then a fresh worker", async () => {
  await using fixture = await startFixture({ cpuSoftLimitMs: 150, cpuHardLimitMs: 300 });
  const first = pidOf((await fixture.get("/limits/ok")).body);
  assertWorkerLimit(await fixture.get("/limits/burn?ms=5000"));
  assert.deepEqual(fixture.workers.stats().terminated, { "CPU time hard limit reached": 1 });
  assert.ok(fixture.logLines.some((line) => line.includes("CPU time hard limit reached")));
  const next = await fixture.get("/limits/ok");
  assert.equal(next.status, 200);
  assert.notEqual(pidOf(next.body), first, "a new worker answers");
  assert.equal(fixture.workers.stats().started, 2);
});

Deno.test("a worker past its CPU soft limit finishes its request, then retires", async () => {
  await using fixture = await startFixture({ cpuSoftLimitMs: 100, cpuHardLimitMs: 10_000 });
  const burn = await fixture.get("/limits/burn?ms=400");
  assert.equal(burn.status, 200, "the request that crossed the soft limit is answered");
  const retiredPid = pidOf(burn.body);
  await servedByAnotherWorker(fixture, retiredPid);
  assert.deepEqual(fixture.workers.stats().retired, { "CPU time soft limit reached": 1 });
  assert.deepEqual(fixture.workers.stats().terminated, {});
});

Deno.test("a retired worker finishes its EdgeRuntime.waitUntil() work before it ends", async () => {
  const called = Promise.withResolvers<void>();
  await using listener = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    called.resolve();
    return new Response("ok");
  });
  await using fixture = await startFixture({ cpuSoftLimitMs: 100, cpuHardLimitMs: 10_000 });
  // Crosses the soft limit (the worker retires) and leaves work for 1.5 s after its answer.
  const later = await fixture.get(
    `/limits/later?burn=400&ms=1500&url=http://127.0.0.1:${listener.addr.port}/`,
  );
  assert.equal(later.status, 200);
  await servedByAnotherWorker(fixture, pidOf(later.body));
  // The retired worker makes its background call before it ends (a worker ended at once
  // never would: the guard fails the test instead of hanging it).
  let guard: ReturnType<typeof setTimeout> | undefined;
  const made = await Promise.race([
    called.promise.then(() => true),
    new Promise<false>((resolve) => guard = setTimeout(() => resolve(false), 20_000)),
  ]);
  clearTimeout(guard);
  assert.equal(made, true, "the background call was made");
  assert.deepEqual(fixture.workers.stats().retired, { "CPU time soft limit reached": 1 });
});

Deno.test("CPU is charged per request: requests under the limit never add up to it", async () => {
  await using fixture = await startFixture({ cpuSoftLimitMs: 200, cpuHardLimitMs: 400 });
  const pids = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const burn = await fixture.get("/limits/burn?ms=80");
    assert.equal(burn.status, 200);
    pids.add(pidOf(burn.body));
  }
  assert.equal(pids.size, 1, "8 × 80 ms of CPU on one worker, over 400 ms in all");
  assert.deepEqual(fixture.workers.stats().terminated, {});
  assert.deepEqual(fixture.workers.stats().retired, {});
  await fixture.workers.refresh();
  const total = fixture.workers.stats().cpuMs;
  assert.ok(total > 400, `the worker used ${total} ms in all, more than the hard limit`);
});

Deno.test("requests in flight together share the worker's CPU between them", async () => {
  await using fixture = await startFixture({ cpuSoftLimitMs: 250, cpuHardLimitMs: 300 });
  // 3 × 120 ms: more than the limit in all, and each request is in flight the whole time.
  const burns = await Promise.all([1, 2, 3].map(() => fixture.get("/limits/burn?ms=120")));
  assert.deepEqual(burns.map((b) => b.status), [200, 200, 200]);
  assert.deepEqual(fixture.workers.stats().terminated, {});
});

Deno.test("a worker past its memory limit is terminated: 546, then a fresh worker", async () => {
  await using fixture = await startFixture({ memoryLimitMb: 64 });
  const first = pidOf((await fixture.get("/limits/ok")).body);
  assertWorkerLimit(await fixture.get("/limits/allocate?mb=300"));
  assert.deepEqual(fixture.workers.stats().terminated, { "Memory limit exceeded": 1 });
  const next = await fixture.get("/limits/ok");
  assert.equal(next.status, 200);
  assert.notEqual(pidOf(next.body), first);
});

Deno.test("a worker past its wall-clock limit is terminated: 546 for what is in flight", async () => {
  await using fixture = await startFixture({ wallClockLimitMs: 3_000 });
  const first = pidOf((await fixture.get("/limits/ok")).body);
  assertWorkerLimit(await fixture.get("/limits/sleep?ms=60000"));
  assert.equal(fixture.workers.stats().terminated["wall clock time limit reached"], 1);
  const next = await fixture.get("/limits/ok");
  assert.equal(next.status, 200);
  assert.notEqual(pidOf(next.body), first);
});

Deno.test("no response by the request idle timeout: 504, and the worker lives on", async () => {
  await using fixture = await startFixture({ requestIdleTimeoutMs: 500 });
  const first = pidOf((await fixture.get("/limits/ok")).body);
  const slow = await fixture.get("/limits/sleep?ms=5000");
  assert.equal(slow.status, 504);
  assert.equal(slow.errorCode, "IDLE_TIMEOUT");
  const next = await fixture.get("/limits/ok");
  assert.equal(pidOf(next.body), first, "the same worker");
  assert.deepEqual(fixture.workers.stats().terminated, {});
});

Deno.test("requests within the hosted limits are unaffected", async () => {
  await using fixture = await startFixture({
    cpuSoftLimitMs: 1_000,
    cpuHardLimitMs: 2_000,
    memoryLimitMb: 256,
    wallClockLimitMs: 150_000,
    requestIdleTimeoutMs: 150_000,
  });
  const pids = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const ok = await fixture.get("/limits/ok");
    assert.equal(ok.status, 200);
    pids.add(pidOf(ok.body));
  }
  const burn = await fixture.get("/limits/burn?ms=100");
  assert.equal(burn.status, 200);
  pids.add(pidOf(burn.body));
  assert.equal(pids.size, 1, "one worker served them all");
  assert.deepEqual(fixture.workers.stats().terminated, {});
  assert.deepEqual(fixture.workers.stats().retired, {});
  assert.ok(fixture.workers.stats().requests >= 21);
});

Deno.test("a function sees the platform's variables and its secrets, no more", async () => {
  await using fixture = await startFixture({}, { MY_SECRET: "s3cret" });
  const env = await fixture.get("/limits/env");
  assert.equal(env.status, 200);
  assert.deepEqual(
    (env.body as { names: string[] }).names,
    [...PLATFORM_VARIABLES, "MY_SECRET"].sort(),
  );
});

Deno.test("functionEnvironment() refuses secrets named like the platform's", () => {
  const platform = platformEnvironment({
    url: "http://127.0.0.1:9",
    dbUrl: "postgresql://x",
    keys: LOCAL_API_KEYS,
  });
  assert.throws(() => functionEnvironment(platform, { SUPABASE_URL: "x" }), /reserved/);
  assert.throws(() => functionEnvironment(platform, { "BAD NAME": "x" }), /not a valid/);
  assert.deepEqual(
    Object.keys(functionEnvironment(platform, {})).sort(),
    [...PLATFORM_VARIABLES].sort(),
  );
  assert.ok(
    !("JWT_SECRET" in functionEnvironment(platform, {})),
    "no legacy JWT secret by default",
  );
});

Deno.test("limitsFromEnvironment() reads EDGE_RUNTIME_* overrides and refuses bad values", () => {
  assert.deepEqual(limitsFromEnvironment({}), {});
  assert.deepEqual(
    limitsFromEnvironment({
      EDGE_RUNTIME_WALL_CLOCK_LIMIT_MS: "400000",
      EDGE_RUNTIME_CPU_HARD_LIMIT_MS: "2000",
    }),
    { wallClockLimitMs: 400_000, cpuHardLimitMs: 2_000 },
  );
  assert.throws(() => limitsFromEnvironment({ EDGE_RUNTIME_MEMORY_LIMIT_MB: "lots" }), /positive/);
  assert.throws(() => limitsFromEnvironment({ EDGE_RUNTIME_MEMORY_LIMIT_MB: "-1" }), /positive/);
  // The hosted defaults: 2 s CPU (retired at half), 256 MB, 150 s wall clock and idle timeout.
  assert.deepEqual(HOSTED_LIMITS, {
    cpuSoftLimitMs: 1_000,
    cpuHardLimitMs: 2_000,
    memoryLimitMb: 256,
    wallClockLimitMs: 150_000,
    requestIdleTimeoutMs: 150_000,
  });
});
