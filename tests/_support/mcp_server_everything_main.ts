/**
 * Runs the third-party reference server `@modelcontextprotocol/server-everything` (pinned in
 * deno.json) under Deno, bound to 127.0.0.1 on a free port, and prints
 * `MCP_SERVER_EVERYTHING_LISTENING <port>` on stdout once it listens.
 *
 *     PORT=0 deno run --allow-net=127.0.0.1 --allow-read --allow-env --allow-sys \
 *       tests/_support/mcp_server_everything_main.ts streamableHttp|sse
 *
 * The server calls Express's `app.listen(PORT)`, which listens on every interface; this
 * launcher patches `node:http`'s `Server.prototype.listen` first so that every listen binds
 * 127.0.0.1 instead. `mcp_server_everything.ts` starts it for the tests.
 */
import http from "node:http";

/** The line the launcher prints when the server listens. */
export const LISTENING_MARKER = "MCP_SERVER_EVERYTHING_LISTENING";

type Listen = (this: http.Server, ...args: unknown[]) => http.Server;

function bindToLoopback(): void {
  const original = http.Server.prototype.listen as unknown as Listen;
  const patched: Listen = function (this: http.Server, ...args: unknown[]) {
    const port = typeof args[0] === "number" || typeof args[0] === "string" ? Number(args[0]) : 0;
    const callback = args.find((arg) => typeof arg === "function");
    this.once("listening", () => {
      const address = this.address();
      const bound = typeof address === "object" && address !== null ? address.port : port;
      Deno.stdout.writeSync(new TextEncoder().encode(`${LISTENING_MARKER} ${bound}\n`));
    });
    return original.call(this, { port, host: "127.0.0.1" }, callback);
  };
  http.Server.prototype.listen = patched as unknown as typeof http.Server.prototype.listen;
}

if (import.meta.main) {
  const mode = Deno.args[0];
  bindToLoopback();
  if (mode === "streamableHttp") {
    await import("@modelcontextprotocol/server-everything/dist/transports/streamableHttp.js");
  } else if (mode === "sse") {
    await import("@modelcontextprotocol/server-everything/dist/transports/sse.js");
  } else {
    throw new Error(`usage: mcp_server_everything_main.ts streamableHttp|sse (got ${mode})`);
  }
}
