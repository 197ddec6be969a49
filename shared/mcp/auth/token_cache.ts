/**
 * Access tokens (and what discovery found) of the OAuth client credentials grant, kept in the
 * function worker's memory between probes: per MCP server and credential version, never per
 * user (a token is the server's, obtained with the administrator's credentials, and is only
 * ever sent to that server). A new credential version (a rotation, `set_mcp_server_credentials`)
 * drops the server's entry on its next probe. Nothing here is ever written anywhere.
 */
import type { AuthorizationServerMetadata } from "@modelcontextprotocol/client";

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

interface Entry {
  readonly version: number;
  discovery: OAuthDiscovery | null;
  token: CachedToken | null;
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

  /** The entry of this server at this version; another version's entry is dropped first. */
  #entry(serverId: string, version: number): Entry {
    let entry = this.#entries.get(serverId);
    if (entry !== undefined) this.#entries.delete(serverId);
    if (entry === undefined || entry.version !== version) {
      entry = { version, discovery: null, token: null };
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

  /** A token of this server and version that may still be used, if any. */
  token(serverId: string, version: number): CachedToken | null {
    const entry = this.#entry(serverId, version);
    if (entry.token !== null && entry.token.usableUntil <= this.#now()) entry.token = null;
    return entry.token;
  }

  /** What discovery found for this server and version, if it ran. */
  discovery(serverId: string, version: number): OAuthDiscovery | null {
    return this.#entry(serverId, version).discovery;
  }

  /**
   * Keeps a token. It is used until `expiresInSeconds` less a margin (a tenth of its life, at
   * most 30 s), or for an hour when the authorization server gave no lifetime.
   */
  saveToken(
    serverId: string,
    version: number,
    accessToken: string,
    expiresInSeconds: number | undefined,
  ): CachedToken {
    const lifetimeMs = (expiresInSeconds ?? 3_600) * 1_000;
    const marginMs = Math.min(30_000, lifetimeMs / 10);
    const token = { accessToken, usableUntil: this.#now() + lifetimeMs - marginMs };
    this.#entry(serverId, version).token = token;
    return token;
  }

  saveDiscovery(serverId: string, version: number, discovery: OAuthDiscovery): void {
    this.#entry(serverId, version).discovery = discovery;
  }

  /** Forgets a token the server refused (only if it is still the one cached). */
  dropToken(serverId: string, version: number, accessToken: string): void {
    const entry = this.#entry(serverId, version);
    if (entry.token?.accessToken === accessToken) entry.token = null;
  }

  /** Forgets everything about a server (e.g. its credentials were removed). */
  forget(serverId: string): void {
    this.#entries.delete(serverId);
  }

  /** Servers with an entry (for tests). */
  get size(): number {
    return this.#entries.size;
  }
}

/** The worker's cache, shared by every probe the worker runs. */
export const serverTokenCache = new ServerTokenCache();
