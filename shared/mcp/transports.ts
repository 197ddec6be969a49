/**
 * Which HTTP transport to try, how to build it, and when to fall back: Streamable HTTP first,
 * then, when the server turns the POST down with a 4xx as a legacy server does, the HTTP+SSE
 * transport of protocol 2024-11-05 (the fallback the MCP specification describes under
 * "Backwards Compatibility"). The MCP client itself knows nothing of this choice.
 */
import {
  type AuthProvider,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Transport,
  type VersionNegotiationMode,
} from "@modelcontextprotocol/client";
import type { ProbeTransport } from "../schemas/test_result.ts";
import type { ProbeFailure } from "./failure.ts";
import type { GuardedFetch } from "./guarded_fetch.ts";

/** A transport ready for `Client.connect`, and the version negotiation that suits it. */
export interface TransportPlan {
  readonly kind: ProbeTransport;
  readonly transport: Transport;
  /**
   * `auto` on Streamable HTTP: `server/discover` first, `initialize` when the server is of the
   * handshake era. `legacy` on SSE: no modern server speaks it, so straight to `initialize`.
   */
  readonly negotiation: VersionNegotiationMode;
  /** Whether the server gave the transport a session to end. */
  hasSession(): boolean;
  /** Ends the session on the server (HTTP DELETE with the session id), where there is one. */
  terminate(): Promise<void>;
}

/**
 * Builds the transport of `kind` for `url`; every request it makes goes through `fetch`.
 * `negotiation` overrides the transport's usual one (a hint that the server is of the
 * handshake era). `authProvider` gives the server's OAuth token (see auth/server_auth.ts).
 */
export function createTransport(
  kind: ProbeTransport,
  url: URL,
  fetch: GuardedFetch,
  negotiation?: VersionNegotiationMode,
  authProvider?: AuthProvider,
): TransportPlan {
  if (kind === "streamable-http") {
    const transport = new StreamableHTTPClientTransport(url, {
      fetch,
      authProvider,
      // Redirects are the guarded fetch's to follow (each hop is checked there).
      redirectPolicy: "follow",
      // A probe does not resume broken streams: a broken stream is a finding.
      reconnectionOptions: {
        maxRetries: 0,
        initialReconnectionDelay: 1_000,
        maxReconnectionDelay: 1_000,
        reconnectionDelayGrowFactor: 1,
      },
    });
    return {
      kind,
      transport,
      negotiation: negotiation ?? "auto",
      hasSession: () => transport.sessionId !== undefined,
      terminate: () =>
        transport.sessionId === undefined ? Promise.resolve() : transport.terminateSession(),
    };
  }
  const transport = new SSEClientTransport(url, { fetch, authProvider, redirectPolicy: "follow" });
  return {
    kind,
    transport,
    negotiation: "legacy",
    hasSession: () => false,
    terminate: () => Promise.resolve(),
  };
}

/**
 * Whether a failed Streamable HTTP attempt calls for the SSE transport: the server rejected
 * the POST with a 4xx that is neither an auth wall (401/403) nor a request to slow down
 * (408/429). Anything else (5xx, timeouts, refusals, non-MCP answers) is no sign of an old
 * server, and trying SSE would only spend the deadline.
 */
export function shouldFallBackToSse(failure: ProbeFailure): boolean {
  const status = failure.httpStatus;
  return failure.class === "http_status" && status !== undefined && status >= 400 && status < 500 &&
    status !== 408 && status !== 429;
}

/**
 * Which of the two failures to report when the SSE fallback failed too: the SSE one if the
 * server did open an event stream (it is an SSE server, and that is how it failed) or the
 * failure is about the connection itself; otherwise the Streamable HTTP one, since the server
 * speaks neither transport and its first answer tells most.
 */
export function reportedFailure(
  streamable: ProbeFailure,
  sse: ProbeFailure,
  eventStreamOpened: boolean,
): ProbeFailure {
  if (eventStreamOpened) return sse;
  return sse.class === "http_status" || sse.class === "protocol" ? streamable : sse;
}
