/**
 * The `fetch` the probe hands to the MCP SDK's transports. Every request it makes:
 *
 * - passes the SSRF guard first (`network_policy.ts`), and so does every redirect hop, which it
 *   follows itself (`redirect: "manual"`, at most `maxRedirects` hops); a host name is resolved
 *   and checked again for every request, a literal address's verdict is kept for the attempt;
 * - is bound to the attempt's signal (the probe deadline, the caller's cancellation, the end
 *   of the attempt): the SSE transport ignores its own timeouts, so this is what stops it;
 * - carries the connection's custom headers, unless the transport set the same header itself
 *   (the session and version headers are the transport's); they go to the connection's origin
 *   only, and are dropped with `Authorization` on a redirect to another origin;
 * - gets a response whose body is cut off past `maxBodyBytes` (a declared `Content-Length`
 *   over the bound fails at once; a body of that fixed length, which the HTTP stack enforces,
 *   is read whole before the response is handed back), and ends when the request's or the
 *   attempt's signal aborts, so that no read and no socket outlives the attempt (see
 *   `boundBody`);
 * - for plain `http:`, goes to the very address the guard checked (see network_policy.ts on
 *   DNS rebinding), with the original `Host` header.
 *
 * Refusals are thrown as `NetworkRefusal` (a fetch can only throw) and recorded in the trace.
 */
import type { AttemptTrace } from "./attempt_trace.ts";
import type { HostResolver } from "./host_resolver.ts";
import { formatIpAddress, type IpAddress, parseIpAddress } from "./ip_address.ts";
import {
  checkTarget,
  checkTargetWithoutDns,
  type NetworkPolicy,
  type TargetVerdict,
} from "./network_policy.ts";
import { NetworkRefusal } from "./probe_errors.ts";

/** The shape of `fetch` the SDK transports accept. */
export type GuardedFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** What a guarded fetch enforces. */
export interface GuardedFetchOptions {
  readonly policy: NetworkPolicy;
  readonly resolver: HostResolver;
  /** The connection's URL origin: custom headers are sent there only. */
  readonly origin: string;
  readonly customHeaders: Readonly<Record<string, string>>;
  readonly maxBodyBytes: number;
  /** Counts the body bytes of every request of the probe, against the probe's total bound. */
  readonly budget?: ByteBudget;
  readonly maxRedirects: number;
  /** Aborts every request of the attempt. */
  readonly signal: AbortSignal;
  readonly trace: AttemptTrace;
  /**
   * Gives the client (created with `allowHost: true`) that pins `http:` requests to the checked
   * address, created on first need; without one, requests are not pinned.
   */
  readonly pinningClient?: () => Deno.HttpClient | undefined;
}

/** The response bytes a whole probe may read, shared by its guarded fetches. */
export class ByteBudget {
  #used = 0;

  constructor(readonly limit: number) {}

  /** Bytes read so far. */
  get used(): number {
    return this.#used;
  }

  /** Counts `bytes` more; false once the total exceeds the limit. */
  spend(bytes: number): boolean {
    this.#used += bytes;
    return this.#used <= this.limit;
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const DECIMAL = /^[0-9]+$/;

/** Creates the guarded fetch for one transport attempt. */
export function createGuardedFetch(options: GuardedFetchOptions): GuardedFetch {
  const customHeaders = Object.entries(options.customHeaders);
  // The verdicts on literal addresses (by scheme and host), which no DNS answer can change,
  // are kept; a host name is checked again, resolved again, on every request. What takes no
  // DNS look-up is checked without waiting.
  const literalVerdicts = new Map<string, CheckedTarget>();
  const check = (url: URL, signal: AbortSignal): CheckedTarget | Promise<CheckedTarget> => {
    const key = `${url.protocol}//${url.hostname}`;
    const known = literalVerdicts.get(key);
    if (known !== undefined) return known;
    const verdict = checkTargetWithoutDns(url, options.policy);
    if (verdict === null) return resolveAndCheck(url, signal);
    const checked = { verdict, literal: parseIpAddress(url.hostname) !== null };
    if (checked.literal) literalVerdicts.set(key, checked);
    return checked;
  };
  const resolveAndCheck = async (url: URL, signal: AbortSignal): Promise<CheckedTarget> => ({
    verdict: await checkTarget(url, options.policy, options.resolver, signal),
    literal: false,
  });
  // The attempt's signal joined with a request's. A transport passes the same signal with many
  // requests (its own, where it has no per-request one): that join is made once.
  let joinedWith: AbortSignal | undefined;
  let joined = options.signal;
  const requestSignal = (own: AbortSignal | null | undefined): AbortSignal => {
    if (!own) return options.signal;
    if (own !== joinedWith) {
      joinedWith = own;
      joined = eitherSignal(options.signal, own);
    }
    return joined;
  };
  return async (input, init = {}) => {
    const signal = requestSignal(init.signal);
    let url = new URL(input);
    let method = (init.method ?? "GET").toUpperCase();
    let body = init.body ?? null;
    // The transport's headers, copied only when a redirect has to drop some.
    let transportHeaders: HeadersInit | undefined = init.headers;

    for (let hop = 0;; hop++) {
      signal.throwIfAborted();
      const checking = check(url, signal);
      const { verdict, literal } = checking instanceof Promise ? await checking : checking;
      if (!verdict.allowed) {
        throw refuse(options.trace, new NetworkRefusal(verdict.code, verdict.message));
      }

      // A literal address is where the request goes already: nothing to pin.
      const pinned = literal ? null : pin(url, verdict.addresses, options.pinningClient);
      const headers = headersFor(url, pinned, transportHeaders, customHeaders, options.origin);
      options.trace.noteRequest();
      const response = await fetch(pinned?.url ?? url, {
        method,
        headers,
        body,
        signal,
        redirect: "manual",
        ...(pinned ? { client: pinned.client } : {}),
      });
      options.trace.noteResponse(method, response);

      const location = REDIRECT_STATUSES.has(response.status)
        ? response.headers.get("location")
        : null;
      if (location === null) return await boundBody(response, options, signal);
      await response.body?.cancel().catch(() => {});
      if (hop >= options.maxRedirects) {
        throw refuse(
          options.trace,
          new NetworkRefusal(
            "too_many_redirects",
            `more than ${options.maxRedirects} redirects (last: HTTP ${response.status} to ${location})`,
            response.status,
          ),
        );
      }
      const next = new URL(location, url);
      const rewritten = new Headers(transportHeaders);
      if (response.status === 303 || (response.status <= 302 && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = null;
        rewritten.delete("content-type");
      }
      if (next.origin !== url.origin) rewritten.delete("authorization");
      transportHeaders = rewritten;
      url = next;
    }
  };
}

/** The SSRF guard's verdict on a request's target, and whether its host is a literal address. */
interface CheckedTarget {
  readonly verdict: TargetVerdict;
  readonly literal: boolean;
}

/**
 * A signal that aborts when either does, with that one's reason: `AbortSignal.any` without its
 * cost (a dependent signal tracked through weak references). The listeners live as long as the
 * two signals, which are the attempt's and a request's (or its transport's).
 */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (a === b || a.aborted) return a;
  if (b.aborted) return b;
  const controller = new AbortController();
  const onA = () => {
    b.removeEventListener("abort", onB);
    controller.abort(a.reason);
  };
  const onB = () => {
    a.removeEventListener("abort", onA);
    controller.abort(b.reason);
  };
  a.addEventListener("abort", onA, { once: true });
  b.addEventListener("abort", onB, { once: true });
  return controller.signal;
}

function refuse(trace: AttemptTrace, refusal: NetworkRefusal): NetworkRefusal {
  trace.noteRefusal(refusal);
  return refusal;
}

/**
 * The headers to send: the transport's, plus the custom ones it did not set, for the
 * connection's origin only (elsewhere they are dropped), plus `Host` when pinned. The
 * transport's own headers go through untouched when there is nothing to add or drop.
 */
function headersFor(
  url: URL,
  pinned: Pinned | null,
  transportHeaders: HeadersInit | undefined,
  customHeaders: readonly (readonly [string, string])[],
  origin: string,
): HeadersInit | undefined {
  if (customHeaders.length === 0 && pinned === null) return transportHeaders;
  const headers = new Headers(transportHeaders);
  const toOrigin = url.origin === origin;
  for (const [name, value] of customHeaders) {
    if (!toOrigin) headers.delete(name);
    else if (!headers.has(name)) headers.set(name, value);
  }
  if (pinned !== null) headers.set("host", url.host);
  return headers;
}

/** Where a pinned request goes instead, and the client that lets it carry its own `Host`. */
interface Pinned {
  readonly url: URL;
  readonly client: Deno.HttpClient;
}

/**
 * For `http:`, the URL with the checked address in place of the name (the name goes in
 * `Host`); null when there is nothing to pin. `https:` cannot be pinned (the certificate names
 * the host).
 */
function pin(
  url: URL,
  addresses: readonly IpAddress[],
  pinningClient: (() => Deno.HttpClient | undefined) | undefined,
): Pinned | null {
  const address = addresses[0];
  if (pinningClient === undefined || url.protocol !== "http:" || address === undefined) {
    return null;
  }
  const literal = address.family === 4 ? formatIpAddress(address) : `[${formatIpAddress(address)}]`;
  if (url.hostname === literal) return null;
  const client = pinningClient();
  if (client === undefined) return null;
  const pinned = new URL(url);
  pinned.hostname = literal;
  return { url: pinned, client };
}

/**
 * The response with its body bounded and tied to `signal` (the request's, the attempt's, the
 * probe's): when it aborts, the body ends with the signal's reason and the runtime's stream is
 * cancelled, which closes the connection. The runtime's own abort of a response body cannot be
 * relied on for this: it hangs off the signal of the `Request` that `fetch` builds internally,
 * which only weak references lead to once `fetch` has resolved; when that signal is
 * garbage-collected, aborting ours no longer reaches the body, and a read in flight (an SSE
 * stream's, a stalled body's) keeps its socket open and the process alive for good. `signal` is
 * held here for as long as the body is read.
 *
 * A declared `Content-Length` over the bound fails at once. A body whose length is fixed by a
 * `Content-Length` within the bound (no `Transfer-Encoding`, which would override it, and no
 * `Content-Encoding`, which would make it the compressed length) cannot exceed it, since the
 * HTTP stack reads no more than that: it is read whole here (`readWhole`) and handed back as
 * bytes, the cheap path of a JSON answer. Any other body (an event stream, a chunked or
 * compressed one) is handed on through a stream of our own that reads the runtime's only on
 * demand, counts the bytes and cuts the body off past the bound (the cut-off is recorded and
 * errors the body).
 */
async function boundBody(
  response: Response,
  options: GuardedFetchOptions,
  signal: AbortSignal,
): Promise<Response> {
  const limit = options.maxBodyBytes;
  const tooLarge = () =>
    refuse(
      options.trace,
      new NetworkRefusal("body_too_large", `a response body exceeded the ${limit}-byte bound`),
    );
  const length = response.headers.get("content-length");
  const declared = Number(length ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (response.body === null || NULL_BODY_STATUSES.has(response.status)) return response;
  if (signal.aborted) {
    response.body.cancel(signal.reason).catch(() => {});
    throw signal.reason;
  }
  const budget = options.budget;
  const overBudget = (spent: ByteBudget) =>
    refuse(
      options.trace,
      new NetworkRefusal(
        "body_too_large",
        `the server's responses exceeded the probe's ${spent.limit}-byte total bound`,
      ),
    );
  if (isEnforcedLength(length, response.headers)) {
    if (budget !== undefined && !budget.spend(declared)) {
      response.body.cancel().catch(() => {});
      throw overBudget(budget);
    }
    return await readWhole(response, declared, signal);
  }
  const source = response.body.getReader();
  let seen = 0;
  let open = true;
  let downstream: ReadableStreamDefaultController<Uint8Array> | undefined;
  // Ends the body: no longer tied to the signal; errors it with `reason` unless it ended by
  // itself (done, or cancelled by its reader); cancels the runtime's stream unless it is done.
  const end = (how: { error?: unknown; cancelSource?: unknown } | null): void => {
    if (!open) return;
    open = false;
    signal.removeEventListener("abort", onAbort);
    if (how === null) return;
    if ("error" in how) downstream?.error(how.error);
    source.cancel(how.cancelSource ?? how.error).catch(() => {});
  };
  const onAbort = () => end({ error: signal.reason });
  signal.addEventListener("abort", onAbort, { once: true });
  const bounded = new ReadableStream<Uint8Array>({
    start(controller) {
      downstream = controller;
    },
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await source.read();
      } catch (error) {
        end({ error });
        return;
      }
      if (!open) return;
      if (chunk.done) {
        end(null);
        controller.close();
        return;
      }
      seen += chunk.value.byteLength;
      if (seen > limit) {
        end({ error: tooLarge() });
      } else if (budget !== undefined && !budget.spend(chunk.value.byteLength)) {
        end({ error: overBudget(budget) });
      } else {
        controller.enqueue(chunk.value);
      }
    },
    cancel(reason) {
      end({ cancelSource: reason });
    },
  }, { highWaterMark: 0 });
  return new Response(bounded, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/**
 * The response with its body read whole (its length, `length`, is fixed and within the bound),
 * the read ended by `signal`: the runtime's stream is cancelled and the read rejects with the
 * signal's reason (only a reader's `cancel()` ends a read in flight; see `boundBody`). The body
 * is read by a BYOB reader into one buffer of the declared length, then once more to see it end:
 * a default reader's every read allocates a chunk of its own, which cost more CPU than the rest
 * of the guarded fetch (bench/probe_cost.ts).
 */
async function readWhole(
  response: Response,
  length: number,
  signal: AbortSignal,
): Promise<Response> {
  const source = response.body!.getReader({ mode: "byob" });
  const onAbort = () => source.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  let whole = new Uint8Array(length);
  let size = 0;
  try {
    for (;;) {
      // Into the rest of the buffer; at the end, one byte's room to see the body end.
      const room = size < length ? whole.subarray(size) : new Uint8Array(1);
      const chunk = await source.read(room);
      // A cancelled reader reads as done: the signal says whether the body really ended.
      signal.throwIfAborted();
      if (chunk.done) break;
      if (size >= length) throw new TypeError("the body is longer than its Content-Length");
      size += chunk.value.byteLength;
      whole = new Uint8Array(chunk.value.buffer);
    }
  } catch (error) {
    source.cancel(error).catch(() => {});
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return new Response(whole.subarray(0, size), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/**
 * Whether `length` (the `Content-Length`, already known to be within the bound) is the length
 * the HTTP stack reads the body to: one decimal number, not overridden by `Transfer-Encoding`,
 * and of the body as it is read (no `Content-Encoding` the runtime would decode).
 */
function isEnforcedLength(length: string | null, headers: Headers): boolean {
  if (length === null || !DECIMAL.test(length) || headers.has("transfer-encoding")) return false;
  const encoding = headers.get("content-encoding");
  return encoding === null || /^\s*(?:identity)?\s*$/i.test(encoding);
}
