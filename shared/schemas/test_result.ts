/**
 * The `connection_test_result` of an agent's MCP connection: what the last probe of its
 * MCP server found (`shared/mcp/probe.ts` writes it; the API's `POST /connections/:id/test`
 * and the scheduled health check store it as JSONB).
 *
 * It keeps the research draft's shape `{success, error, latency, capabilities, timestamp}`
 * and adds what a real MCP client learns on the way: who answered, in which protocol era,
 * over which transport, with which tools, after how many attempts.
 */
import { z } from "zod";

/** How many tool names a result keeps; `toolCount` still counts them all. */
export const TOOL_NAMES_LIMIT = 200;

/**
 * The bounds of a stored result, whatever the server answers: one server's answers affect its
 * own result only, and that result stays small enough to store, send and render (issue 13,
 * item 2). A string longer than its bound is cut (ending in "…") and the result says
 * `truncated: true`.
 */
export const RESULT_BOUNDS = Object.freeze({
  /** Characters of a tool name (the MCP specification asks for 1 to 128). */
  toolNameLength: 128,
  /** Characters of each `serverInfo` field. */
  serverInfoFieldLength: 256,
  /** Capability names kept. */
  capabilities: 32,
  /** Characters of a capability name. */
  capabilityNameLength: 64,
  /** Characters of `protocolVersion`. */
  protocolVersionLength: 32,
  /** Characters of an error message. */
  errorMessageLength: 2_000,
  /** Bytes of the whole result as UTF-8 JSON; tool names are dropped from the end to fit. */
  serializedBytes: 64 * 1024,
});

/**
 * Why a probe failed, one word a user interface can key on:
 *
 * - `timeout`: no answer before the connection's deadline (or the caller cancelled the probe;
 *   the message then says so).
 * - `refused`: the TCP connection was refused, reset, or closed before an HTTP response came.
 * - `dns`: the host name did not resolve.
 * - `tls`: the TLS handshake failed (bad certificate, not TLS at all, ...).
 * - `http_status`: the server answered with an HTTP error status other than 401/403
 *   (`httpStatus` says which; 404/405 only after the legacy SSE transport was tried too).
 * - `auth`: credentials were missing or refused: HTTP 401 or 403 from the MCP server (`stage:
 *   "mcp_server"`), or the OAuth token endpoint refused the server's client credentials or could
 *   not be found (`stage: "token_endpoint"`). See docs/server-credentials.md.
 *
 * A failure of another class (refused, dns, tls, timeout, blocked) on the way to the OAuth
 * authorization server carries `stage: "token_endpoint"` too.
 * - `protocol`: the server does not speak MCP: not JSON, not JSON-RPC, an HTML page, a
 *   JSON-RPC error where a result was due, an unsupported protocol version.
 * - `invalid_response`: the server speaks JSON-RPC but what it sent breaks the MCP schema, or a
 *   response body exceeded the probe's size bound (per response, or all of a probe's responses
 *   together), or tool pagination never ended: the probe could not read the whole answer
 *   within its bounds. (An answer read whole that holds more than a result keeps succeeds,
 *   with `truncated: true`.)
 * - `blocked`: the probe refused to contact the address (SSRF guard: private, loopback,
 *   link-local, cloud metadata, ... not permitted by the network policy). Nothing was sent.
 */
export const PROBE_ERROR_CLASSES = [
  "timeout",
  "refused",
  "dns",
  "tls",
  "http_status",
  "auth",
  "protocol",
  "invalid_response",
  "blocked",
] as const;

/** One of {@link PROBE_ERROR_CLASSES}. */
export const ProbeErrorClass = z.enum(PROBE_ERROR_CLASSES);
/** One of {@link PROBE_ERROR_CLASSES}. */
export type ProbeErrorClass = z.infer<typeof ProbeErrorClass>;

/**
 * Who refused the credentials, on an `auth` failure: `mcp_server` (HTTP 401/403 from the MCP
 * server, with whatever credentials were sent, or none) or `token_endpoint` (the OAuth
 * authorization server refused the client credentials, or no token endpoint could be found).
 * On any other class, `token_endpoint` says the failure happened reaching the authorization
 * server (its metadata or token endpoint), not the MCP server.
 */
export const AuthFailureStage = z.enum(["token_endpoint", "mcp_server"]);
/** `token_endpoint` or `mcp_server`. */
export type AuthFailureStage = z.infer<typeof AuthFailureStage>;

/** A failed probe's error: the class, a human-readable message and, where one was seen, the HTTP status. */
export const ProbeError = z.strictObject({
  class: ProbeErrorClass,
  message: z.string().max(RESULT_BOUNDS.errorMessageLength),
  httpStatus: z.number().int().min(100).max(599).optional(),
  /** Class `auth`: who refused; another class: `token_endpoint` if it happened there. */
  stage: AuthFailureStage.optional().meta({
    description: "Class auth: who refused the credentials (mcp_server or token_endpoint). " +
      "Another class (refused, dns, tls, timeout, blocked): token_endpoint when the failure " +
      "happened reaching the OAuth authorization server rather than the MCP server.",
  }),
});
/** A failed probe's error. */
export type ProbeError = z.infer<typeof ProbeError>;

/**
 * The protocol era that answered, named as the MCP SDK's `Client.getProtocolEra()` names it:
 *
 * - `modern`: protocol 2026-07-28 or later, negotiated by the stateless `server/discover`
 *   (no `initialize`, no `ping`, no session).
 * - `legacy`: the `initialize` handshake of protocol 2024-11-05 to 2025-11-25, over either
 *   transport.
 */
export const ProtocolEra = z.enum(["modern", "legacy"]);
/** `modern` (2026-07-28+, `server/discover`) or `legacy` (the `initialize` handshake). */
export type ProtocolEra = z.infer<typeof ProtocolEra>;

/**
 * The HTTP transport that answered: `streamable-http` (protocol 2025-03-26 and later) or `sse`,
 * the legacy HTTP+SSE transport of protocol 2024-11-05 (GET opens an event stream, messages are
 * POSTed to the endpoint it names).
 */
export const ProbeTransport = z.enum(["streamable-http", "sse"]);
/** `streamable-http` or `sse`. */
export type ProbeTransport = z.infer<typeof ProbeTransport>;

/**
 * How the probe authenticated to the server: with nothing (`none`), the administrator's static
 * headers (`headers`) or a token of the OAuth client credentials grant
 * (`oauth_client_credentials`); see docs/server-credentials.md.
 */
export const AUTH_KINDS = ["none", "headers", "oauth_client_credentials"] as const;
/** One of {@link AUTH_KINDS}. */
export type AuthKind = (typeof AUTH_KINDS)[number];

/** What a stored result says about authentication: the kind, never a value. */
export const ProbeAuth = z.strictObject({
  kind: z.enum(AUTH_KINDS),
  /**
   * OAuth only: token requests this probe made (0: a token an earlier probe of the same server
   * obtained was reused).
   */
  tokenRequests: z.number().int().nonnegative().optional(),
});
/** What a stored result says about authentication. */
export type ProbeAuth = z.infer<typeof ProbeAuth>;

/** The server's self-description (`serverInfo` of `initialize`, or of `server/discover`'s `_meta`). */
export const ServerInfo = z.object({
  name: z.string().max(RESULT_BOUNDS.serverInfoFieldLength),
  version: z.string().max(RESULT_BOUNDS.serverInfoFieldLength),
  title: z.string().max(RESULT_BOUNDS.serverInfoFieldLength).optional(),
});
/** The server's self-description. */
export type ServerInfo = z.infer<typeof ServerInfo>;

/**
 * The stored `connection_test_result`: `{success, error, latency, capabilities, timestamp}` of
 * the research draft, plus what the probe learned. `error` is null exactly when `success` is.
 */
export const ConnectionTestResult = z
  .strictObject({
    /** True when the server completed the handshake (or discovery) and listed its tools. */
    success: z.boolean(),
    /** Null on success. */
    error: ProbeError.nullable(),
    /**
     * Milliseconds the successful attempt took, from its first request to the end of its
     * `tools/list` pages and `ping` (DNS checks of the SSRF guard included); excludes failed
     * attempts, backoff, a failed Streamable HTTP try before the SSE fallback, and the session
     * close. Null when no attempt succeeded.
     */
    latency: z.number().int().nonnegative().nullable(),
    /** The capabilities the server declared, by name: e.g. `["tools", "resources", "prompts", "logging"]`. */
    capabilities: z.array(z.string().max(RESULT_BOUNDS.capabilityNameLength)).max(
      RESULT_BOUNDS.capabilities,
    ),
    /** When the probe started (ISO 8601, UTC). */
    timestamp: z.iso.datetime(),
    /** Wall-clock milliseconds of the whole probe: every attempt, backoff and the close. */
    durationMs: z.number().int().nonnegative(),
    serverInfo: ServerInfo.nullable(),
    /** The protocol version negotiated, e.g. "2026-07-28", "2025-06-18", "2024-11-05". */
    protocolVersion: z.string().max(RESULT_BOUNDS.protocolVersionLength).nullable(),
    era: ProtocolEra.nullable(),
    transport: ProbeTransport.nullable(),
    /**
     * Tool names in the server's order, at most {@link TOOL_NAMES_LIMIT}, each cut to
     * `RESULT_BOUNDS.toolNameLength` characters.
     */
    tools: z.array(z.string().max(RESULT_BOUNDS.toolNameLength)).max(TOOL_NAMES_LIMIT),
    /** How many tools the server listed (all pages); null when the listing did not finish. */
    toolCount: z.number().int().nonnegative().nullable(),
    /**
     * How the probe authenticated (absent in results stored before server credentials existed).
     * Never holds a credential.
     */
    auth: ProbeAuth.optional(),
    /** Attempts made: 1 plus the retries after transient failures (0 if cancelled before the first). */
    attempts: z.number().int().nonnegative(),
    /**
     * Present (true) when something the server sent was cut to fit the result's bounds
     * ({@link RESULT_BOUNDS}): a long name or version, more tool names than are kept, more
     * capabilities than are kept. Absent when the result is whole.
     */
    truncated: z.literal(true).optional(),
  })
  .refine((result) => result.success === (result.error === null), {
    message: "error must be null exactly when success is true",
    path: ["error"],
  })
  .refine((result) => serializedBytes(result) <= RESULT_BOUNDS.serializedBytes, {
    message: `a result is at most ${RESULT_BOUNDS.serializedBytes} bytes as JSON`,
  });

/** The stored `connection_test_result`. */
export type ConnectionTestResult = z.infer<typeof ConnectionTestResult>;

/** The size of `value` as UTF-8 JSON, in bytes. */
export function serializedBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).byteLength;
}
