/**
 * The demo MCP server the local stack runs for the seeded "Demo MCP server" row:
 * a real server (the official SDK, both protocol eras) with two small tools, so
 * `POST /connections/:id/test` has something to talk to out of the box.
 */
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

function buildDemoServer(): McpServer {
  const server = new McpServer({ name: "agent-mcp-connections-demo", version: "1.0.0" });
  server.registerTool("echo", {
    description: "Returns the message it is given.",
    inputSchema: z.object({ message: z.string().max(10_000) }),
  }, ({ message }) => ({ content: [{ type: "text", text: message }] }));
  server.registerTool("current_time", {
    description: "Returns the server's current time (ISO 8601).",
  }, () => ({ content: [{ type: "text", text: new Date().toISOString() }] }));
  return server;
}

export interface DemoMcpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:54330/mcp */
  url: string;
  close(): Promise<void>;
}

/** Serves the demo MCP server on 127.0.0.1 at `/mcp`. */
export function startDemoMcpServer(port: number): DemoMcpServer {
  const handler = createMcpHandler(buildDemoServer);
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (request) => {
    const { pathname } = new URL(request.url);
    return pathname === "/mcp"
      ? handler.fetch(request)
      : Response.json({ error: "not found" }, { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    close: async () => {
      await handler.close();
      await server.shutdown();
    },
  };
}
