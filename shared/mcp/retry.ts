/**
 * When to try again after a failed attempt, and after how long: exponential backoff with
 * jitter, stretched to a server's `Retry-After`, and never past the probe's deadline.
 */
import type { ProbeFailure } from "./failure.ts";

/** The backoff curve: the n-th retry waits between half and all of `min(maxMs, baseMs * 2^(n-1))`. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** 200 ms, 400 ms, 800 ms, ... capped at 5 s (before jitter). */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 200, maxMs: 5_000 });

/** Below this many milliseconds left after the wait, another attempt is not worth starting. */
export const MIN_ATTEMPT_BUDGET_MS = 50;

/**
 * The wait before retry number `retry` (1 for the first retry): "equal jitter", half the
 * exponential step plus a random share of the other half, so retries of many probes spread out
 * yet never come back at once. `random` returns a number in [0, 1).
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Milliseconds a `Retry-After` header asks to wait (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date); null when absent or malformed. A date in the past means no wait.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** What to do after a failed attempt. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: string };

/** What {@link decideRetry} weighs. */
export interface RetryInput {
  readonly failure: ProbeFailure;
  /** Attempts made so far (1 after the first). */
  readonly attempt: number;
  /** The connection's `retryAttempts`: the most attempts is this plus one. */
  readonly retryAttempts: number;
  /** Milliseconds left before the probe's deadline. */
  readonly remainingMs: number;
  readonly nowMs: number;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
}

/**
 * Retry only a transient failure, only while retries remain, and only if the wait (the backoff,
 * or the server's `Retry-After` when longer) leaves time for another attempt before the
 * deadline. A `Retry-After` reaching past the deadline ends the probe at once: sleeping until
 * the deadline could not produce an answer.
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const { failure, attempt, retryAttempts, remainingMs } = input;
  if (!failure.transient) return { retry: false, reason: `${failure.class} is not transient` };
  if (attempt > retryAttempts) {
    return { retry: false, reason: `no retries left (${retryAttempts})` };
  }
  const backoff = backoffDelay(attempt, input.backoff, input.random);
  const asked = parseRetryAfter(failure.retryAfter, input.nowMs);
  const delayMs = Math.max(backoff, asked ?? 0);
  if (delayMs + MIN_ATTEMPT_BUDGET_MS > remainingMs) {
    return {
      retry: false,
      reason: `waiting ${delayMs} ms${
        asked === null ? "" : " (Retry-After)"
      } would reach the deadline`,
    };
  }
  return { retry: true, delayMs };
}
