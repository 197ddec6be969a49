/**
 * Runs one edge function as the Supabase edge runtime would: the function's own
 * index.ts calls `Deno.serve(handler)`; this host decides where it listens
 * (127.0.0.1 and the port the stack chose) and then loads the function. The
 * gateway forwards `/functions/v1/<name>/...` here as `/<name>/...`.
 *
 * Environment: FUNCTION_HOST_PORT, FUNCTION_ENTRYPOINT, plus what the function
 * itself reads (SUPABASE_URL, SUPABASE_ANON_KEY, ...).
 */
import { pathToFileURL } from "node:url";

const port = Number(Deno.env.get("FUNCTION_HOST_PORT"));
const entrypoint = Deno.env.get("FUNCTION_ENTRYPOINT");
if (!Number.isInteger(port) || port <= 0 || !entrypoint) {
  throw new Error("FUNCTION_HOST_PORT and FUNCTION_ENTRYPOINT must be set");
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

await import(pathToFileURL(entrypoint).href);
