/** Helpers shared by the probe's integration tests. */
import assert from "node:assert/strict";
import { ConnectionTestResult } from "../../../shared/schemas/test_result.ts";
import { probe, type ProbeOptions } from "../../../shared/mcp/probe.ts";
import { LOOPBACK_POLICY } from "../../_support/mcp_servers.ts";

/** Generous slack above a timeout for scheduling and teardown: a correctness bound, not a benchmark. */
export const TIMEOUT_UPPER_MARGIN_MS = 1_500;
/** Timers may fire a hair early; a deadline that ended the probe cannot be much earlier than this. */
export const TIMEOUT_LOWER_MARGIN_MS = 50;

/** A probe result, checked against the stored schema, and how long the probe took. */
export interface TimedResult {
  readonly result: ConnectionTestResult;
  readonly elapsedMs: number;
}

/** Probes `url` with loopback allowed (unless the options say otherwise) and checks the result's shape. */
export async function probeLocal(url: string, options: ProbeOptions = {}): Promise<TimedResult> {
  const started = performance.now();
  const result = await probe(url, { networkPolicy: LOOPBACK_POLICY, ...options });
  const elapsedMs = performance.now() - started;
  const parsed = ConnectionTestResult.safeParse(result);
  assert.ok(
    parsed.success,
    `result does not match the stored schema: ${JSON.stringify(parsed.error?.issues)}`,
  );
  return { result, elapsedMs };
}

/** Asserts the probe failed with `errorClass` (and `httpStatus`, if given). */
export function assertFailure(
  result: ConnectionTestResult,
  errorClass: string,
  httpStatus?: number,
): void {
  assert.equal(result.success, false, `expected a ${errorClass} failure, got success`);
  assert.equal(result.error?.class, errorClass, `error: ${JSON.stringify(result.error)}`);
  if (httpStatus !== undefined) assert.equal(result.error?.httpStatus, httpStatus);
  assert.equal(result.latency, null);
}

/** Asserts the probe succeeded. */
export function assertSuccess(result: ConnectionTestResult): void {
  assert.equal(result.success, true, `expected success, got ${JSON.stringify(result.error)}`);
  assert.equal(result.error, null);
  assert.ok(typeof result.latency === "number" && result.latency >= 0);
}

/** Asserts a probe that ran into its deadline took the timeout, give or take the margins. */
export function assertTookTimeout(elapsedMs: number, timeoutMs: number): void {
  assert.ok(
    elapsedMs >= timeoutMs - TIMEOUT_LOWER_MARGIN_MS,
    `ended early: ${elapsedMs} ms < ${timeoutMs} ms`,
  );
  assert.ok(
    elapsedMs <= timeoutMs + TIMEOUT_UPPER_MARGIN_MS,
    `overran the timeout: ${elapsedMs} ms > ${timeoutMs} + ${TIMEOUT_UPPER_MARGIN_MS} ms`,
  );
}
