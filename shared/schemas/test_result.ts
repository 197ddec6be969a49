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
 * Why a probe failed, one word a user interface can key on:
 *
 * - `timeout`: no answer before the connection's deadline (or the caller cancelled the probe;
 *   the message then says so).
 * - `refused`: the TCP connection was refused, reset, or closed before an HTTP response came.
 * - `dns`: the host name did not resolve.
 * - `tls`: the TLS handshake failed (bad certificate, not TLS at all, ...).
 * - `http_status`: the server answered with an HTTP error status other than 401/403
 *   (`httpStatus` says which; 404/405 only after the legacy SSE transport was tried too).
 * - `auth`: HTTP 401 or 403: the server wants credentials (see the connection's custom headers).
 * - `protocol`: the server does not speak MCP: not JSON, not JSON-RPC, an HTML page, a
 *   JSON-RPC error where a result was due, an unsupported protocol version.
 * - `invalid_response`: the server speaks JSON-RPC but what it sent breaks the MCP schema, or a
 *   response body exceeded the probe's size bound, or tool pagination never ended.
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

/** A failed probe's error: the class, a human-readable message and, where one was seen, the HTTP status. */
export const ProbeError = z.strictObject({
  class: ProbeErrorClass,
  message: z.string().max(2_000),
  httpStatus: z.number().int().min(100).max(599).optional(),
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

/** The server's self-description (`serverInfo` of `initialize`, or of `server/discover`'s `_meta`). */
export const ServerInfo = z.object({
  name: z.string(),
  version: z.string(),
  title: z.string().optional(),
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
    capabilities: z.array(z.string()),
    /** When the probe started (ISO 8601, UTC). */
    timestamp: z.iso.datetime(),
    /** Wall-clock milliseconds of the whole probe: every attempt, backoff and the close. */
    durationMs: z.number().int().nonnegative(),
    serverInfo: ServerInfo.nullable(),
    /** The protocol version negotiated, e.g. "2026-07-28", "2025-06-18", "2024-11-05". */
    protocolVersion: z.string().nullable(),
    era: ProtocolEra.nullable(),
    transport: ProbeTransport.nullable(),
    /** Tool names in the server's order, at most {@link TOOL_NAMES_LIMIT}. */
    tools: z.array(z.string()).max(TOOL_NAMES_LIMIT),
    /** How many tools the server listed (all pages); null when the listing did not finish. */
    toolCount: z.number().int().nonnegative().nullable(),
    /** Attempts made: 1 plus the retries after transient failures (0 if cancelled before the first). */
    attempts: z.number().int().nonnegative(),
  })
  .refine((result) => result.success === (result.error === null), {
    message: "error must be null exactly when success is true",
    path: ["error"],
  });

/** The stored `connection_test_result`. */
export type ConnectionTestResult = z.infer<typeof ConnectionTestResult>;
