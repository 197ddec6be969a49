/**
 * Test MCP servers built with the official server SDK (`@modelcontextprotocol/server`):
 *
 * - the modern-era server: `createMcpHandler`, which answers `server/discover` (protocol
 *   2026-07-28) and, statelessly, 2025-era `initialize` too;
 * - the handshake-era server: the SDK's sessionful `WebStandardStreamableHTTPServerTransport`
 *   with protocol versions 2025-06-18 and 2025-03-26 only, as deployed 2025 servers run: it
 *   answers `server/discover` with 400 "Server not initialized", hands out `Mcp-Session-Id`,
 *   and ends the session on DELETE.
 */
import {
  createMcpHandler,
  type McpHttpHandler,
  Server,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import { type ListenOptions, serveRecorded, type TestServer } from "./mcp_test_server.ts";

/** What a test MCP server offers. */
export interface ToolServerOptions extends ListenOptions {
  /** How many tools (`tool_0`, `tool_1`, ...). Default 3. */
  readonly tools?: number;
  /** Tools per `tools/list` page; default all on one page. */
  readonly pageSize?: number;
  /** Characters of each tool name, `tool_<n>` padded with "x"; default just `tool_<n>`. */
  readonly toolNameLength?: number;
  /** The server's `serverInfo`. */
  readonly name?: string;
  readonly version?: string;
  /** Handshake-era server only: the protocol versions it accepts. Default {@link HANDSHAKE_SERVER_VERSIONS}. */
  readonly protocolVersions?: readonly string[];
}

/** A handshake-era server also counts its sessions. */
export interface HandshakeTestServer extends TestServer {
  /** Sessions opened by `initialize`. */
  readonly sessionsOpened: () => number;
  /** Sessions ended by the client's DELETE. */
  readonly sessionsDeleted: () => number;
}

/** Protocol versions of the handshake-era server (no 2026-07-28, no 2025-11-25). */
export const HANDSHAKE_SERVER_VERSIONS: readonly string[] = ["2025-06-18", "2025-03-26"];

/**
 * A low-level SDK `Server` with `tools` tools, listed `pageSize` per page (cursor = the next
 * index), and a `tools/call` that echoes the tool's name.
 */
export function buildToolServer(
  options: ToolServerOptions,
  supportedProtocolVersions?: readonly string[],
): Server {
  const count = options.tools ?? 3;
  const pageSize = options.pageSize ?? Math.max(count, 1);
  const server = new Server(
    { name: options.name ?? "test-mcp-server", version: options.version ?? "1.0.0" },
    {
      capabilities: { tools: { listChanged: false }, logging: {} },
      ...(supportedProtocolVersions
        ? { supportedProtocolVersions: [...supportedProtocolVersions] }
        : {}),
    },
  );
  server.setRequestHandler("tools/list", (request) => {
    const start = Number(request.params?.cursor ?? "0");
    const end = Math.min(count, start + pageSize);
    const tools = [];
    for (let index = start; index < end; index++) {
      tools.push({
        name: `tool_${index}`.padEnd(options.toolNameLength ?? 0, "x"),
        description: `Test tool number ${index}`,
        inputSchema: { type: "object" as const, properties: {} },
      });
    }
    return end < count ? { tools, nextCursor: String(end) } : { tools };
  });
  server.setRequestHandler("tools/call", (request) => ({
    content: [{ type: "text" as const, text: `called ${request.params.name}` }],
  }));
  return server;
}

/** The modern-era handler (also used behind fault servers that recover). */
export function createModernHandler(options: ToolServerOptions = {}): McpHttpHandler {
  return createMcpHandler(() => buildToolServer(options));
}

/** Starts the modern-era server at `/mcp`. */
export function startModernServer(options: ToolServerOptions = {}): Promise<TestServer> {
  const handler = createModernHandler(options);
  return Promise.resolve(
    serveRecorded((request) => handler.fetch(request), {
      ...options,
      path: "/mcp",
      beforeShutdown: () => handler.close(),
    }),
  );
}

/** Starts the handshake-era (2025, sessionful) server at `/mcp`. */
export function startHandshakeServer(
  options: ToolServerOptions = {},
): Promise<HandshakeTestServer> {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  let opened = 0;
  let deleted = 0;

  const handle = async (request: Request): Promise<Response> => {
    const sessionId = request.headers.get("mcp-session-id");
    if (sessionId !== null) {
      const transport = sessions.get(sessionId);
      if (transport === undefined) return new Response("Session not found", { status: 404 });
      return transport.handleRequest(request);
    }
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (id) => {
        opened++;
        sessions.set(id, transport);
      },
      onsessionclosed: (id) => {
        deleted++;
        sessions.delete(id);
      },
    });
    await buildToolServer(options, options.protocolVersions ?? HANDSHAKE_SERVER_VERSIONS).connect(
      transport,
    );
    const response = await transport.handleRequest(request);
    // A request that opened no session (server/discover, a stray POST) leaves nothing behind.
    if (transport.sessionId === undefined) await transport.close();
    return response;
  };

  const server = serveRecorded(handle, {
    ...options,
    path: "/mcp",
    beforeShutdown: async () => {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      sessions.clear();
    },
  });
  return Promise.resolve({
    ...server,
    sessionsOpened: () => opened,
    sessionsDeleted: () => deleted,
  });
}
