/**
 * How one probe authenticates to its MCP server with the server's credentials, if it has any.
 *
 * - Static headers go with the connection's own `customHeaders` to the server's origin only
 *   (the guarded fetch sends them nowhere else and drops them on a redirect to another origin);
 *   a custom header of the same name (any case) is dropped: a user cannot override them.
 * - OAuth client credentials become the transport's `authProvider` (the SDK's `AuthProvider`
 *   shape): `token()` before every request gives the cached token while it is usable, or gets
 *   a new one when the token endpoint is known; a 401 from the server (`onUnauthorized`, which
 *   the transport follows with one retry) runs discovery as the MCP authorization
 *   specification describes (the `WWW-Authenticate` challenge's `resource_metadata`, RFC 9728
 *   protected resource metadata, RFC 8414 authorization server metadata: the SDK's
 *   `discoverOAuthServerInfo`) unless it ran before, drops the refused token and gets a new one
 *   (the SDK's `fetchToken` with its `ClientCredentialsProvider` or `PrivateKeyJwtProvider`,
 *   with the RFC 8707 `resource`). A user's `Authorization` custom header is dropped.
 *   A private key is read once per probe, before any token request, as a JWK of its algorithm
 *   (`signing_key.ts`): a key that does not fit is refused without contacting anyone.
 *
 * Every request, to the authorization server too, goes through the probe's guarded fetch: the
 * same network policy, body bounds and deadline as the MCP server's. Tokens are cached per
 * server (`token_cache.ts`), never per user; probes of one server that need a token at the same
 * time share one token request. A refusal is thrown as `CredentialError`, whose message names no
 * secret; the probe turns it into class `auth`, stage `token_endpoint`. A failure on the way
 * (refused, DNS, timeout, blocked) keeps its class and gets stage `token_endpoint` too:
 * {@link ServerAuth.pendingStep} says where the transport try was waiting.
 */
import {
  type AuthProvider,
  ClientCredentialsProvider,
  discoverAuthorizationServerMetadata,
  discoverOAuthServerInfo,
  extractWWWAuthenticateParams,
  fetchToken,
  InsecureTokenEndpointError,
  type OAuthClientProvider,
  OAuthError,
  PrivateKeyJwtProvider,
} from "@modelcontextprotocol/client";
import type { AuthKind, ProbeAuth } from "../../schemas/test_result.ts";
import type { GuardedFetch } from "../guarded_fetch.ts";
import { NetworkRefusal } from "../probe_errors.ts";
import type { OAuthClientCredentials, ServerCredential } from "./server_credentials.ts";
import { signingKey } from "./signing_key.ts";
import {
  credentialGeneration,
  type OAuthDiscovery,
  type ServerTokenCache,
  type TokenGrant,
} from "./token_cache.ts";

/** A failure to obtain a token: who refused, in words that hold no secret. */
export class CredentialError extends Error {
  override readonly name = "CredentialError";
  constructor(
    message: string,
    /** The HTTP status the token endpoint answered with, if it answered. */
    readonly httpStatus?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A probe's view of its server's credentials. */
export interface ServerAuth {
  readonly kind: AuthKind;
  /** The headers to send to the server's origin: the user's, then the server's over them. */
  headers(customHeaders: Readonly<Record<string, string>>): Readonly<Record<string, string>>;
  /** The transport's auth provider for one transport try, when the server uses OAuth. */
  authProvider(fetch: GuardedFetch): AuthProvider | undefined;
  /** What the stored result says. */
  summary(): ProbeAuth;
  /** Every secret value this probe held (credentials, tokens): none may be stored or shown. */
  secrets(): readonly string[];
  /**
   * The authorization server step the current transport try was waiting on (or failed in),
   * named for a message (`the token endpoint https://…/token`); null when it was not waiting on
   * one. A failure then is the authorization server's: stage `token_endpoint`.
   */
  pendingStep(): string | null;
}

const NO_AUTH: ServerAuth = {
  kind: "none",
  headers: (customHeaders) => customHeaders,
  authProvider: () => undefined,
  summary: () => ({ kind: "none" }),
  secrets: () => [],
  pendingStep: () => null,
};

/** The probe's auth for `credential` (null: the server has none). */
export function createServerAuth(
  credential: ServerCredential | null | undefined,
  serverUrl: URL,
  cache: ServerTokenCache,
): ServerAuth {
  if (credential === null || credential === undefined) return NO_AUTH;
  const { credentials } = credential;
  if (credentials.kind === "headers") {
    const own = Object.entries(credentials.headers);
    const names = new Set(own.map(([name]) => name.toLowerCase()));
    return {
      kind: "headers",
      headers: (customHeaders) => ({
        ...withoutNames(customHeaders, names),
        ...credentials.headers,
      }),
      authProvider: () => undefined,
      summary: () => ({ kind: "headers" }),
      secrets: () => own.map(([, value]) => value),
      pendingStep: () => null,
    };
  }
  return new OAuthServerAuth(credential, credentials, serverUrl, cache);
}

/** `headers` without those whose lower-case name is in `names`. */
function withoutNames(
  headers: Readonly<Record<string, string>>,
  names: ReadonlySet<string>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !names.has(name.toLowerCase())),
  );
}

const AUTHORIZATION = new Set(["authorization"]);

class OAuthServerAuth implements ServerAuth {
  readonly kind = "oauth_client_credentials" as const;
  readonly #serverId: string;
  /** The cache's key for these credentials (version and fingerprint). */
  readonly #generation: string;
  readonly #credentials: OAuthClientCredentials;
  readonly #serverUrl: URL;
  readonly #cache: ServerTokenCache;
  readonly #tokensSeen = new Set<string>();
  #tokenRequests = 0;
  /** The private key as a JWK (read on first use), with its private members. */
  #signingKey: Promise<{ jwk: Record<string, unknown>; secrets: readonly string[] }> | null = null;
  /** The private members of the key as read: they differ from a PEM key's text. */
  #keySecrets: readonly string[] = [];
  /** The authorization server step the current transport try waits on or failed in. */
  #pendingStep: string | null = null;

  constructor(
    credential: ServerCredential,
    credentials: OAuthClientCredentials,
    serverUrl: URL,
    cache: ServerTokenCache,
  ) {
    this.#serverId = credential.serverId;
    this.#generation = credentialGeneration(credential);
    this.#credentials = credentials;
    this.#serverUrl = serverUrl;
    this.#cache = cache;
  }

  headers(customHeaders: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
    return withoutNames(customHeaders, AUTHORIZATION);
  }

  authProvider(fetch: GuardedFetch): AuthProvider {
    // A new transport try: what the last one waited on is not this one's.
    this.#pendingStep = null;
    /** The token this try last sent (a 401 refuses that one). */
    let sent: string | undefined;
    /** The token this try obtained last (used if the cache lost it meanwhile). */
    let obtained: string | undefined;
    return {
      token: async () => {
        const cached = this.#cache.token(this.#serverId, this.#generation);
        if (cached !== null) return sent = this.#seen(cached.accessToken);
        if (obtained !== undefined) return sent = obtained;
        const discovery = await this.#knownDiscovery(fetch);
        // The token endpoint is not known yet: the server's 401 will say where to look.
        if (discovery === null) return undefined;
        return sent = obtained = await this.#obtainToken(discovery, fetch);
      },
      onUnauthorized: async ({ response }) => {
        // The refused token goes (unless another probe replaced it already: that one is new).
        if (sent !== undefined) this.#cache.dropToken(this.#serverId, this.#generation, sent);
        obtained = undefined;
        const discovery = await this.#knownDiscovery(fetch) ??
          await this.#discover(response, fetch);
        obtained = await this.#obtainToken(discovery, fetch, sent);
      },
    };
  }

  pendingStep(): string | null {
    return this.#pendingStep;
  }

  summary(): ProbeAuth {
    return { kind: this.kind, tokenRequests: this.#tokenRequests };
  }

  secrets(): readonly string[] {
    const { clientSecret, privateKey } = this.#credentials;
    return [
      ...(clientSecret === undefined ? [] : [clientSecret]),
      ...(privateKey === undefined ? [] : [privateKey]),
      ...this.#keySecrets,
      ...this.#tokensSeen,
    ];
  }

  #seen(accessToken: string): string {
    this.#tokensSeen.add(accessToken);
    return accessToken;
  }

  /**
   * Where tokens come from without asking the server: cached discovery, or the configured
   * token endpoint or authorization server (whose metadata is read once). Null: discover.
   */
  async #knownDiscovery(fetch: GuardedFetch): Promise<OAuthDiscovery | null> {
    const cached = this.#cache.discovery(this.#serverId, this.#generation);
    if (cached !== null) return cached;
    const { tokenEndpoint, authorizationServer, resource, scope } = this.#credentials;
    if (tokenEndpoint !== undefined) {
      const issuer = authorizationServer ?? new URL(tokenEndpoint).origin;
      return this.#remember({
        authorizationServerUrl: issuer,
        metadata: {
          issuer,
          authorization_endpoint: tokenEndpoint,
          token_endpoint: tokenEndpoint,
          response_types_supported: [],
        },
        resource: resource ?? this.#serverUrl.href,
        scope,
      });
    }
    if (authorizationServer !== undefined) {
      const metadata = await this.#step(
        "reading the authorization server's metadata",
        `the authorization server ${describeUrl(authorizationServer)}`,
        () => discoverAuthorizationServerMetadata(authorizationServer, { fetchFn: fetch }),
      );
      if (metadata === undefined) {
        throw new CredentialError(
          `the authorization server ${describeUrl(authorizationServer)} publishes no metadata`,
        );
      }
      return this.#remember({
        authorizationServerUrl: authorizationServer,
        metadata,
        resource: resource ?? this.#serverUrl.href,
        scope,
      });
    }
    return null;
  }

  /** Discovery from the server's 401, as the MCP authorization specification describes it. */
  async #discover(response: Response, fetch: GuardedFetch): Promise<OAuthDiscovery> {
    const { resourceMetadataUrl } = extractWWWAuthenticateParams(response);
    const info = await this.#step(
      "discovering the authorization server",
      "discovering the authorization server",
      () => discoverOAuthServerInfo(this.#serverUrl, { resourceMetadataUrl, fetchFn: fetch }),
    );
    const metadata = info.authorizationServerMetadata;
    if (metadata === undefined) {
      throw new CredentialError(
        `no authorization server metadata at ${describeUrl(info.authorizationServerUrl)}`,
      );
    }
    if (
      !(metadata.grant_types_supported ?? ["client_credentials"]).includes("client_credentials")
    ) {
      throw new CredentialError(
        `the authorization server ${
          describeUrl(info.authorizationServerUrl)
        } does not offer the client_credentials grant`,
      );
    }
    const scope = this.#credentials.scope ?? info.resourceMetadata?.scopes_supported?.join(" ");
    return this.#remember({
      authorizationServerUrl: info.authorizationServerUrl,
      metadata,
      resource: this.#credentials.resource ?? info.resourceMetadata?.resource ??
        this.#serverUrl.href,
      scope: scope === "" ? undefined : scope,
    });
  }

  #remember(discovery: OAuthDiscovery): OAuthDiscovery {
    this.#cache.saveDiscovery(this.#serverId, this.#generation, discovery);
    return discovery;
  }

  /**
   * A usable token: the cached one (unless it is `refused`), the one another probe of this
   * server is requesting right now, or a new request that the other probes share.
   */
  async #obtainToken(
    discovery: OAuthDiscovery,
    fetch: GuardedFetch,
    refused?: string,
  ): Promise<string> {
    const endpoint = `the token endpoint ${describeUrl(discovery.metadata.token_endpoint)}`;
    this.#pendingStep = endpoint;
    for (;;) {
      const cached = this.#cache.token(this.#serverId, this.#generation);
      if (cached !== null && cached.accessToken !== refused) {
        this.#pendingStep = null;
        return this.#seen(cached.accessToken);
      }
      const flight = this.#cache.flight(this.#serverId, this.#generation);
      if (flight !== null) {
        try {
          const token = await flight;
          this.#pendingStep = null;
          return this.#seen(token.accessToken);
        } catch (error) {
          // The probe that asked ran out of time or ended its try: this one asks itself.
          if (stoppedByItsProbe(error)) continue;
          throw error;
        }
      }
      const token = await this.#cache.startFlight(
        this.#serverId,
        this.#generation,
        () => this.#requestToken(discovery, fetch),
      );
      this.#pendingStep = null;
      return this.#seen(token.accessToken);
    }
  }

  /** The client credentials grant at the discovered token endpoint. */
  async #requestToken(discovery: OAuthDiscovery, fetch: GuardedFetch): Promise<TokenGrant> {
    const provider = await this.#provider(discovery);
    this.#tokenRequests++;
    let status: number | undefined;
    // The token endpoint's status, for the result (its body is the SDK's to read).
    const observed: GuardedFetch = async (input, init) => {
      const response = await fetch(input, init);
      status = response.status;
      return response;
    };
    const endpoint = describeUrl(discovery.metadata.token_endpoint);
    let tokens;
    try {
      tokens = await fetchToken(provider, discovery.authorizationServerUrl, {
        metadata: discovery.metadata,
        resource: discovery.resource,
        scope: discovery.scope,
        fetchFn: observed,
      });
    } catch (error) {
      throw tokenFailure(error, endpoint, status);
    }
    return { accessToken: tokens.access_token, expiresInSeconds: tokens.expires_in };
  }

  async #provider(discovery: OAuthDiscovery): Promise<OAuthClientProvider> {
    const { clientId, clientSecret, privateKey, signingAlgorithm } = this.#credentials;
    const issuer = typeof discovery.metadata.issuer === "string"
      ? discovery.metadata.issuer
      : discovery.authorizationServerUrl;
    if (privateKey !== undefined && signingAlgorithm !== undefined) {
      this.#signingKey ??= signingKey(privateKey, signingAlgorithm).then((key) => {
        if (!key.ok) {
          throw new CredentialError(
            `the private key is not a usable ${signingAlgorithm} signing key: ${key.reason}`,
          );
        }
        this.#keySecrets = key.secrets;
        return key;
      });
      const { jwk } = await this.#signingKey;
      return new PrivateKeyJwtProvider({
        clientId,
        privateKey: jwk,
        algorithm: signingAlgorithm,
        expectedIssuer: issuer,
        ...(discovery.scope === undefined ? {} : { scope: discovery.scope }),
      });
    }
    return new ClientCredentialsProvider({
      clientId,
      clientSecret: clientSecret ?? "",
      expectedIssuer: issuer,
      ...(discovery.scope === undefined ? {} : { scope: discovery.scope }),
    });
  }

  /**
   * Runs a discovery step (`where` names it for a network failure's message); a failure other
   * than a network one names the step.
   */
  async #step<T>(what: string, where: string, run: () => Promise<T>): Promise<T> {
    this.#pendingStep = where;
    let result: T;
    try {
      result = await run();
    } catch (error) {
      if (error instanceof NetworkRefusal || error instanceof TypeError) throw error;
      throw new CredentialError(`${what} failed: ${safeReason(error)}`, undefined, {
        cause: error,
      });
    }
    this.#pendingStep = null;
    return result;
  }
}

/**
 * Whether a shared token request failed because of the probe that made it (its deadline, its
 * caller, the end of its transport try) rather than because of the token endpoint.
 */
function stoppedByItsProbe(error: unknown): boolean {
  for (let link = error, depth = 0; link instanceof Error && depth < 8; depth++) {
    if (link instanceof NetworkRefusal) {
      return link.code === "deadline" || link.code === "cancelled";
    }
    if (isAbort(link)) return true;
    link = link.cause;
  }
  return false;
}

/** An abort of the request (the runtime's own words for it). */
function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/** The token endpoint's refusal as a `CredentialError` (network failures pass as they are). */
function tokenFailure(error: unknown, endpoint: string, status: number | undefined): unknown {
  if (error instanceof NetworkRefusal || error instanceof TypeError || isAbort(error)) return error;
  const answered = status === undefined ? "" : ` with HTTP ${status}`;
  if (error instanceof OAuthError) {
    return new CredentialError(
      `the token endpoint ${endpoint} refused the client credentials${answered} (${error.code})`,
      status,
      { cause: error },
    );
  }
  if (error instanceof InsecureTokenEndpointError) {
    return new CredentialError(
      `the token endpoint ${endpoint} is not https: credentials are not sent there`,
      undefined,
      { cause: error },
    );
  }
  return new CredentialError(
    `the token endpoint ${endpoint} gave no usable token${answered}: ${safeReason(error)}`,
    status,
    { cause: error },
  );
}

/**
 * A reason that repeats nothing the other side sent: the error's kind only (an authorization
 * server's text may echo what it was sent).
 */
function safeReason(error: unknown): string {
  if (error instanceof OAuthError) return `OAuth error ${error.code}`;
  if (error instanceof SyntaxError) return "the answer is not JSON";
  if (error instanceof Error && (error.name === "ZodError" || error.name === "$ZodError")) {
    return "the answer does not have the expected shape";
  }
  if (error instanceof Error) return error.name;
  return "unexpected failure";
}

/** A URL as messages show it: origin and path, no query or fragment (nor user info). */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "(not a URL)";
  }
}
