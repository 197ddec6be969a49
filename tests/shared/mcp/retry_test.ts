import assert from "node:assert/strict";
import type { ProbeFailure } from "../../../shared/mcp/failure.ts";
import {
  backoffDelay,
  decideRetry,
  DEFAULT_BACKOFF,
  MIN_ATTEMPT_BUDGET_MS,
  parseRetryAfter,
  type RetryInput,
} from "../../../shared/mcp/retry.ts";

const policy = { baseMs: 100, maxMs: 1_000 };

function failure(overrides: Partial<ProbeFailure> = {}): ProbeFailure {
  return { class: "refused", message: "refused", transient: true, cause: null, ...overrides };
}

function input(overrides: Partial<RetryInput> = {}): RetryInput {
  return {
    failure: failure(),
    attempt: 1,
    retryAttempts: 2,
    remainingMs: 10_000,
    nowMs: Date.UTC(2026, 0, 1),
    backoff: policy,
    random: () => 0,
    ...overrides,
  };
}

Deno.test("backoffDelay doubles per retry, caps, and jitters within the upper half", async (t) => {
  await t.step("lowest draw: half the step", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, () => 0)), [
      50,
      100,
      200,
      400,
      500,
      500,
    ]);
  });
  await t.step("highest draw: the whole step", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, () => 0.999999)), [
      100,
      200,
      400,
      800,
      1_000,
    ]);
  });
  await t.step("every draw stays within [step/2, step]", () => {
    for (let retry = 1; retry <= 8; retry++) {
      const step = Math.min(policy.maxMs, policy.baseMs * 2 ** (retry - 1));
      for (const draw of [0, 0.1, 0.5, 0.9, 0.999]) {
        const delay = backoffDelay(retry, policy, () => draw);
        assert.ok(delay >= step / 2 && delay <= step, `retry ${retry}, draw ${draw}: ${delay}`);
      }
    }
  });
  await t.step("the default curve starts at 100-200 ms", () => {
    assert.equal(backoffDelay(1, DEFAULT_BACKOFF, () => 0), 100);
    assert.equal(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999999), 200);
  });
});

Deno.test("parseRetryAfter reads delay-seconds and HTTP dates", async (t) => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  await t.step("seconds", () => {
    assert.equal(parseRetryAfter("0", now), 0);
    assert.equal(parseRetryAfter("3", now), 3_000);
    assert.equal(parseRetryAfter(" 120 ", now), 120_000);
  });
  await t.step("an HTTP date, future or past", () => {
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 12:00:05 GMT", now), 5_000);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 11:00:00 GMT", now), 0);
  });
  await t.step("absent or malformed", () => {
    for (const value of [null, undefined, "", "-1", "1.5", "soon", "12abc"]) {
      assert.equal(parseRetryAfter(value, now), null, String(value));
    }
  });
});

Deno.test("decideRetry retries transient failures only, within retries and deadline", async (t) => {
  await t.step(
    "a transient failure with retries and time left is retried after the backoff",
    () => {
      assert.deepEqual(decideRetry(input()), { retry: true, delayMs: 50 });
      assert.deepEqual(decideRetry(input({ attempt: 2 })), { retry: true, delayMs: 100 });
    },
  );
  await t.step("a permanent failure is not retried", () => {
    const decision = decideRetry(input({ failure: failure({ class: "auth", transient: false }) }));
    assert.equal(decision.retry, false);
  });
  await t.step("retryAttempts bounds the attempts: 0 means one attempt only", () => {
    assert.equal(decideRetry(input({ retryAttempts: 0 })).retry, false);
    assert.equal(decideRetry(input({ attempt: 3, retryAttempts: 2 })).retry, false);
    assert.equal(decideRetry(input({ attempt: 2, retryAttempts: 2 })).retry, true);
  });
  await t.step("Retry-After longer than the backoff is honoured", () => {
    const decision = decideRetry(
      input({ failure: failure({ class: "http_status", httpStatus: 429, retryAfter: "2" }) }),
    );
    assert.deepEqual(decision, { retry: true, delayMs: 2_000 });
  });
  await t.step("Retry-After shorter than the backoff does not shorten it", () => {
    const decision = decideRetry(
      input({ attempt: 3, retryAttempts: 3, failure: failure({ retryAfter: "0" }) }),
    );
    assert.deepEqual(decision, { retry: true, delayMs: 200 });
  });
  await t.step("a wait that would reach the deadline ends the probe instead of sleeping", () => {
    const late = decideRetry(input({ remainingMs: 1_500, failure: failure({ retryAfter: "2" }) }));
    assert.equal(late.retry, false);
    if (!late.retry) assert.match(late.reason, /Retry-After/);
    assert.equal(decideRetry(input({ remainingMs: 50 + MIN_ATTEMPT_BUDGET_MS - 1 })).retry, false);
    assert.equal(decideRetry(input({ remainingMs: 50 + MIN_ATTEMPT_BUDGET_MS })).retry, true);
  });
});
