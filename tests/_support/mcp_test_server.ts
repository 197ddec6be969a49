/**
 * What every test MCP server shares: a `Deno.serve` on 127.0.0.1, port 0, that records each
 * request (method, path, headers) before its handler answers, and stops for good on `close()`.
 */

/** One request as the server saw it. Header names are lower case. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON-RPC methods a POST body carried (filled in once the body is read). */
  readonly rpcMethods: readonly string[];
}

/** A running test server. `await using server = await start...()` closes it. */
export interface TestServer extends AsyncDisposable {
  /** The URL to probe. */
  readonly url: string;
  /** Every request received so far, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Stops the server: ends open streams and sessions, then the listener. Idempotent. */
  close(): Promise<void>;
}

/** Where a test server listens. */
export interface ListenOptions {
  /** Default 127.0.0.1. Tests may use another loopback address (127.0.0.2) as a "blocked" target. */
  readonly hostname?: string;
}

/** Records a request's method, path and headers; `rpcMethods` fills in when `bodyRead` settles. */
export function recordRequest(
  request: Request,
): { record: RecordedRequest; bodyRead: Promise<void> } {
  const url = new URL(request.url);
  const rpcMethods: string[] = [];
  const record = {
    method: request.method,
    path: url.pathname + url.search,
    headers: Object.fromEntries(
      [...request.headers].map(([name, value]) => [name.toLowerCase(), value]),
    ),
    rpcMethods,
  };
  const bodyRead = request.method !== "POST" || request.body === null
    ? Promise.resolve()
    : request.clone().json().then((body: unknown) => {
      for (const message of Array.isArray(body) ? body : [body]) {
        const method = (message as { method?: unknown } | null)?.method;
        if (typeof method === "string") rpcMethods.push(method);
      }
    }, () => {});
  return { record, bodyRead };
}

/**
 * Serves `handler` on `hostname` (default 127.0.0.1), port 0, recording every request.
 * `beforeShutdown` runs first on close, to end streams that would keep the server open.
 */
export function serveRecorded(
  handler: (request: Request) => Response | Promise<Response>,
  options: ListenOptions & { path: string; beforeShutdown?: () => Promise<void> | void },
): TestServer {
  const requests: RecordedRequest[] = [];
  const server = Deno.serve(
    { hostname: options.hostname ?? "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const { record, bodyRead } = recordRequest(request);
      requests.push(record);
      await bodyRead;
      return handler(request);
    },
  );
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      await options.beforeShutdown?.();
      await server.shutdown();
    })();
    return closing;
  };
  return {
    url: `http://${host}:${server.addr.port}${options.path}`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}
