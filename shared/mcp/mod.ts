/**
 * The MCP probe's public API: `probe()` and what its callers configure it with.
 *
 * ```ts
 * import { networkPolicyFromEnv, probe } from "../shared/mcp/mod.ts";
 * const result = await probe(connection.url, {
 *   ...connection.connection_config,
 *   networkPolicy: networkPolicyFromEnv(),
 * });
 * ```
 */
export { probe } from "./probe.ts";
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
