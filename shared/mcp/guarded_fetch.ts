/**
 * The `fetch` the probe hands to the MCP SDK's transports. Every request it makes:
 *
 * - passes the SSRF guard first (`network_policy.ts`), and so does every redirect hop, which it
 *   follows itself (`redirect: "manual"`, at most `maxRedirects` hops);
 * - is bound to the attempt's signal (the probe deadline, the caller's cancellation, the end
 *   of the attempt): the SSE transport ignores its own timeouts, so this is what stops it;
 * - carries the connection's custom headers, unless the transport set the same header itself
 *   (the session and version headers are the transport's); they go to the connection's origin
 *   only, and are dropped with `Authorization` on a redirect to another origin;
 * - gets a response whose body is cut off past `maxBodyBytes` (a declared `Content-Length`
 *   over the bound fails at once);
 * - for plain `http:`, goes to the very address the guard checked (see network_policy.ts on
 *   DNS rebinding), with the original `Host` header.
 *
 * Refusals are thrown as `NetworkRefusal` (a fetch can only throw) and recorded in the trace.
 */
import type { AttemptTrace } from "./attempt_trace.ts";
import type { HostResolver } from "./host_resolver.ts";
import { formatIpAddress, type IpAddress } from "./ip_address.ts";
import { checkTarget, type NetworkPolicy } from "./network_policy.ts";
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

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** Creates the guarded fetch for one transport attempt. */
export function createGuardedFetch(options: GuardedFetchOptions): GuardedFetch {
  return async (input, init = {}) => {
    const signal = init.signal ? AbortSignal.any([options.signal, init.signal]) : options.signal;
    let url = new URL(input);
    let method = (init.method ?? "GET").toUpperCase();
    let body = init.body ?? null;
    const transportHeaders = new Headers(init.headers);

    for (let hop = 0;; hop++) {
      signal.throwIfAborted();
      const verdict = await checkTarget(url, options.policy, options.resolver, signal);
      if (!verdict.allowed) {
        throw refuse(options.trace, new NetworkRefusal(verdict.code, verdict.message));
      }

      const headers = headersFor(url, transportHeaders, options);
      const pinned = pin(url, verdict.addresses, headers, options.pinningClient);
      options.trace.noteRequest();
      const response = await fetch(pinned.url, {
        method,
        headers,
        body,
        signal,
        redirect: "manual",
        ...(pinned.client ? { client: pinned.client } : {}),
      });
      options.trace.noteResponse(method, response);

      const location = REDIRECT_STATUSES.has(response.status)
        ? response.headers.get("location")
        : null;
      if (location === null) return boundBody(response, options);
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
      if (response.status === 303 || (response.status <= 302 && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = null;
        transportHeaders.delete("content-type");
      }
      if (next.origin !== url.origin) transportHeaders.delete("authorization");
      url = next;
    }
  };
}

function refuse(trace: AttemptTrace, refusal: NetworkRefusal): NetworkRefusal {
  trace.noteRefusal(refusal);
  return refusal;
}

/** The transport's headers plus the custom ones it did not set, for the connection's origin only. */
function headersFor(url: URL, transportHeaders: Headers, options: GuardedFetchOptions): Headers {
  const headers = new Headers(transportHeaders);
  const toOrigin = url.origin === options.origin;
  for (const [name, value] of Object.entries(options.customHeaders)) {
    if (!toOrigin) headers.delete(name);
    else if (!headers.has(name)) headers.set(name, value);
  }
  return headers;
}

/**
 * For `http:`, the URL with the checked address in place of the name and the name in `Host`.
 * `https:` cannot be pinned (the certificate names the host), nor can a literal address need it.
 */
function pin(
  url: URL,
  addresses: readonly IpAddress[],
  headers: Headers,
  pinningClient: (() => Deno.HttpClient | undefined) | undefined,
): { url: URL; client?: Deno.HttpClient } {
  const address = addresses[0];
  if (pinningClient === undefined || url.protocol !== "http:" || address === undefined) {
    return { url };
  }
  const literal = address.family === 4 ? formatIpAddress(address) : `[${formatIpAddress(address)}]`;
  if (url.hostname === literal) return { url };
  const client = pinningClient();
  if (client === undefined) return { url };
  const pinned = new URL(url);
  pinned.hostname = literal;
  headers.set("host", url.host);
  return { url: pinned, client };
}

/** The response with its body cut off past the bound (the cut-off is recorded and errors the body). */
function boundBody(response: Response, options: GuardedFetchOptions): Response {
  const limit = options.maxBodyBytes;
  const tooLarge = () =>
    refuse(
      options.trace,
      new NetworkRefusal("body_too_large", `a response body exceeded the ${limit}-byte bound`),
    );
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (response.body === null || NULL_BODY_STATUSES.has(response.status)) return response;
  let seen = 0;
  const counted = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(counted, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
