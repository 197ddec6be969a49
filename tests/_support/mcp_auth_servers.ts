/**
 * Authenticated test MCP servers (issue 15), on 127.0.0.1, built with the server SDK:
 *
 * - `startBearerServer`: the modern-era SDK server behind a static bearer token (or any header):
 *   a request without the right value gets 401 with `WWW-Authenticate: Bearer`; with `echo`, the
 *   401 body repeats the `Authorization` it got (as a careless server might), so tests can see
 *   the probe keep it out of its result.
 * - `startOAuthServers`: a small OAuth 2.1 authorization server (RFC 8414 metadata, a token
 *   endpoint for the client credentials grant, `client_secret_basic` and `client_secret_post`,
 *   short-lived tokens bound to the `resource` they were asked for) and an MCP server protected
 *   by it (RFC 9728 protected resource metadata, a 401 challenge naming it). It counts token
 *   requests, so tests can prove reuse and refresh.
 */
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
}

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
      return json({
        issuer,
        token_endpoint: `${issuer}/token`,
        authorization_endpoint: `${issuer}/authorize`,
        response_types_supported: ["code"],
        grant_types_supported: ["client_credentials"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        scopes_supported: scopes,
      });
    }
    if (path === "/token" && request.method === "POST") {
      tokenRequests++;
      const form = new URLSearchParams(await request.text());
      let id = form.get("client_id");
      let secret = form.get("client_secret");
      const basic = request.headers.get("authorization");
      if (basic?.startsWith("Basic ")) {
        const [user, pass] = atob(basic.slice(6)).split(":");
        id = decodeURIComponent(user ?? "");
        secret = decodeURIComponent(pass ?? "");
      }
      if (id !== clientId || secret !== clientSecret) {
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
    const presented = request.headers.get("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
    const grant = granted.get(presented);
    if (grant === undefined || grant.until <= Date.now() || grant.resource !== resourceUrl) {
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
    await Promise.all([mcp.close(), authorizationServer.close()]);
  };
  return {
    url: mcp.url,
    issuer,
    tokenEndpoint: `${issuer}/token`,
    clientId,
    clientSecret,
    tokenRequests: () => tokenRequests,
    tokensIssued: () => issuedTokens.length,
    tokens: () => [...issuedTokens],
    revokeAll: () => granted.clear(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
