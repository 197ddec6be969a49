/**
 * One autocannon load run, in a process of its own so that the load generator never shares an
 * event loop with the gateway it measures (the stack's gateway runs in the runner's process).
 * Reads a `LoadSpec` as JSON on stdin, writes a `LoadOutcome` as one JSON line on stdout.
 *
 * Bounded in count (`amount`) and time (`maxSeconds`: stopped when it is reached, and the
 * outcome says `capped`). Throughput is counted from the first request to the last response,
 * not autocannon's sampled duration (which ends on its next one-second tick).
 */
// @ts-types="./autocannon.d.ts"
import autocannon from "autocannon";
import type { LoadOutcome, LoadSpec } from "./load.ts";

async function main(): Promise<void> {
  const spec = JSON.parse(await new Response(Deno.stdin.readable).text()) as LoadSpec;
  const statuses: Record<string, number> = {};
  let requestErrors = 0;
  let lastResponse = 0;
  const started = performance.now();
  const instance = autocannon({
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    body: spec.body,
    connections: spec.connections,
    pipelining: 1,
    amount: spec.amount,
    timeout: spec.timeoutSeconds,
    sampleInt: 100,
  });
  let capped = false;
  const cap = setTimeout(() => {
    capped = true;
    instance.stop();
  }, spec.maxSeconds * 1000);
  instance.on("response", (_client, statusCode) => {
    lastResponse = performance.now();
    statuses[String(statusCode)] = (statuses[String(statusCode)] ?? 0) + 1;
  });
  instance.on("reqError", () => {
    requestErrors++;
  });
  const result = await instance;
  clearTimeout(cap);
  const ok = Object.entries(statuses)
    .filter(([code]) => code.startsWith("2"))
    .reduce((sum, [, count]) => sum + count, 0);
  const completed = Object.values(statuses).reduce((sum, count) => sum + count, 0);
  const elapsedMs = (lastResponse || performance.now()) - started;
  const outcome: LoadOutcome = {
    completed,
    ok,
    statuses,
    errors: Math.max(requestErrors, result.errors),
    timeouts: result.timeouts,
    capped,
    elapsedMs,
    requestsPerSecond: ok / (elapsedMs / 1000),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      mean: result.latency.mean,
      max: result.latency.max,
    },
  };
  // deno-lint-ignore no-console
  console.log(JSON.stringify(outcome));
}

await main();
