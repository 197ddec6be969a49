/**
 * Access tokens (and what discovery found) of the OAuth client credentials grant, kept in the
 * function worker's memory between probes: per MCP server and credential generation, never per
 * user (a token is the server's, obtained with the administrator's credentials, and is only
 * ever sent to that server). Nothing here is ever written anywhere.
 *
 * - **Generation.** An entry belongs to one generation of the server's credentials
 *   ({@link credentialGeneration}: the stored `version` and a fingerprint of the values, so a
 *   version number used again after a delete and a new insert is still a new generation).
 *   Another generation replaces the entry on its next use (a rotation drops the old tokens),
 *   except that the generation last read from the database ({@link ServerTokenCache.observe})
 *   stays: a probe still running with credentials read before gets an entry of its own that is
 *   not kept, and cannot drop the new generation's token.
 * - **Single flight.** Probes of one server that find no usable token share one token request
 *   ({@link ServerTokenCache.startFlight}, {@link ServerTokenCache.flight}): the health check
 *   probing every connection of a server at once asks the token endpoint once. A request that
 *   fails stores nothing; one that ends after the entry was replaced (a rotation, a delete)
 *   stores nothing either: its token stays with the probes of the old generation.
 * - **Forgetting.** When the credentials are read again ({@link ServerTokenCache.observe}, by
 *   `shared/domain/server_credentials.ts`), a server without OAuth credentials any more
 *   (deleted, or static headers now) is forgotten, and one of another generation drops its
 *   entry at once.
 */
import type { AuthorizationServerMetadata } from "@modelcontextprotocol/client";
import type { ServerCredential } from "./server_credentials.ts";

/** What discovery found for a server: where to ask for tokens, and for which resource. */
export interface OAuthDiscovery {
  /** The authorization server (its issuer URL). */
  readonly authorizationServerUrl: string;
  /** Its metadata as discovered (RFC 8414), or a minimal one naming a configured endpoint. */
  readonly metadata: AuthorizationServerMetadata;
  /** The RFC 8707 resource indicator to ask tokens for, if any. */
  readonly resource: string | undefined;
  /** The scope to ask for, if any. */
  readonly scope: string | undefined;
}

/** An access token and when it stops being used. */
export interface CachedToken {
  readonly accessToken: string;
  /** `performance.now()` time after which the token is not sent any more. */
  readonly usableUntil: number;
}

/** What the token endpoint granted. */
export interface TokenGrant {
  readonly accessToken: string;
  /** `expires_in`, if the authorization server gave one. */
  readonly expiresInSeconds: number | undefined;
}

/**
 * Which credentials an entry belongs to: the stored version and a fingerprint of the values.
 * The fingerprint (53 bits of a non-cryptographic hash, in memory only) tells apart two
 * credentials stored under the same version: after `delete_mcp_server_credentials()` the next
 * `set_mcp_server_credentials()` starts again at version 1.
 */
export function credentialGeneration(credential: ServerCredential): string {
  return `${credential.version}.${fingerprint(JSON.stringify(credential.credentials))}`;
}

/** cyrb53: a fast 53-bit string hash (not a secret, not a MAC: it only tells values apart). */
function fingerprint(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

interface Entry {
  /** {@link credentialGeneration} of the credentials it was filled with. */
  readonly generation: string;
  discovery: OAuthDiscovery | null;
  token: CachedToken | null;
  /** The token request in flight for this generation, if any. */
  flight: Promise<CachedToken> | null;
  /** The generation last read from the database: older ones do not replace it. */
  observed: boolean;
}

/** Servers kept at most; the least recently used goes first. */
const DEFAULT_MAX_SERVERS = 1_000;

/** The per-server token cache of one worker. */
export class ServerTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxServers: number;
  readonly #now: () => number;

  constructor(options: { maxServers?: number; now?: () => number } = {}) {
    this.#maxServers = options.maxServers ?? DEFAULT_MAX_SERVERS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The entry of this server at this generation; another generation's entry is dropped first. */
  #entry(serverId: string, generation: string): Entry {
    let entry = this.#entries.get(serverId);
    if (entry?.observed && entry.generation !== generation) {
      // Credentials read before the last read: this probe's entry is not kept.
      return { generation, discovery: null, token: null, flight: null, observed: false };
    }
    if (entry !== undefined) this.#entries.delete(serverId);
    if (entry === undefined || entry.generation !== generation) {
      entry = { generation, discovery: null, token: null, flight: null, observed: false };
    }
    // Re-inserted: the map's order is the use order.
    this.#entries.set(serverId, entry);
    while (this.#entries.size > this.#maxServers) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return entry;
  }

  /** A token of this server and generation that may still be used, if any. */
  token(serverId: string, generation: string): CachedToken | null {
    const entry = this.#entry(serverId, generation);
    if (entry.token !== null && entry.token.usableUntil <= this.#now()) entry.token = null;
    return entry.token;
  }

  /** What discovery found for this server and generation, if it ran. */
  discovery(serverId: string, generation: string): OAuthDiscovery | null {
    return this.#entry(serverId, generation).discovery;
  }

  /**
   * Keeps a token. It is used until `expiresInSeconds` less a margin (a tenth of its life, at
   * most 30 s), or for an hour when the authorization server gave no lifetime.
   */
  saveToken(
    serverId: string,
    generation: string,
    accessToken: string,
    expiresInSeconds: number | undefined,
  ): CachedToken {
    const token = this.#usable({ accessToken, expiresInSeconds });
    this.#entry(serverId, generation).token = token;
    return token;
  }

  #usable(grant: TokenGrant): CachedToken {
    const lifetimeMs = (grant.expiresInSeconds ?? 3_600) * 1_000;
    const marginMs = Math.min(30_000, lifetimeMs / 10);
    return { accessToken: grant.accessToken, usableUntil: this.#now() + lifetimeMs - marginMs };
  }

  /** The token request in flight for this server and generation, if any: wait for it. */
  flight(serverId: string, generation: string): Promise<CachedToken> | null {
    return this.#entry(serverId, generation).flight;
  }

  /**
   * Runs `request` as this server and generation's one token request in flight: until it ends,
   * {@link flight} gives it to every other probe. Its token is stored only if it was granted
   * and the entry it was asked for is still the server's (no rotation, delete or eviction in
   * between); either way the caller (and whoever waited for it) gets it. A failed request
   * stores nothing and rejects for everyone who waited.
   */
  startFlight(
    serverId: string,
    generation: string,
    request: () => Promise<TokenGrant>,
  ): Promise<CachedToken> {
    const entry = this.#entry(serverId, generation);
    if (entry.flight !== null) return entry.flight;
    const flight: Promise<CachedToken> = Promise.resolve()
      .then(request)
      .then((grant) => {
        const token = this.#usable(grant);
        if (this.#entries.get(serverId) === entry) entry.token = token;
        return token;
      })
      .finally(() => {
        if (entry.flight === flight) entry.flight = null;
      });
    entry.flight = flight;
    // Nobody may be waiting when it fails.
    flight.catch(() => {});
    return flight;
  }

  saveDiscovery(serverId: string, generation: string, discovery: OAuthDiscovery): void {
    this.#entry(serverId, generation).discovery = discovery;
  }

  /** Forgets a token the server refused (only if it is still the one cached). */
  dropToken(serverId: string, generation: string, accessToken: string): void {
    const entry = this.#entry(serverId, generation);
    if (entry.token?.accessToken === accessToken) entry.token = null;
  }

  /** Forgets everything about a server (e.g. its credentials were removed). */
  forget(serverId: string): void {
    this.#entries.delete(serverId);
  }

  /**
   * What a fresh read of the server's credentials found: none (they were deleted) or no OAuth
   * ones forget the server; OAuth credentials of another generation replace its entry now
   * (rather than on its next probe), and their generation is the one kept from now on.
   */
  observe(serverId: string, credential: ServerCredential | null): void {
    if (credential === null || credential.credentials.kind !== "oauth_client_credentials") {
      this.#entries.delete(serverId);
      return;
    }
    const generation = credentialGeneration(credential);
    const current = this.#entries.get(serverId);
    if (current?.generation !== generation) this.#entries.delete(serverId);
    this.#entry(serverId, generation).observed = true;
  }

  /** Servers with an entry (for tests). */
  get size(): number {
    return this.#entries.size;
  }
}

/** The worker's cache, shared by every probe the worker runs. */
export const serverTokenCache = new ServerTokenCache();
