/**
 * The SSRF guard: which addresses the probe may contact.
 *
 * A connection's URL is chosen by a user, and the probe runs inside our infrastructure, so a URL
 * must not reach what only our infrastructure can reach: loopback, private and link-local
 * networks, cloud metadata services. Every request the probe makes (the first, each redirect
 * hop, each later request of the session) is checked here first; a refused target gets class
 * `blocked` and no packet.
 *
 * Rules: an address is refused when it is not public unicast (loopback, private, shared
 * 100.64/10, link-local, unspecified, multicast, broadcast, documentation, benchmarking and
 * other reserved space), and always when it is a cloud metadata address or name. An IPv6
 * address that embeds an IPv4 one (mapped `::ffff:a.b.c.d`, NAT64, 6to4) is judged as that
 * IPv4 address. A host name is judged by all of its addresses: one refused address refuses it.
 *
 * The {@link NetworkPolicy} allow-list re-admits ranges (the local stack and the tests allow
 * loopback: `MCP_PROBE_ALLOWED_NETWORKS="127.0.0.0/8,::1/128"`). A metadata address is
 * re-admitted only by an entry naming exactly that address (`169.254.169.254/32`), never by a
 * wider range that contains it.
 *
 * DNS rebinding: the guard resolves a name, then `fetch` resolves it again to connect; a name
 * whose answers change between the two look-ups (a time-of-check/time-of-use race) could slip
 * through. Mitigations: every request is re-checked; any refused address in an answer refuses
 * the name; and plain-`http:` requests are pinned to the checked address by `guarded_fetch.ts`
 * (the request goes to the IP, with the original `Host` header), which closes the race for
 * them. For `https:` the certificate must match the name, so such pinning is not possible with
 * `fetch`; a short race window remains there, which network egress rules should close.
 */
import {
  cidrContains,
  type CidrRange,
  embeddedIpv4,
  formatIpAddress,
  type IpAddress,
  parseCidr,
  parseIpAddress,
} from "./ip_address.ts";
import type { HostResolver } from "./host_resolver.ts";

/** The environment variable {@link networkPolicyFromEnv} reads. */
export const ALLOWED_NETWORKS_ENV = "MCP_PROBE_ALLOWED_NETWORKS";

/** What the probe may contact beyond public unicast addresses. */
export interface NetworkPolicy {
  /**
   * Ranges permitted although their addresses are not public. A metadata address needs an
   * entry for exactly itself.
   */
  readonly allowedNetworks: readonly CidrRange[];
}

/** The default policy: public addresses only. */
export const PUBLIC_ONLY_POLICY: NetworkPolicy = Object.freeze({ allowedNetworks: [] });

/** Why an address is or is not public. */
export type AddressCategory =
  | "public"
  | "loopback"
  | "private"
  | "shared"
  | "link-local"
  | "metadata"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "reserved";

/** The verdict on one address. */
export type AddressVerdict =
  | { readonly allowed: true; readonly category: AddressCategory }
  | { readonly allowed: false; readonly category: AddressCategory; readonly reason: string };

/** The verdict on a request's target URL. */
export type TargetVerdict =
  /**
   * The target may be contacted. `addresses` are the checked addresses (empty when the runtime
   * could not resolve the name and only name rules applied).
   */
  | { readonly allowed: true; readonly addresses: readonly IpAddress[] }
  /** Refused: `blocked` by the rules, or `dns` when the name did not resolve. */
  | { readonly allowed: false; readonly code: "blocked" | "dns"; readonly message: string };

/** A malformed allow-list: a configuration error, thrown. */
export class NetworkPolicyError extends Error {
  override readonly name = "NetworkPolicyError";
  /** Always `invalid_network_policy`. */
  readonly code = "invalid_network_policy";
}

/** Builds a policy from CIDR ranges or bare addresses, separated by commas or white space. */
export function parseNetworkPolicy(text: string): NetworkPolicy {
  const entries = text.split(/[\s,]+/).filter((entry) => entry.length > 0);
  const bad = entries.filter((entry) => parseCidr(entry) === null);
  if (bad.length > 0) {
    throw new NetworkPolicyError(
      `not an IP address or CIDR range (with no host bits set): ${bad.join(", ")}`,
    );
  }
  return Object.freeze({
    allowedNetworks: Object.freeze(entries.map((entry) => parseCidr(entry) as CidrRange)),
  });
}

/**
 * The policy named by {@link ALLOWED_NETWORKS_ENV} (unset or empty: public addresses only).
 * Throws {@link NetworkPolicyError} on a malformed entry rather than guess.
 */
export function networkPolicyFromEnv(
  env: { get(name: string): string | undefined } = Deno.env,
): NetworkPolicy {
  const text = env.get(ALLOWED_NETWORKS_ENV)?.trim() ?? "";
  return text === "" ? PUBLIC_ONLY_POLICY : parseNetworkPolicy(text);
}

/** Cloud metadata services' addresses (AWS, GCP, Azure, OCI, Alibaba, Tencent, ECS tasks). */
const METADATA_ADDRESSES = [
  "169.254.169.254",
  "169.254.170.2",
  "169.254.0.23",
  "100.100.100.200",
  "192.0.0.192",
  "fd00:ec2::254",
  "fd20:ce::254",
];

/** Cloud metadata services' host names. Refused whatever they resolve to. */
const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
]);

const IPV4_CATEGORIES: readonly (readonly [string, AddressCategory])[] = [
  ["0.0.0.0/8", "unspecified"],
  ["127.0.0.0/8", "loopback"],
  ["10.0.0.0/8", "private"],
  ["172.16.0.0/12", "private"],
  ["192.168.0.0/16", "private"],
  ["100.64.0.0/10", "shared"],
  ["169.254.0.0/16", "link-local"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
  ["192.0.0.0/24", "reserved"],
  ["192.0.2.0/24", "reserved"],
  ["192.88.99.0/24", "reserved"],
  ["198.18.0.0/15", "reserved"],
  ["198.51.100.0/24", "reserved"],
  ["203.0.113.0/24", "reserved"],
];

const IPV6_CATEGORIES: readonly (readonly [string, AddressCategory])[] = [
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["fc00::/7", "private"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "reserved"],
  ["ff00::/8", "multicast"],
  ["100::/64", "reserved"],
  ["64:ff9b:1::/48", "reserved"],
  ["2001::/23", "reserved"],
  ["2001:db8::/32", "reserved"],
  ["3fff::/20", "reserved"],
  ["5f00::/16", "reserved"],
];

/** Global unicast IPv6 space; everything outside it is reserved or special. */
const IPV6_GLOBAL_UNICAST = "2000::/3";

interface AddressTables {
  metadata: readonly IpAddress[];
  ipv4: readonly (readonly [CidrRange, AddressCategory])[];
  ipv6: readonly (readonly [CidrRange, AddressCategory])[];
  ipv6GlobalUnicast: CidrRange;
  localhost: readonly IpAddress[];
}

let parsedTables: AddressTables | undefined;

/** The tables above, parsed at the first check: a worker that never probes never parses them. */
function addressTables(): AddressTables {
  const address = (text: string) => parseIpAddress(text) as IpAddress;
  const range = (text: string) => parseCidr(text) as CidrRange;
  const ranges = (table: readonly (readonly [string, AddressCategory])[]) =>
    table.map(([cidr, category]) => [range(cidr), category] as const);
  return parsedTables ??= {
    metadata: METADATA_ADDRESSES.map(address),
    ipv4: ranges(IPV4_CATEGORIES),
    ipv6: ranges(IPV6_CATEGORIES),
    ipv6GlobalUnicast: range(IPV6_GLOBAL_UNICAST),
    localhost: [address("127.0.0.1"), address("::1")],
  };
}

/** The category of an address, by its own form (embedded IPv4 addresses aside). */
export function categorizeAddress(address: IpAddress): AddressCategory {
  const tables = addressTables();
  if (tables.metadata.some((metadata) => sameAddress(metadata, address))) return "metadata";
  const table = address.family === 4 ? tables.ipv4 : tables.ipv6;
  for (const [cidr, category] of table) {
    if (cidrContains(cidr, address)) return category;
  }
  if (address.family === 6 && !cidrContains(tables.ipv6GlobalUnicast, address)) return "reserved";
  return "public";
}

/** Whether the policy lets the probe contact `address`. */
export function checkAddress(address: IpAddress, policy: NetworkPolicy): AddressVerdict {
  const embedded = embeddedIpv4(address);
  if (embedded !== null) {
    const inner = checkAddress(embedded, policy);
    if (inner.allowed) return inner;
    return {
      ...inner,
      reason: `${formatIpAddress(address)} embeds ${inner.reason}`,
    };
  }
  const category = categorizeAddress(address);
  if (category === "public") return { allowed: true, category };
  const permitted = policy.allowedNetworks.some((allowed) =>
    category === "metadata"
      ? allowed.prefixLength === (address.family === 4 ? 32 : 128) &&
        sameAddress(allowed.address, address)
      : cidrContains(allowed, address)
  );
  if (permitted) return { allowed: true, category };
  return {
    allowed: false,
    category,
    reason: `${formatIpAddress(address)}, a ${category} address${
      category === "metadata" ? " (cloud metadata service)" : ""
    }`,
  };
}

/**
 * Whether the policy lets the probe send a request to `url`: its scheme, its host name, and
 * every address the name resolves to. Errors come back as values, never thrown, except when
 * `signal` aborts.
 */
export async function checkTarget(
  url: URL,
  policy: NetworkPolicy,
  resolver: HostResolver,
  signal: AbortSignal,
): Promise<TargetVerdict> {
  const immediate = checkTargetWithoutDns(url, policy);
  if (immediate !== null) return immediate;
  const hostname = normalizedHostname(url);
  const resolution = await resolver(hostname, signal);
  signal.throwIfAborted();
  if (resolution.kind === "failed") {
    return { allowed: false, code: "dns", message: resolution.message };
  }
  if (resolution.kind === "unavailable") {
    // Without a resolver only the name and literal-address rules apply: a public name that
    // points at a private address is not caught here. Deployments on such runtimes need
    // egress rules in the network itself.
    return { allowed: true, addresses: [] };
  }
  return checkAddresses(hostname, resolution.addresses, false, policy);
}

/**
 * {@link checkTarget}'s verdict when it takes no DNS look-up: a refused scheme, a metadata host
 * name, a literal address, `localhost`. Null when the host name has to be resolved first.
 * Synchronous, so that a request to a literal address waits for nothing.
 */
export function checkTargetWithoutDns(url: URL, policy: NetworkPolicy): TargetVerdict | null {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return blocked(`only http: and https: URLs may be probed, not ${url.protocol}`);
  }
  const hostname = normalizedHostname(url);
  if (METADATA_HOST_NAMES.has(hostname)) {
    return blocked(`${hostname} is a cloud metadata service`);
  }
  const literal = parseIpAddress(hostname);
  if (literal !== null) return checkAddresses(hostname, [literal], true, policy);
  if (hostname === "localhost" || hostname.endsWith(".localhost")) {
    // RFC 6761: always loopback, whatever a DNS server says; checked as both families.
    return checkAddresses(hostname, addressTables().localhost, false, policy);
  }
  return null;
}

function normalizedHostname(url: URL): string {
  return url.hostname.toLowerCase().replace(/\.$/, "");
}

/**
 * The verdict on `hostname` given its addresses: refused if any one of them is.
 *
 * The message of a refused name never says what it resolved to: it is stored in a result users
 * read, and a server may redirect the probe to any name it likes, so naming the address would
 * read our internal DNS out to it (issue 12, item 5). A literal address is the requester's own
 * text and is named.
 */
function checkAddresses(
  hostname: string,
  addresses: readonly IpAddress[],
  literal: boolean,
  policy: NetworkPolicy,
): TargetVerdict {
  for (const address of addresses) {
    const verdict = checkAddress(address, policy);
    if (!verdict.allowed) {
      return blocked(
        literal
          ? `${verdict.reason}, which the network policy does not allow`
          : `${hostname} resolves to a non-public address, which the network policy does not allow`,
      );
    }
  }
  return { allowed: true, addresses };
}

function blocked(message: string): TargetVerdict {
  return { allowed: false, code: "blocked", message };
}

function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}
