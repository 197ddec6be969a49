/**
 * Server credentials: what the probe presents to an MCP server that requires authentication,
 * as administrators store them (`set_mcp_server_credentials()`, migration
 * 20261124001200_mcp_server_credentials.sql, whose `credentials_are_valid()` keeps the same
 * rules) and the functions read them with the service role (`mcp_server_probe_credentials()`).
 *
 * - `headers`: static request headers (`Authorization: Bearer …`, `X-API-Key: …`), sent to the
 *   server's origin on every request; a user's `customHeaders` of the same name are dropped.
 * - `oauth_client_credentials`: the OAuth 2.1 client credentials grant of the MCP authorization
 *   specification's extension `io.modelcontextprotocol/oauth-client-credentials`: the client
 *   authenticates with a secret (`client_secret_basic`/`_post`, as the authorization server
 *   supports) or a private key (`private_key_jwt`). The token endpoint is discovered (the
 *   server's 401 `WWW-Authenticate` → protected resource metadata → authorization server
 *   metadata) unless `tokenEndpoint` (or `authorizationServer`) names it.
 *
 * Every value here is secret; none may reach a response, a stored result, a log line or an
 * error message (see `redact.ts`).
 */
import { z } from "zod";
import { CustomHeaders } from "../../schemas/connection_config.ts";

export { AUTH_KINDS, type AuthKind, ProbeAuth } from "../../schemas/test_result.ts";

/** Signing algorithms for `private_key_jwt` (asymmetric only: a shared secret is `clientSecret`). */
export const SIGNING_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;

const HttpUrl = z.string().max(2048).regex(/^https?:\/\/\S+$/, "must be an http(s) URL");

/** Static request headers: 1 to 32, by the rules of a connection's `customHeaders`. */
export const HeaderCredentials = z.strictObject({
  kind: z.literal("headers"),
  headers: CustomHeaders.refine((headers) => Object.keys(headers).length >= 1, {
    message: "at least one header",
  }),
});

/** OAuth client credentials: a client id and either a secret or a private key. */
export const OAuthClientCredentials = z.strictObject({
  kind: z.literal("oauth_client_credentials"),
  clientId: z.string().min(1).max(512),
  clientSecret: z.string().min(1).max(4096).optional(),
  /** A PEM (PKCS#8) private key or a JWK as JSON, for `private_key_jwt`. */
  privateKey: z.string().min(1).max(16384).optional(),
  signingAlgorithm: z.enum(SIGNING_ALGORITHMS).optional(),
  /** Space-separated scopes; default: the protected resource metadata's `scopes_supported`. */
  scope: z.string().min(1).max(1024).optional(),
  /** Skips discovery: the token endpoint to use. */
  tokenEndpoint: HttpUrl.optional(),
  /** Skips protected resource discovery: the authorization server (its metadata is read). */
  authorizationServer: HttpUrl.optional(),
  /** The RFC 8707 `resource` to ask a token for; default: the metadata's, or the server URL. */
  resource: HttpUrl.optional(),
}).refine((c) => (c.clientSecret === undefined) !== (c.privateKey === undefined), {
  message: "exactly one of clientSecret and privateKey",
}).refine((c) => (c.privateKey === undefined) === (c.signingAlgorithm === undefined), {
  message: "signingAlgorithm goes with privateKey",
});

/** The credentials of one MCP server. */
export const ServerCredentials = z.discriminatedUnion("kind", [
  HeaderCredentials,
  OAuthClientCredentials,
]);
/** The credentials of one MCP server. */
export type ServerCredentials = z.infer<typeof ServerCredentials>;
/** OAuth client credentials. */
export type OAuthClientCredentials = z.infer<typeof OAuthClientCredentials>;

/** A server's credentials as the probe gets them: which server, which version (rotation). */
export const ServerCredential = z.object({
  serverId: z.uuid(),
  /** Bumped by every change; cached tokens of another version are dropped. */
  version: z.number().int().positive(),
  credentials: ServerCredentials,
});
/** A server's credentials as the probe gets them. */
export type ServerCredential = z.infer<typeof ServerCredential>;
