/**
 * The local API gateway: one URL that answers like a Supabase project URL.
 *
 *   /rest/v1/*              -> PostgREST /*
 *   /functions/v1/<name>/*  -> the function's host as /<name>/*  (the path a
 *                              deployed function sees keeps its name)
 *   /auth/v1/.well-known/jwks.json -> the public signing keys (none locally)
 *
 * As the Supabase CLI's Kong does, it puts the right JWT in Authorization: a
 * user's own bearer token passes through; otherwise the `apikey` header (legacy
 * anon/service_role JWT, or the opaque sb_publishable_/sb_secret_ keys, which are
 * swapped for the anon/service_role JWTs) becomes the bearer token. For functions
 * with verify_jwt = true it rejects requests without a valid JWT, as the edge
 * runtime does, before the function runs.
 */
import { jwtVerify } from "jose";
import { SessionCache } from "../../shared/auth/session_cache.ts";
import type { ApiKeys } from "./keys.ts";

/** Where the gateway sends a function's requests: its workers (function_workers.ts). */
export interface FunctionUpstream {
  fetch(
    pathAndQuery: string,
    init: { method: string; headers: Headers; body: ReadableStream<Uint8Array> | null },
    clientSignal?: AbortSignal,
  ): Promise<Response>;
}

export interface GatewayRoutes {
  /** Origin of PostgREST, e.g. http://127.0.0.1:3000 */
  rest: string;
  /**
   * Function name -> its workers (null: the entrypoint is missing), and whether the gateway
   * verifies JWTs. The workers enforce the Edge Runtime's limits and the request idle timeout.
   */
  functions: Map<string, { upstream: FunctionUpstream | null; verifyJwt: boolean }>;
}

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Kong's upstream timeout for PostgREST (functions: their workers' request idle timeout). */
const UPSTREAM_IDLE_TIMEOUT_MS = 150_000;

function json(body: unknown, status: number): Response {
  return Response.json(body, { status });
}

/** The Authorization header to send upstream (the CLI's Kong rule). */
export function upstreamAuthorization(headers: Headers, keys: ApiKeys): string | null {
  const authorization = headers.get("authorization");
  if (authorization && !authorization.startsWith("Bearer sb_")) return authorization;
  const apikey = headers.get("apikey");
  if (apikey === keys.secretKey) return `Bearer ${keys.serviceRoleKey}`;
  if (apikey === keys.publishableKey) return `Bearer ${keys.anonKey}`;
  return apikey ? `Bearer ${apikey}` : null;
}

function forwardHeaders(request: Request, url: URL, authorization: string | null): Headers {
  const headers = new Headers(request.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.delete("host");
  if (authorization) headers.set("authorization", authorization);
  else headers.delete("authorization");
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  return headers;
}

/** The upstream's headers without hop-by-hop ones; copied only when there are some. */
function responseHeaders(upstream: Headers): Headers {
  if (!HOP_BY_HOP.some((name) => upstream.has(name))) return upstream;
  const headers = new Headers(upstream);
  for (const name of HOP_BY_HOP) headers.delete(name);
  return headers;
}

async function proxy(request: Request, target: string, headers: Headers): Promise<Response> {
  // One controller per request: aborted when the client goes away, or when the
  // upstream has not started answering within the idle timeout. (A timer that is
  // cleared, not AbortSignal.timeout(), which would keep one timer per request alive.)
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, UPSTREAM_IDLE_TIMEOUT_MS);
  request.signal.addEventListener("abort", () => controller.abort(), { once: true });
  try {
    const upstream = await fetch(target, {
      method: request.method,
      headers,
      body: request.body,
      redirect: "manual",
      signal: controller.signal,
    });
    return new Response(upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: responseHeaders(upstream.headers),
    });
  } catch (error) {
    if (timedOut) {
      return json({ code: "GATEWAY_TIMEOUT", message: "upstream did not answer in time" }, 504);
    }
    const message = error instanceof Error ? error.message : String(error);
    return json({ code: "BAD_GATEWAY", message: `upstream unreachable: ${message}` }, 502);
  } finally {
    clearTimeout(timer);
  }
}

/** Checks `Authorization: Bearer <JWT>` as the edge runtime does; null when valid, else why not. */
function createBearerCheck(
  keys: ApiKeys,
): (authorization: string | null) => Promise<string | null> {
  const key = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(keys.jwtSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const verified = new SessionCache<true>();
  return async (authorization) => {
    if (!authorization) return "Error: Missing authorization header";
    const [scheme, token] = authorization.split(" ");
    if (scheme !== "Bearer" || !token) return "Error: Auth header is not 'Bearer {token}'";
    if (verified.get(token)) return null;
    try {
      const { payload } = await jwtVerify(token, await key, { algorithms: ["HS256"] });
      verified.set(token, true, typeof payload.exp === "number" ? payload.exp * 1000 : undefined);
      return null;
    } catch {
      return "Invalid JWT";
    }
  };
}

/** The gateway's request handler. */
export function createGatewayHandler(
  routes: GatewayRoutes,
  keys: ApiKeys,
): (request: Request) => Promise<Response> {
  const checkBearer = createBearerCheck(keys);
  return async (request) => {
    const url = new URL(request.url);
    const path = url.pathname;

    if (path === "/rest/v1" || path.startsWith("/rest/v1/")) {
      const target = routes.rest + (path.slice("/rest/v1".length) || "/") + url.search;
      const authorization = upstreamAuthorization(request.headers, keys);
      return await proxy(request, target, forwardHeaders(request, url, authorization));
    }

    if (path.startsWith("/functions/v1/")) {
      const rest = path.slice("/functions/v1".length); // "/<name>/..."
      const name = rest.split("/")[1] ?? "";
      const fn = routes.functions.get(name);
      if (!fn) return new Response("Function not found", { status: 404 });
      if (!fn.upstream) {
        return json(
          { code: "BOOT_ERROR", message: "Worker failed to boot (please check logs)" },
          503,
        );
      }
      const authorization = upstreamAuthorization(request.headers, keys);
      if (fn.verifyJwt && request.method !== "OPTIONS") {
        const problem = await checkBearer(authorization);
        if (problem) return json({ msg: problem }, 401);
      }
      const answer = await fn.upstream.fetch(rest + url.search, {
        method: request.method,
        headers: forwardHeaders(request, url, authorization),
        body: request.body,
      }, request.signal);
      const headers = responseHeaders(answer.headers);
      return headers === answer.headers ? answer : new Response(answer.body, {
        status: answer.status,
        statusText: answer.statusText,
        headers,
      });
    }

    if (path === "/auth/v1/.well-known/jwks.json") {
      // The local stack signs with the legacy symmetric secret: no public keys.
      return json({ keys: [] }, 200);
    }

    return json({ message: "no route matched with those values" }, 404);
  };
}
