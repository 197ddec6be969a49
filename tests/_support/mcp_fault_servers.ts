/**
 * Servers that fail in one particular way each, for the probe's failure classification,
 * deadline and retry tests (and, later, the API's and health check's).
 */
import { createModernHandler } from "./mcp_sdk_servers.ts";
import {
  type ListenOptions,
  type RecordedRequest,
  serveRecorded,
  type TestServer,
} from "./mcp_test_server.ts";

/** The faults on offer. */
export type FaultKind =
  /** Nothing listens on the port: the connection is refused. */
  | "refused"
  /** Accepts TCP connections and never answers (any request). */
  | "hang"
  /** Turns POST down with 405 (a legacy server), then accepts the SSE GET and never answers it. */
  | "hang-sse"
  /** 405 to POST; the SSE GET gets a 200 event stream of comments that never names an endpoint. */
  | "slow-sse"
  /** Accepts TCP connections and closes them at once. */
  | "reset"
  /** HTTP 500 to everything. */
  | "http-500"
  /** HTTP 401 with a Bearer challenge to everything. */
  | "http-401"
  /** 200 `application/json` whose body is not JSON. */
  | "non-json"
  /** 200 `text/html`: a web page, valid HTTP but not MCP. */
  | "not-mcp"
  /** JSON-RPC answers whose results break the MCP schema. */
  | "invalid-result"
  /** 200 `application/json` streaming far more than the probe reads. */
  | "huge-body"
  /** 429 with `Retry-After` to the first `failFirst` requests, then a working modern server. */
  | "rate-limited"
  /** 503 (with `Retry-After` if given) to the first `failFirst` requests, then a working server. */
  | "unavailable"
  /** 307 to `location`. */
  | "redirect";

/** Fault parameters; each applies to the kinds that mention it. */
export interface FaultOptions extends ListenOptions {
  /** rate-limited, unavailable: how many requests fail before the server works. Default 1. */
  readonly failFirst?: number;
  /** rate-limited, unavailable: the `Retry-After` value. Default "1" for rate-limited. */
  readonly retryAfter?: string;
  /** redirect: where to. */
  readonly location?: string;
  /** huge-body: how many bytes the body would have. Default 64 MiB. */
  readonly bodyBytes?: number;
}

/** A fault server also counts what it did. */
export interface FaultServer extends TestServer {
  /** TCP connections accepted (raw-socket kinds) or requests served (HTTP kinds). */
  readonly connections: () => number;
  /** Body bytes the server produced (huge-body). */
  readonly bodyBytesSent: () => number;
}

/** Starts a server with the fault `kind`, its URL ending in `/mcp`. */
export function startFaultServer(
  kind: FaultKind,
  options: FaultOptions = {},
): Promise<FaultServer> {
  switch (kind) {
    case "refused":
      return Promise.resolve(refusedPort(options));
    case "hang":
    case "hang-sse":
    case "reset":
      return Promise.resolve(rawSocketServer(kind, options));
    default:
      return Promise.resolve(httpFaultServer(kind, options));
  }
}

/**
 * A port nothing listens on. It is taken below the kernel's ephemeral range: a port
 * that `port: 0` handed out and we closed again could be handed to the next test
 * server, which would then answer in its place.
 */
function refusedPort(options: ListenOptions): FaultServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = unusedPortBelowEphemeralRange(hostname);
  const close = () => Promise.resolve();
  return {
    url: `http://${hostname}:${port}/mcp`,
    requests: [],
    close,
    [Symbol.asyncDispose]: close,
    connections: () => 0,
    bodyBytesSent: () => 0,
  };
}

function unusedPortBelowEphemeralRange(hostname: string): number {
  let firstEphemeral = 32_768;
  try {
    firstEphemeral = Number(
      Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)[0],
    );
  } catch {
    // not Linux: keep the common default
  }
  const low = 10_000;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * Math.max(1, firstEphemeral - low));
    try {
      Deno.listen({ hostname, port }).close();
      return port;
    } catch {
      // taken: try another
    }
  }
  throw new Error("no free port below the ephemeral range");
}

/** hang, hang-sse and reset need the socket itself: no HTTP answer at all, or none but a 405. */
function rawSocketServer(kind: "hang" | "hang-sse" | "reset", options: ListenOptions): FaultServer {
  const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: 0 });
  const held = new Set<Deno.Conn>();
  const requests: RecordedRequest[] = [];
  let connections = 0;
  const serveConnection = async (conn: Deno.Conn) => {
    if (kind === "reset") {
      conn.close();
      return;
    }
    held.add(conn);
    const head = await readHead(conn);
    if (head === null) return;
    requests.push(head);
    if (kind === "hang-sse" && head.method !== "GET") {
      const body = "Method Not Allowed";
      await conn.write(
        new TextEncoder().encode(
          `HTTP/1.1 405 Method Not Allowed\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        ),
      ).catch(() => {});
      held.delete(conn);
      conn.close();
    }
    // Otherwise: hold the connection, answer nothing, until close().
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      connections++;
      serveConnection(conn).catch(() => {});
    }
  })().catch(() => {});
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      listener.close();
      await accepting;
      for (const conn of held) {
        try {
          conn.close();
        } catch {
          // already closed by the peer
        }
      }
      held.clear();
    })();
    return closing;
  };
  const host = options.hostname ?? "127.0.0.1";
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${listener.addr.port}/mcp`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
    connections: () => connections,
    bodyBytesSent: () => 0,
  };
}

/** Reads a request's head (up to the blank line); null if the peer hung up first. */
async function readHead(conn: Deno.Conn): Promise<RecordedRequest | null> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!text.includes("\r\n\r\n") && text.length < buffer.length) {
    const read = await conn.read(buffer).catch(() => null);
    if (read === null) return null;
    text += new TextDecoder().decode(buffer.subarray(0, read));
  }
  const [requestLine = "", ...headerLines] = text.split("\r\n\r\n")[0]?.split("\r\n") ?? [];
  const [method = "", path = ""] = requestLine.split(" ");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  return { method, path, headers, rpcMethods: [] };
}

function httpFaultServer(kind: FaultKind, options: FaultOptions): FaultServer {
  let served = 0;
  let bodyBytes = 0;
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const recovering = kind === "rate-limited" || kind === "unavailable"
    ? createModernHandler()
    : null;

  const handle = (request: Request): Response | Promise<Response> => {
    const index = served++;
    switch (kind) {
      case "http-500":
        return drained(request, new Response("Internal Server Error", { status: 500 }));
      case "http-401":
        return drained(
          request,
          new Response("Unauthorized", {
            status: 401,
            headers: { "www-authenticate": 'Bearer realm="test"' },
          }),
        );
      case "non-json":
        return drained(
          request,
          new Response("this is { not json", { headers: { "content-type": "application/json" } }),
        );
      case "not-mcp":
        return drained(
          request,
          new Response("<!doctype html><title>Welcome</title><h1>Hello</h1>", {
            headers: { "content-type": "text/html; charset=utf-8" },
          }),
        );
      case "invalid-result":
        return invalidResult(request);
      case "huge-body":
        return drained(
          request,
          hugeBody(options.bodyBytes ?? 64 * 1024 * 1024, (n) => (bodyBytes += n)),
        );
      case "redirect":
        return drained(
          request,
          new Response(null, { status: 307, headers: { location: options.location ?? "/" } }),
        );
      case "slow-sse":
        if (request.method !== "GET") {
          return drained(request, new Response("Method Not Allowed", { status: 405 }));
        }
        return commentOnlyStream(streams, timers);
      case "rate-limited":
      case "unavailable": {
        if (recovering !== null && index >= (options.failFirst ?? 1)) {
          return recovering.fetch(request);
        }
        const retryAfter = options.retryAfter ?? (kind === "rate-limited" ? "1" : undefined);
        return drained(
          request,
          new Response(kind === "rate-limited" ? "Too Many Requests" : "Service Unavailable", {
            status: kind === "rate-limited" ? 429 : 503,
            headers: retryAfter === undefined ? {} : { "retry-after": retryAfter },
          }),
        );
      }
      default:
        return drained(request, new Response("Not Found", { status: 404 }));
    }
  };

  const server = serveRecorded(handle, {
    ...options,
    path: "/mcp",
    beforeShutdown: async () => {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      for (const controller of streams) {
        try {
          controller.close();
        } catch {
          // cancelled by the client already
        }
      }
      streams.clear();
      await recovering?.close();
    },
  });
  return { ...server, connections: () => served, bodyBytesSent: () => bodyBytes };
}

async function drained(request: Request, response: Response): Promise<Response> {
  await request.body?.cancel().catch(() => {});
  return response;
}

/** Answers each JSON-RPC request with a result missing everything MCP requires. */
async function invalidResult(request: Request): Promise<Response> {
  if (request.method !== "POST") return drained(request, new Response(null, { status: 405 }));
  const message = await request.json().catch(() => null) as
    | { id?: unknown; method?: string }
    | null;
  if (message === null || message.id === undefined) return new Response(null, { status: 202 });
  return Response.json({
    jsonrpc: "2.0",
    id: message.id,
    result: { protocolVersion: 42, serverInfo: "nope" },
  });
}

/** A body of `total` spaces in 64 KiB chunks, produced only as fast as it is read. */
function hugeBody(total: number, onSent: (bytes: number) => void): Response {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      sent += chunk.byteLength;
      onSent(chunk.byteLength);
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: { "content-type": "application/json" } });
}

/** An event stream that sends a comment every 100 ms and never the `endpoint` event. */
function commentOnlyStream(
  streams: Set<ReadableStreamDefaultController<Uint8Array>>,
  timers: Set<ReturnType<typeof setInterval>>,
): Response {
  let timer: ReturnType<typeof setInterval> | undefined;
  let owner: ReadableStreamDefaultController<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      owner = controller;
      streams.add(controller);
      controller.enqueue(new TextEncoder().encode(": waiting\n\n"));
      timer = setInterval(() => {
        try {
          controller.enqueue(new TextEncoder().encode(": still waiting\n\n"));
        } catch {
          clearInterval(timer);
        }
      }, 100);
      timers.add(timer);
    },
    cancel() {
      clearInterval(timer);
      if (timer !== undefined) timers.delete(timer);
      if (owner !== undefined) streams.delete(owner);
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}
