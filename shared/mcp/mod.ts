/**
 * The MCP probe's public API, and the only module of `shared/mcp/` that code outside it
 * imports (the unit tests of the internals, under `tests/shared/mcp/`, are the exception;
 * `tests/shared/layers_test.ts` holds the rest to it).
 *
 * A function builds its probe once, with the network policy of its deployment bound in, and
 * hands that on; the layers below pass only what belongs to a connection:
 *
 * ```ts
 * import { createProbe, networkPolicyFromEnv } from "../shared/mcp/mod.ts";
 * const probe = createProbe({ networkPolicy: networkPolicyFromEnv() });
 * const result = await probe(connection.url, connection.connection_config);
 * ```
 */
import type { ConnectionTestResult } from "../schemas/test_result.ts";
import type { NetworkPolicy } from "./network_policy.ts";
import type { ProbeOptions } from "./probe_options.ts";
import type { ServerCredentials } from "./auth/server_credentials.ts";

/** The probe's implementation, with the MCP SDK, loaded at the first probe (see `probe`). */
let implementation: Promise<typeof import("./probe.ts")> | undefined;

/**
 * Probes the MCP server at `url`; see `probe.ts`. The implementation and the MCP SDK are
 * loaded at the first call, so a function that imports this module to build its probe pays
 * for them only once it probes (cold starts of requests that never probe stay short).
 */
export async function probe(
  url: string | URL,
  options: ProbeOptions = {},
): Promise<ConnectionTestResult> {
  implementation ??= import("./probe.ts");
  return await (await implementation).probe(url, options);
}

/** What a bound probe is told per target: everything but what its builder bound. */
export type TargetProbeOptions = Omit<ProbeOptions, "networkPolicy">;

/** A probe with its deployment's network policy bound in: what the functions pass around. */
export type Probe = (url: string, options?: TargetProbeOptions) => Promise<ConnectionTestResult>;

/** What a probe is built with, once per deployment. */
export interface ProbeSettings {
  /** What the SSRF guard admits beyond public addresses (`networkPolicyFromEnv()`). */
  readonly networkPolicy: NetworkPolicy;
}

/** Builds the probe of a deployment: `probe()` with `settings.networkPolicy` bound in. */
export function createProbe(settings: ProbeSettings): Probe {
  const { networkPolicy } = settings;
  return (url, options = {}) => probe(url, { ...options, networkPolicy });
}

export { PROBE_DEFAULTS, type ProbeHint, type ProbeOptions } from "./probe_options.ts";
export { NetworkRefusal, type NetworkRefusalCode, ProbeOptionsError } from "./probe_errors.ts";
export {
  type AddressCategory,
  ALLOWED_NETWORKS_ENV,
  checkAddress,
  checkTarget,
  type NetworkPolicy,
  NetworkPolicyError,
  networkPolicyFromEnv,
  parseNetworkPolicy,
  PUBLIC_ONLY_POLICY,
} from "./network_policy.ts";
/** For a custom resolver (tests, or a runtime with its own DNS). */
export type { HostResolver, Resolution } from "./host_resolver.ts";
export {
  ConnectionTestResult,
  PROBE_ERROR_CLASSES,
  ProbeError,
  ProbeErrorClass,
  ProbeTransport,
  ProtocolEra,
  RESULT_BOUNDS,
  TOOL_NAMES_LIMIT,
} from "../schemas/test_result.ts";
/** Server credentials as the probe takes them (`options.credentials`), read by the domain. */
export type { ServerCredential, ServerCredentials } from "./auth/server_credentials.ts";

/**
 * A stored credential read with its schema (null: not a credential this code can use). The
 * schema loads at the first read, as the probe does: only a test or the health check reads
 * credentials, and other requests' cold starts do not build it.
 */
export async function parseServerCredentials(value: unknown): Promise<ServerCredentials | null> {
  const { ServerCredentials } = await import("./auth/server_credentials.ts");
  const parsed = ServerCredentials.safeParse(value);
  return parsed.success ? parsed.data : null;
}
/** The worker's OAuth token cache, told by each credentials read what the database holds now. */
export { type ServerTokenCache, serverTokenCache } from "./auth/token_cache.ts";
