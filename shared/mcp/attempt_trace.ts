/**
 * What the network layer saw during one transport attempt: the refusal that ended it, the HTTP
 * error statuses, whether an event stream opened, the errors the transport reported on the
 * side. The MCP SDK wraps, stringifies or swallows some of these, so `failure.ts` reads them
 * here first.
 */
import type { NetworkRefusal } from "./probe_errors.ts";

/** An HTTP response with an error status (4xx or 5xx). */
export interface HttpErrorSighting {
  readonly method: string;
  readonly status: number;
  readonly statusText: string;
  /** The raw `Retry-After` header, if any. */
  readonly retryAfter: string | null;
}

const MAX_KEPT = 16;

/** The record of one transport attempt (one transport, one deadline). */
export class AttemptTrace {
  #refusal: NetworkRefusal | null = null;
  #httpErrors: HttpErrorSighting[] = [];
  #transportErrors: Error[] = [];
  #eventStreamOpened = false;
  #requests = 0;
  readonly #onRefusal: ((refusal: NetworkRefusal) => void) | undefined;

  /** `onRefusal` is told of the first refusal, as it is recorded. */
  constructor(onRefusal?: (refusal: NetworkRefusal) => void) {
    this.#onRefusal = onRefusal;
  }

  /** The first request the network layer refused or cut off, if any. */
  get refusal(): NetworkRefusal | null {
    return this.#refusal;
  }

  /** HTTP error responses, oldest first (at most 16 kept). */
  get httpErrors(): readonly HttpErrorSighting[] {
    return this.#httpErrors;
  }

  /** The latest HTTP error response, if any. */
  get lastHttpError(): HttpErrorSighting | null {
    return this.#httpErrors.at(-1) ?? null;
  }

  /** Errors the SDK reported through `onerror` without failing a request (at most 16 kept). */
  get transportErrors(): readonly Error[] {
    return this.#transportErrors;
  }

  /** Whether a GET answered 200 with `text/event-stream`: the server speaks the SSE transport. */
  get eventStreamOpened(): boolean {
    return this.#eventStreamOpened;
  }

  /** Requests that reached the network (after the SSRF guard let them through). */
  get requests(): number {
    return this.#requests;
  }

  /** Records a refusal; the first one wins. */
  noteRefusal(refusal: NetworkRefusal): void {
    if (this.#refusal !== null) return;
    this.#refusal = refusal;
    this.#onRefusal?.(refusal);
  }

  /** Records that a request is going out. */
  noteRequest(): void {
    this.#requests++;
  }

  /** Records what a response tells about the server. */
  noteResponse(method: string, response: Response): void {
    if (response.status >= 400) {
      if (this.#httpErrors.length >= MAX_KEPT) this.#httpErrors.shift();
      this.#httpErrors.push({
        method,
        status: response.status,
        statusText: response.statusText,
        retryAfter: response.headers.get("retry-after"),
      });
    }
    if (
      method === "GET" && response.status === 200 &&
      (response.headers.get("content-type") ?? "").startsWith("text/event-stream")
    ) {
      this.#eventStreamOpened = true;
    }
  }

  /** Records an error the SDK reported on the side. */
  noteTransportError(error: Error): void {
    if (this.#transportErrors.length < MAX_KEPT) this.#transportErrors.push(error);
  }
}
