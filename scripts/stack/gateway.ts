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
import type { ApiKeys } from "./keys.ts";

export interface GatewayRoutes {
  /** Origin of PostgREST, e.g. http://127.0.0.1:3000 */
  rest: string;
  /** Function name -> origin of its host, and whether the gateway verifies JWTs. */
  functions: Map<string, { origin: string | null; verifyJwt: boolean }>;
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

/** Matches Kong's idle timeout for functions (150 s, as on the hosted platform). */
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

function forwardHeaders(request: Request, authorization: string | null): Headers {
  const headers = new Headers(request.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.delete("host");
  if (authorization) headers.set("authorization", authorization);
  else headers.delete("authorization");
  const url = new URL(request.url);
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
  return headers;
}

async function proxy(request: Request, target: string, headers: Headers): Promise<Response> {
  const signal = AbortSignal.any([request.signal, AbortSignal.timeout(UPSTREAM_IDLE_TIMEOUT_MS)]);
  try {
    const upstream = await fetch(target, {
      method: request.method,
      headers,
      body: request.body,
      redirect: "manual",
      signal,
    });
    const responseHeaders = new Headers(upstream.headers);
    for (const name of HOP_BY_HOP) responseHeaders.delete(name);
    return new Response(upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: responseHeaders,
    });
  } catch (error) {
    if (signal.aborted && !request.signal.aborted) {
      return json({ code: "GATEWAY_TIMEOUT", message: "upstream did not answer in time" }, 504);
    }
    const message = error instanceof Error ? error.message : String(error);
    return json({ code: "BAD_GATEWAY", message: `upstream unreachable: ${message}` }, 502);
  }
}

async function verifyBearer(authorization: string | null, keys: ApiKeys): Promise<string | null> {
  if (!authorization) return "Error: Missing authorization header";
  const [scheme, token] = authorization.split(" ");
  if (scheme !== "Bearer" || !token) return "Error: Auth header is not 'Bearer {token}'";
  try {
    await jwtVerify(token, new TextEncoder().encode(keys.jwtSecret), { algorithms: ["HS256"] });
    return null;
  } catch {
    return "Invalid JWT";
  }
}

/** The gateway's request handler. */
export function createGatewayHandler(
  routes: GatewayRoutes,
  keys: ApiKeys,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const path = url.pathname;

    if (path === "/rest/v1" || path.startsWith("/rest/v1/")) {
      const target = routes.rest + (path.slice("/rest/v1".length) || "/") + url.search;
      const authorization = upstreamAuthorization(request.headers, keys);
      return await proxy(request, target, forwardHeaders(request, authorization));
    }

    if (path.startsWith("/functions/v1/")) {
      const rest = path.slice("/functions/v1".length); // "/<name>/..."
      const name = rest.split("/")[1] ?? "";
      const fn = routes.functions.get(name);
      if (!fn) return new Response("Function not found", { status: 404 });
      if (!fn.origin) {
        return json(
          { code: "BOOT_ERROR", message: "Worker failed to boot (please check logs)" },
          503,
        );
      }
      const authorization = upstreamAuthorization(request.headers, keys);
      if (fn.verifyJwt && request.method !== "OPTIONS") {
        const problem = await verifyBearer(authorization, keys);
        if (problem) return json({ msg: problem }, 401);
      }
      return await proxy(
        request,
        fn.origin + rest + url.search,
        forwardHeaders(request, authorization),
      );
    }

    if (path === "/auth/v1/.well-known/jwks.json") {
      // The local stack signs with the legacy symmetric secret: no public keys.
      return json({ keys: [] }, 200);
    }

    return json({ message: "no route matched with those values" }, 404);
  };
}
