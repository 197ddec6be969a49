/**
 * The probe's single deadline: one point in time for every attempt, retry, backoff sleep and
 * fallback, and the caller's cancellation folded into the same signal.
 */
import { NetworkRefusal } from "./probe_errors.ts";

/** A monotonic deadline with an `AbortSignal` that fires when it passes or the caller cancels. */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #at: number;
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #onCallerAbort = () => {
    this.#controller.abort(
      new NetworkRefusal("cancelled", "the probe was cancelled by its caller"),
    );
  };

  /** Starts the clock: the deadline is `timeoutMs` from now. */
  constructor(timeoutMs: number, callerSignal?: AbortSignal) {
    this.#at = performance.now() + timeoutMs;
    this.#timer = setTimeout(() => {
      this.#controller.abort(
        new NetworkRefusal("deadline", `no answer within the ${timeoutMs} ms timeout`),
      );
    }, timeoutMs);
    this.#callerSignal = callerSignal;
    if (callerSignal?.aborted) this.#onCallerAbort();
    else callerSignal?.addEventListener("abort", this.#onCallerAbort, { once: true });
  }

  /** Aborts when the deadline passes (reason: `NetworkRefusal` `deadline`) or on cancel (`cancelled`). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Milliseconds left, never negative; 0 once the signal has fired. */
  remaining(): number {
    if (this.#controller.signal.aborted) return 0;
    return Math.max(0, Math.floor(this.#at - performance.now()));
  }

  /** Whether the caller cancelled (as opposed to the time running out). */
  get cancelled(): boolean {
    const reason: unknown = this.#controller.signal.reason;
    return reason instanceof NetworkRefusal && reason.code === "cancelled";
  }

  /** Whether the deadline passed. */
  get expired(): boolean {
    const reason: unknown = this.#controller.signal.reason;
    return reason instanceof NetworkRefusal && reason.code === "deadline";
  }

  /** Waits `ms`; resolves true when the time is up, false at once if the signal fires first. */
  sleep(ms: number): Promise<boolean> {
    const signal = this.#controller.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Settles like `work`, or rejects with the signal's reason as soon as it fires, whichever is
   * first. An abandoned `work` keeps running until its own cleanup ends it; its rejection is
   * swallowed.
   */
  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.#controller.signal;
    work.catch(() => {});
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /** Stops the clock and detaches from the caller's signal. Call once the probe is over. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#callerSignal?.removeEventListener("abort", this.#onCallerAbort);
  }
}
