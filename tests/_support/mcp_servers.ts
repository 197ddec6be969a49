/**
 * MCP servers for tests, all on loopback, all stopped by `close()` (or `await using`):
 *
 * ```ts
 * await using server = await startModernServer({ tools: 5 });
 * const result = await probe(server.url, { networkPolicy: LOOPBACK_POLICY });
 * server.requests; // every request, with its headers
 * ```
 *
 * - {@link startModernServer}: protocol 2026-07-28 (`server/discover`), official server SDK.
 * - {@link startHandshakeServer}: protocol 2025-06-18 `initialize` with sessions, official SDK.
 * - {@link startLegacySseServer}: the 2024-11-05 HTTP+SSE transport, official SDK `Server`.
 * - {@link startServerEverything}: the third-party reference server, `streamableHttp` or `sse`.
 * - {@link startFaultServer}: one failure each (refused, hang, 500, 401, huge body, ...).
 * - {@link startHostileServer}: a working server with hostile answers (huge names, endless pages).
 */
import { type NetworkPolicy, parseNetworkPolicy } from "../../shared/mcp/mod.ts";

/** What every test server has: `url`, `requests`, `close()`. */
export type { ListenOptions, RecordedRequest, TestServer } from "./mcp_test_server.ts";
export {
  buildToolServer,
  createModernHandler,
  HANDSHAKE_SERVER_VERSIONS,
  type HandshakeTestServer,
  startHandshakeServer,
  startModernServer,
  type ToolServerOptions,
} from "./mcp_sdk_servers.ts";
export {
  LEGACY_SSE_VERSION,
  type LegacySseServer,
  startLegacySseServer,
} from "./mcp_legacy_sse.ts";
export {
  type FaultKind,
  type FaultOptions,
  type FaultServer,
  startFaultServer,
} from "./mcp_fault_servers.ts";
export {
  type HostileServer,
  type HostileServerOptions,
  startHostileServer,
} from "./mcp_hostile_servers.ts";
export {
  type ServerEverything,
  type ServerEverythingMode,
  startServerEverything,
} from "./mcp_server_everything.ts";

/** The policy tests probe local servers with: loopback allowed, as the local stack does. */
export const LOOPBACK_POLICY: NetworkPolicy = parseNetworkPolicy("127.0.0.0/8,::1/128");
