/**
 * A working MCP server (the official SDK's modern-era server, which also answers the 2025
 * `initialize`) that answers with whatever a hostile or broken server may send: tool names of
 * megabytes, a `serverInfo` of megabytes, hundreds of made-up capabilities, tools/list pages
 * without end, names holding characters a database refuses. For the tests that whatever one
 * server answers, only its own result is affected and that result stays within its bounds.
 */
import { createMcpHandler, Server } from "@modelcontextprotocol/server";
import { type ListenOptions, serveRecorded, type TestServer } from "./mcp_test_server.ts";

/** What the hostile server answers. */
export interface HostileServerOptions extends ListenOptions {
  /** Characters of each generated tool name. Default 8. */
  readonly toolNameLength?: number;
  /** Tools per `tools/list` page. Default 1. */
  readonly toolsPerPage?: number;
  /** `tools/list` pages: a count, or `endless` (every page names a next one). Default 1. */
  readonly pages?: number | "endless";
  /** Tool names listed first, verbatim (before the generated ones). */
  readonly toolNames?: readonly string[];
  /** Characters of each `serverInfo` field (name, version, title). Default: short ones. */
  readonly serverInfoLength?: number;
  /** Made-up capabilities declared beside `tools`. Default 0. */
  readonly extraCapabilities?: number;
  /** Characters of each made-up capability name. Default 16. */
  readonly capabilityNameLength?: number;
}

/** A hostile server also counts the `tools/list` pages it served. */
export interface HostileServer extends TestServer {
  readonly pagesServed: () => number;
}

/** Starts the hostile server at `/mcp`. */
export function startHostileServer(options: HostileServerOptions = {}): Promise<HostileServer> {
  let pagesServed = 0;
  const pages = options.pages ?? 1;
  const perPage = options.toolsPerPage ?? 1;
  const nameLength = options.toolNameLength ?? 8;
  const verbatim = options.toolNames ?? [];
  const long = (label: string, length: number) =>
    `${label}-${"x".repeat(Math.max(0, length - label.length - 1))}`;
  const info = options.serverInfoLength;
  const capabilities: Record<string, object> = { tools: { listChanged: false } };
  for (let index = 0; index < (options.extraCapabilities ?? 0); index++) {
    capabilities[long(`cap${index}`, options.capabilityNameLength ?? 16)] = {};
  }

  const build = () => {
    const server = new Server(
      {
        name: info === undefined ? "hostile" : long("name", info),
        version: info === undefined ? "1.0.0" : long("version", info),
        ...(info === undefined ? {} : { title: long("title", info) }),
      },
      { capabilities },
    );
    server.setRequestHandler("tools/list", (request) => {
      pagesServed++;
      const page = Number(request.params?.cursor ?? "0");
      const names = page === 0 ? [...verbatim] : [];
      for (let index = 0; index < perPage; index++) {
        names.push(long(`p${page}t${index}`, nameLength));
      }
      const tools = names.map((name) => ({
        name,
        inputSchema: { type: "object" as const, properties: {} },
      }));
      const last = pages !== "endless" && page + 1 >= pages;
      return last ? { tools } : { tools, nextCursor: String(page + 1) };
    });
    return server;
  };
  const handler = createMcpHandler(build);
  const server = serveRecorded((request) => handler.fetch(request), {
    ...options,
    path: "/mcp",
    beforeShutdown: () => handler.close(),
  });
  return Promise.resolve({ ...server, pagesServed: () => pagesServed });
}
