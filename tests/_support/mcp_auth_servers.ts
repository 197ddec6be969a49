/**
 * Authenticated test MCP servers (issue 15), on 127.0.0.1, built with the server SDK:
 *
 * - `startBearerServer`: the modern-era SDK server behind a static bearer token (or any header):
 *   a request without the right value gets 401 with `WWW-Authenticate: Bearer`; with `echo`, the
 *   401 body repeats the `Authorization` it got (as a careless server might), so tests can see
 *   the probe keep it out of its result.
 * - `startOAuthServers`: a small OAuth 2.1 authorization server (RFC 8414 metadata, a token
 *   endpoint for the client credentials grant, `client_secret_basic`, `client_secret_post` and
 *   `private_key_jwt` (RFC 7523 client assertions, verified against the registered public key),
 *   short-lived tokens bound to the `resource` they were asked for) and an MCP server protected
 *   by it (RFC 9728 protected resource metadata, a 401 challenge naming it). It counts token
 *   and metadata requests, so tests can prove reuse, refresh and single flight, and can hold
 *   token requests until a test lets them go.
 */
import { type CryptoKey, errors as joseErrors, jwtVerify } from "jose";
import { createModernHandler, type ToolServerOptions } from "./mcp_sdk_servers.ts";
import { serveRecorded, type TestServer } from "./mcp_test_server.ts";

/** A bearer-protected server. */
export interface BearerServerOptions extends ToolServerOptions {
  /** The header that must carry `value` (default `authorization`). */
  readonly header?: string;
  /** What it must carry (default `Bearer <token>` for `authorization`). */
  readonly value: string;
  /** Repeat the received `Authorization` in the 401 body. */
  readonly echo?: boolean;
}

/** The modern SDK server at `/mcp`, answering only requests carrying the right header. */
export function startBearerServer(options: BearerServerOptions): TestServer {
  const handler = createModernHandler(options);
  const header = options.header ?? "authorization";
  return serveRecorded((request) => {
    if (request.headers.get(header) !== options.value) {
      const got = request.headers.get("authorization") ?? "";
      return new Response(
        JSON.stringify({ error: "unauthorized", ...(options.echo ? { received: got } : {}) }),
        {
          status: 401,
          headers: { "content-type": "application/json", "www-authenticate": "Bearer" },
        },
      );
    }
    return handler.fetch(request);
  }, { ...options, path: "/mcp", beforeShutdown: () => handler.close() });
}

/** The authorization server and the MCP server it protects. */
export interface OAuthServers extends AsyncDisposable {
  /** The MCP server's URL (…/mcp). */
  readonly url: string;
  /** The authorization server's issuer URL. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Token requests received (granted or not). */
  readonly tokenRequests: () => number;
  /** Reads of the authorization server's metadata. */
  readonly metadataRequests: () => number;
  /** Why the last token request's client authentication was refused; null: it was accepted. */
  readonly lastRefusal: () => string | null;
  /**
   * Holds the next `count` token requests (default: every one) received from now on: counted,
   * not answered until the returned function is called.
   */
  holdTokenRequests(count?: number): () => void;
  /** 401s the MCP server answered (a probe without a usable token). */
  readonly unauthorized: () => number;
  /** The access tokens presented to the MCP server, in order (accepted or not). */
  readonly presentedTokens: () => readonly string[];
  /** Tokens granted. */
  readonly tokensIssued: () => number;
  /** Every access token granted so far. */
  readonly tokens: () => readonly string[];
  /** Forgets every token granted (the MCP server then refuses them). */
  revokeAll(): void;
  close(): Promise<void>;
}

export interface OAuthServerOptions extends ToolServerOptions {
  /** Token lifetime in seconds (default 60). */
  readonly expiresIn?: number;
  /** Scopes the protected resource metadata lists (default `["mcp:tools"]`). */
  readonly scopes?: readonly string[];
  /**
   * The client's registered public key for `private_key_jwt`: a client assertion (RFC 7523)
   * must be signed with its private key, `iss` = `sub` = the client id, `aud` the token
   * endpoint or the issuer, with `exp` (not past) and a `jti` not seen before.
   */
  readonly clientPublicKey?: CryptoKey;
}

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Starts the authorization server and the protected MCP server. */
export function startOAuthServers(options: OAuthServerOptions = {}): OAuthServers {
  const clientId = `probe-${crypto.randomUUID().slice(0, 8)}`;
  const clientSecret = `cs-${crypto.randomUUID()}`;
  const expiresIn = options.expiresIn ?? 60;
  const scopes = options.scopes ?? ["mcp:tools"];
  /** Granted tokens: when each stops being accepted, and for which resource. */
  const granted = new Map<string, { until: number; resource: string | null }>();
  const issuedTokens: string[] = [];
  let tokenRequests = 0;
  let metadataRequests = 0;
  let lastRefusal: string | null = null;
  /** The gate held token requests wait on, and how many more requests it holds. */
  let hold: { gate: Promise<void>; remaining: number } | null = null;
  /** Every gate's release: closing lets held requests go (the server waits for them). */
  const releases: (() => void)[] = [];
  let unauthorized = 0;
  const presented: string[] = [];
  const seenJtis = new Set<string>();
  let resourceUrl = "";

  const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    });

  // --- the authorization server ----------------------------------------------------
  let issuer = "";
  const authorizationServer = serveRecorded(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/.well-known/oauth-authorization-server") {
      metadataRequests++;
      return json({
        issuer,
        token_endpoint: `${issuer}/token`,
        authorization_endpoint: `${issuer}/authorize`,
        response_types_supported: ["code"],
        grant_types_supported: ["client_credentials"],
        token_endpoint_auth_methods_supported: [
          "client_secret_basic",
          "client_secret_post",
          ...(options.clientPublicKey === undefined ? [] : ["private_key_jwt"]),
        ],
        ...(options.clientPublicKey === undefined
          ? {}
          : { token_endpoint_auth_signing_alg_values_supported: ["ES256", "RS256", "EdDSA"] }),
        scopes_supported: scopes,
      });
    }
    if (path === "/token" && request.method === "POST") {
      tokenRequests++;
      if (hold !== null && hold.remaining > 0) {
        hold.remaining--;
        await hold.gate;
      }
      const form = new URLSearchParams(await request.text());
      const refusal = await authenticateClient(request, form);
      lastRefusal = refusal;
      if (refusal !== null) {
        return json(
          { error: "invalid_client", error_description: "client authentication failed" },
          401,
        );
      }
      if (form.get("grant_type") !== "client_credentials") {
        return json({ error: "unsupported_grant_type" }, 400);
      }
      const resource = form.get("resource");
      if (resource !== null && resource !== resourceUrl) {
        return json({ error: "invalid_target" }, 400);
      }
      const token = `at-${crypto.randomUUID()}`;
      granted.set(token, { until: Date.now() + expiresIn * 1_000, resource });
      issuedTokens.push(token);
      return json({
        access_token: token,
        token_type: "Bearer",
        expires_in: expiresIn,
        scope: form.get("scope") ?? undefined,
      });
    }
    return json({ error: "not_found" }, 404);
  }, { path: "/" });
  issuer = new URL(authorizationServer.url).origin;

  /** Null when the client authenticated (secret or assertion); else why not. */
  async function authenticateClient(
    request: Request,
    form: URLSearchParams,
  ): Promise<string | null> {
    const assertion = form.get("client_assertion");
    if (assertion !== null) {
      if (form.get("client_assertion_type") !== JWT_BEARER) return "wrong client_assertion_type";
      if (options.clientPublicKey === undefined) return "no key registered for private_key_jwt";
      const named = form.get("client_id");
      if (named !== null && named !== clientId) return "client_id differs from the assertion";
      try {
        const { payload } = await jwtVerify(assertion, options.clientPublicKey, {
          issuer: clientId,
          subject: clientId,
          audience: [`${issuer}/token`, issuer],
          requiredClaims: ["exp", "jti"],
        });
        const jti = payload.jti ?? "";
        if (seenJtis.has(jti)) return "assertion replayed (jti seen before)";
        seenJtis.add(jti);
        return null;
      } catch (error) {
        // jose's own codes; WebCrypto's refusal of a key of another algorithm is a TypeError.
        if (error instanceof joseErrors.JOSEError) return `assertion refused: ${error.code}`;
        return `assertion refused: ${error instanceof Error ? error.name : "unknown"}`;
      }
    }
    let id = form.get("client_id");
    let secret = form.get("client_secret");
    const basic = request.headers.get("authorization");
    if (basic?.startsWith("Basic ")) {
      const [user, pass] = atob(basic.slice(6)).split(":");
      id = decodeURIComponent(user ?? "");
      secret = decodeURIComponent(pass ?? "");
    }
    if (id !== clientId) return "unknown client";
    if (secret !== clientSecret) return "wrong client secret";
    return null;
  }

  // --- the protected MCP server ----------------------------------------------------------
  const handler = createModernHandler(options);
  let origin = "";
  const mcp = serveRecorded((request) => {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/.well-known/oauth-protected-resource")) {
      return json({
        resource: resourceUrl,
        authorization_servers: [issuer],
        scopes_supported: scopes,
        bearer_methods_supported: ["header"],
      });
    }
    const token = request.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
    if (token !== "") presented.push(token);
    const grant = granted.get(token);
    if (grant === undefined || grant.until <= Date.now() || grant.resource !== resourceUrl) {
      unauthorized++;
      return json({ error: "invalid_token" }, 401, {
        "www-authenticate":
          `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="${
            scopes.join(" ")
          }"`,
      });
    }
    return handler.fetch(request);
  }, { ...options, path: "/mcp", beforeShutdown: () => handler.close() });
  origin = new URL(mcp.url).origin;
  resourceUrl = mcp.url;

  const close = async () => {
    for (const release of releases) release();
    await Promise.all([mcp.close(), authorizationServer.close()]);
  };
  return {
    url: mcp.url,
    issuer,
    tokenEndpoint: `${issuer}/token`,
    clientId,
    clientSecret,
    tokenRequests: () => tokenRequests,
    metadataRequests: () => metadataRequests,
    lastRefusal: () => lastRefusal,
    holdTokenRequests: (count = Number.POSITIVE_INFINITY) => {
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const current = { gate, remaining: count };
      hold = current;
      releases.push(release);
      return () => {
        if (hold === current) hold = null;
        release();
      };
    },
    unauthorized: () => unauthorized,
    presentedTokens: () => [...presented],
    tokensIssued: () => issuedTokens.length,
    tokens: () => [...issuedTokens],
    revokeAll: () => granted.clear(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
