/**
 * A legacy MCP server: the HTTP+SSE transport of protocol 2024-11-05 only. `GET /sse` opens an
 * event stream whose first event, `endpoint`, names `/messages?sessionId=...`; the client POSTs
 * each JSON-RPC message there (202) and reads the answers off the stream. A POST to `/sse`
 * gets 405, as old servers answer a Streamable HTTP client.
 *
 * The v2 server SDK no longer ships an SSE server transport (the frozen v1 copy lives in
 * `@modelcontextprotocol/server-legacy` and needs Express), so this file implements the SDK's
 * `Transport` interface over `Deno.serve`, the extension point the SDK documents for custom
 * transports, and connects the SDK's own `Server` to it, limited to protocol 2024-11-05.
 */
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/server";
import { buildToolServer, type ToolServerOptions } from "./mcp_sdk_servers.ts";
import { serveRecorded, type TestServer } from "./mcp_test_server.ts";

/** The one protocol version the legacy server speaks. */
export const LEGACY_SSE_VERSION = "2024-11-05";

const encoder = new TextEncoder();

/** One client's SSE session: the server side of the 2024-11-05 transport. */
class SseServerSession implements Transport {
  readonly sessionId = crypto.randomUUID();
  readonly stream: ReadableStream<Uint8Array>;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #closed = false;

  constructor(endpoint: string) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        controller.enqueue(
          encoder.encode(`event: endpoint\ndata: ${endpoint}?sessionId=${this.sessionId}\n\n`),
        );
      },
      cancel: () => this.#end(),
    });
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (!this.#closed) {
      this.#controller?.enqueue(
        encoder.encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`),
      );
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.#closed) {
      try {
        this.#controller?.close();
      } catch {
        // already errored or cancelled
      }
    }
    this.#end();
    return Promise.resolve();
  }

  /** Hands a POSTed message to the server. */
  receive(message: JSONRPCMessage): void {
    this.onmessage?.(message);
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }
}

/** A legacy SSE server also counts its event streams. */
export interface LegacySseServer extends TestServer {
  /** Event streams opened by `GET /sse` so far. */
  readonly streamsOpened: () => number;
  /** Event streams still open: the client has neither closed them nor gone away. */
  readonly openStreams: () => number;
}

/** Starts the legacy SSE server; its URL is the `/sse` stream. */
export function startLegacySseServer(options: ToolServerOptions = {}): Promise<LegacySseServer> {
  const sessions = new Map<string, SseServerSession>();
  let opened = 0;

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === "/sse" && request.method === "GET") {
      const session = new SseServerSession("/messages");
      opened++;
      sessions.set(session.sessionId, session);
      session.onclose = () => sessions.delete(session.sessionId);
      await buildToolServer(options, [LEGACY_SSE_VERSION]).connect(session);
      return new Response(session.stream, {
        headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
      });
    }
    if (url.pathname === "/messages" && request.method === "POST") {
      const session = sessions.get(url.searchParams.get("sessionId") ?? "");
      if (session === undefined) return new Response("Session not found", { status: 404 });
      let message: JSONRPCMessage;
      try {
        message = await request.json() as JSONRPCMessage;
      } catch {
        return new Response("Invalid JSON", { status: 400 });
      }
      session.receive(message);
      return new Response("Accepted", { status: 202 });
    }
    await request.body?.cancel();
    return new Response("Method Not Allowed", { status: 405, headers: { allow: "GET" } });
  };

  const server = serveRecorded(handle, {
    ...options,
    path: "/sse",
    beforeShutdown: async () => {
      await Promise.all([...sessions.values()].map((session) => session.close()));
    },
  });
  return Promise.resolve({
    ...server,
    streamsOpened: () => opened,
    openStreams: () => sessions.size,
  });
}
