/**
 * Runs one edge function as a worker of the Supabase edge runtime would: the function's own
 * index.ts calls `Deno.serve(handler)`; this host decides where it listens (127.0.0.1 and
 * the port the stack chose) and then loads the function. The gateway forwards
 * `/functions/v1/<name>/...` to the function's workers (function_workers.ts, which enforce
 * the runtime's limits) and they to this host as `/<name>/...`.
 *
 * Environment: FUNCTION_HOST_PORT, FUNCTION_ENTRYPOINT and FUNCTION_ENV_NAMES (the
 * comma-separated variables the function may see: the platform's and the user's secrets,
 * function_environment.ts). Every other variable, these three included, is removed before
 * the function loads, so it sees what a deployed function sees and no more.
 */
import { pathToFileURL } from "node:url";

const port = Number(Deno.env.get("FUNCTION_HOST_PORT"));
const entrypoint = Deno.env.get("FUNCTION_ENTRYPOINT");
const visible = Deno.env.get("FUNCTION_ENV_NAMES");
if (!Number.isInteger(port) || port <= 0 || !entrypoint || visible === undefined) {
  throw new Error("FUNCTION_HOST_PORT, FUNCTION_ENTRYPOINT and FUNCTION_ENV_NAMES must be set");
}
const keep = new Set(visible.split(",").filter(Boolean));
for (const name of Object.keys(Deno.env.toObject())) {
  if (!keep.has(name)) Deno.env.delete(name);
}

type ServeHandler = Deno.ServeHandler<Deno.NetAddr>;
type ServeOptions = Partial<Deno.ServeTcpOptions> & { handler?: ServeHandler };

const originalServe = Deno.serve.bind(Deno);
let served = false;

function hostedServe(
  first: ServeHandler | ServeOptions,
  second?: ServeHandler,
): Deno.HttpServer<Deno.NetAddr> {
  if (served) throw new Error("an edge function may call Deno.serve() only once");
  served = true;
  const options: ServeOptions = typeof first === "function" ? {} : { ...first };
  const handler = typeof first === "function" ? first : second ?? options.handler;
  if (!handler) throw new Error("Deno.serve() was called without a handler");
  return originalServe({
    ...options,
    handler,
    hostname: "127.0.0.1",
    port,
    onListen: () => {},
  });
}

Object.defineProperty(Deno, "serve", { value: hostedServe, configurable: true, writable: true });

// EdgeRuntime.waitUntil(), as the platform provides it: work that goes on after a response.
// A worker asked to end (SIGTERM: retired, or the stack stops) exits once that work has
// settled; the supervisor kills it when its wall clock runs out first.
const background = new Set<Promise<unknown>>();
Object.defineProperty(globalThis, "EdgeRuntime", {
  value: {
    waitUntil(promise: Promise<unknown>): void {
      const tracked = Promise.resolve(promise).catch(() => {}).finally(() =>
        background.delete(tracked)
      );
      background.add(tracked);
    },
  },
  configurable: true,
});
Deno.addSignalListener("SIGTERM", () => {
  Promise.allSettled([...background]).then(() => Deno.exit(0));
});

await import(pathToFileURL(entrypoint).href);
