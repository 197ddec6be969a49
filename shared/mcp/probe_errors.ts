/**
 * The errors the probe's own layers raise. Network-layer errors travel through the MCP SDK
 * (which may wrap or stringify them), so they are also recorded in the attempt's
 * `AttemptTrace`; `failure.ts` turns them into a result's error class.
 */

/** Why the probe's network layer refused or cut off a request. */
export type NetworkRefusalCode =
  /** The SSRF guard refused the target. */
  | "blocked"
  /** The target's host name did not resolve. */
  | "dns"
  /** A response body exceeded the size bound. */
  | "body_too_large"
  /** Redirects went on past the hop limit. */
  | "too_many_redirects"
  /** The probe's deadline passed. */
  | "deadline"
  /** The caller's `AbortSignal` cancelled the probe. */
  | "cancelled";

/** A request the probe's network layer refused or cut off, by `code`. */
export class NetworkRefusal extends Error {
  override readonly name = "NetworkRefusal";
  /** What happened. */
  readonly code: NetworkRefusalCode;
  /** The HTTP status involved, when there was one (a redirect loop's last status). */
  readonly httpStatus?: number;

  constructor(code: NetworkRefusalCode, message: string, httpStatus?: number) {
    super(message);
    this.code = code;
    if (httpStatus !== undefined) this.httpStatus = httpStatus;
  }
}

/**
 * A probe called with options it must not accept (a forbidden or malformed header, a timeout
 * out of range, a URL that does not parse): a programming error, thrown by `probe()` before
 * any request, never stored as a result.
 */
export class ProbeOptionsError extends Error {
  override readonly name = "ProbeOptionsError";
  /** Always `invalid_probe_options`. */
  readonly code = "invalid_probe_options";
  /** One line per problem. */
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid probe options: ${issues.join("; ")}`);
    this.issues = issues;
  }
}
