/**
 * The options of `probe()`, their defaults, and their validation. A bad option is a
 * programming error (the API validates `connection_config` before it stores it), so it is
 * thrown as `ProbeOptionsError`, never reported as a probe result.
 */
import {
  CONNECTION_CONFIG_DEFAULTS,
  CONNECTION_CONFIG_LIMITS,
  CustomHeaders,
  HeaderName,
  HeaderValue,
} from "../schemas/connection_config.ts";
import type { ServerCredential } from "./auth/server_credentials.ts";
import { type ServerTokenCache, serverTokenCache } from "./auth/token_cache.ts";
import { type HostResolver, systemResolver } from "./host_resolver.ts";
import { type NetworkPolicy, PUBLIC_ONLY_POLICY } from "./network_policy.ts";
import { ProbeOptionsError } from "./probe_errors.ts";
import { type BackoffPolicy, DEFAULT_BACKOFF } from "./retry.ts";

/**
 * How to probe. `timeout`, `retryAttempts` and `customHeaders` mean what they mean in a
 * connection's `connection_config`, so `probe(url, { ...config, networkPolicy })` works.
 */
export interface ProbeOptions {
  /** Deadline of the whole probe, retries included, in ms. Default 10 000. */
  readonly timeout?: number;
  /** Extra attempts after a transient failure, within the same deadline. Default 2. */
  readonly retryAttempts?: number;
  /** Sent on every request to the connection's origin (not to other origins a redirect names). */
  readonly customHeaders?: Readonly<Record<string, string>>;
  /** What the SSRF guard admits beyond public addresses. Default: public addresses only. */
  readonly networkPolicy?: NetworkPolicy;
  /**
   * Cancels the probe. The result then has class `timeout` with a message saying it was
   * cancelled (no request is left running).
   */
  readonly signal?: AbortSignal;
  /** Largest response body read, in bytes (an SSE stream counts as one body). Default 4 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * The most response bytes the whole probe reads, every request and attempt together. Default
   * 8 MiB. With `maxBodyBytes` it bounds what one server can make a probe read, hold and parse:
   * a probe holds at most one response at a time, so its memory stays within a few times
   * `maxBodyBytes`.
   */
  readonly maxTotalBytes?: number;
  /** Most redirect hops followed per request. Default 3. */
  readonly maxRedirects?: number;
  /** Most `tools/list` pages followed. Default 32. */
  readonly maxToolPages?: number;
  /**
   * What the server spoke last time (its last result's `era` and `transport`): the probe starts
   * with that, and falls back to the usual order (Streamable HTTP with discovery, then SSE) when
   * the server no longer answers so. `transport: "sse"` skips the Streamable HTTP try a legacy
   * server turns down; `era: "legacy"` on Streamable HTTP skips `server/discover`. Null or
   * unknown values are ignored. A hint keeps what worked: a server that keeps its old transport
   * or era beside a new one is reported on the old one until a probe without hint.
   */
  readonly hint?: ProbeHint;
  /** How the probe introduces itself in `initialize` / `server/discover`. */
  readonly clientInfo?: { readonly name: string; readonly version: string };
  /**
   * The server's credentials (static headers or OAuth client credentials), read with the
   * service role only after RLS allowed the caller's connection; null or absent: none. Their
   * headers win over `customHeaders` of the same name; no value of them reaches the result.
   */
  readonly credentials?: ServerCredential | null;
  /** Where OAuth tokens are kept between probes, per server. Default: the worker's cache. */
  readonly tokenCache?: ServerTokenCache;
  /** Resolves host names for the SSRF guard. Default: `Deno.resolveDns`. For tests. */
  readonly resolver?: HostResolver;
  /** The retry backoff curve. For tests. */
  readonly backoff?: BackoffPolicy;
  /** Random numbers in [0, 1) for the backoff jitter. For tests. */
  readonly random?: () => number;
}

/** What a server spoke last time, as its last result says. */
export interface ProbeHint {
  readonly era?: string | null;
  readonly transport?: string | null;
}

/** Where a hinted probe starts: a transport, and the negotiation to use on it. */
export type ProbeStart =
  | { readonly transport: "sse" }
  | { readonly transport: "streamable-http"; readonly negotiation: "legacy" };

/** Options with every default filled in. */
export interface ResolvedProbeOptions {
  readonly url: URL;
  readonly timeout: number;
  readonly retryAttempts: number;
  readonly customHeaders: Readonly<Record<string, string>>;
  readonly networkPolicy: NetworkPolicy;
  readonly signal: AbortSignal | undefined;
  readonly maxBodyBytes: number;
  readonly maxTotalBytes: number;
  readonly maxRedirects: number;
  readonly maxToolPages: number;
  readonly clientInfo: { readonly name: string; readonly version: string };
  readonly credentials: ServerCredential | null;
  readonly tokenCache: ServerTokenCache;
  /** Where the hint says to start; null: the usual order. */
  readonly start: ProbeStart | null;
  readonly resolver: HostResolver;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
}

/** Defaults beyond `CONNECTION_CONFIG_DEFAULTS`. */
export const PROBE_DEFAULTS = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxTotalBytes: 8 * 1024 * 1024,
  maxRedirects: 3,
  maxToolPages: 32,
  clientInfo: Object.freeze({ name: "agent-mcp-connections-probe", version: "1.0.0" }),
});

/** Validates the options and fills in defaults; throws {@link ProbeOptionsError}. */
export function resolveProbeOptions(
  url: string | URL,
  options: ProbeOptions = {},
): ResolvedProbeOptions {
  const issues: string[] = [];
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    issues.push(`url: not a URL: ${String(url).slice(0, 200)}`);
  }
  const timeout = options.timeout ?? CONNECTION_CONFIG_DEFAULTS.timeout;
  checkInteger(issues, "timeout", timeout, CONNECTION_CONFIG_LIMITS.timeout);
  const retryAttempts = options.retryAttempts ?? CONNECTION_CONFIG_DEFAULTS.retryAttempts;
  checkInteger(issues, "retryAttempts", retryAttempts, CONNECTION_CONFIG_LIMITS.retryAttempts);
  const maxBodyBytes = options.maxBodyBytes ?? PROBE_DEFAULTS.maxBodyBytes;
  checkInteger(issues, "maxBodyBytes", maxBodyBytes, { min: 1, max: 1024 * 1024 * 1024 });
  const maxTotalBytes = options.maxTotalBytes ?? PROBE_DEFAULTS.maxTotalBytes;
  checkInteger(issues, "maxTotalBytes", maxTotalBytes, { min: 1, max: 1024 * 1024 * 1024 });
  const maxRedirects = options.maxRedirects ?? PROBE_DEFAULTS.maxRedirects;
  checkInteger(issues, "maxRedirects", maxRedirects, { min: 0, max: 10 });
  const maxToolPages = options.maxToolPages ?? PROBE_DEFAULTS.maxToolPages;
  checkInteger(issues, "maxToolPages", maxToolPages, { min: 1, max: 1_000 });

  const customHeaders = options.customHeaders ?? {};
  issues.push(...headerIssues(customHeaders));
  if (issues.length > 0 || parsed === null) throw new ProbeOptionsError(issues);

  return {
    url: parsed,
    timeout,
    retryAttempts,
    customHeaders: Object.freeze({ ...customHeaders }),
    networkPolicy: options.networkPolicy ?? PUBLIC_ONLY_POLICY,
    signal: options.signal,
    maxBodyBytes,
    maxTotalBytes,
    maxRedirects,
    maxToolPages,
    clientInfo: options.clientInfo ?? PROBE_DEFAULTS.clientInfo,
    credentials: options.credentials ?? null,
    tokenCache: options.tokenCache ?? serverTokenCache,
    start: startFromHint(options.hint),
    resolver: options.resolver ?? systemResolver,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    random: options.random ?? Math.random,
  };
}

/**
 * Where a hint says to start: SSE for an SSE server (its era is always the handshake's), the
 * `initialize` handshake straight away for a handshake-era Streamable HTTP server; null where
 * the usual order is already what the server spoke (a modern server) or the hint says nothing.
 */
function startFromHint(hint: ProbeHint | undefined): ProbeStart | null {
  if (hint?.transport === "sse") return { transport: "sse" };
  if (hint?.transport === "streamable-http" && hint.era === "legacy") {
    return { transport: "streamable-http", negotiation: "legacy" };
  }
  return null;
}

function checkInteger(
  issues: string[],
  name: string,
  value: number,
  bounds: { readonly min: number; readonly max: number },
): void {
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    issues.push(`${name}: must be an integer from ${bounds.min} to ${bounds.max}, got ${value}`);
  }
}

/** What is wrong with the custom headers, by the connection_config rules, one line each. */
function headerIssues(headers: Readonly<Record<string, string>>): string[] {
  const entries = Object.entries(headers);
  // No headers: nothing to check (the whole-set rules, a count and unique names, hold).
  if (entries.length === 0) return [];
  const issues: string[] = [];
  for (const [name, value] of entries) {
    const nameCheck = HeaderName.safeParse(name);
    if (!nameCheck.success) {
      issues.push(
        ...nameCheck.error.issues.map((issue) => `customHeaders: "${name}" ${issue.message}`),
      );
    }
    const valueCheck = HeaderValue.safeParse(value);
    if (!valueCheck.success) {
      issues.push(
        ...valueCheck.error.issues.map((issue) => `customHeaders.${name}: value ${issue.message}`),
      );
    }
  }
  if (issues.length > 0) return issues;
  const whole = CustomHeaders.safeParse(headers);
  return whole.success ? [] : whole.error.issues.map((issue) => `customHeaders: ${issue.message}`);
}
