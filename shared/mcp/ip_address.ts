/**
 * IP addresses and CIDR ranges as numbers: parse, format, test membership, and find the IPv4
 * address embedded in the IPv6 forms that carry one. Pure; no I/O.
 */

/** An IPv4 address (32-bit unsigned number) or an IPv6 address (128-bit bigint). */
export type IpAddress =
  | { readonly family: 4; readonly value: number }
  | { readonly family: 6; readonly value: bigint };

/** A range of addresses: the first `prefixLength` bits of `address` are fixed. */
export interface CidrRange {
  readonly address: IpAddress;
  readonly prefixLength: number;
}

const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;
const MAX_IPV6 = (1n << 128n) - 1n;

/** Parses a dotted-quad IPv4 address in plain decimal (no octal or hex forms). */
export function parseIpv4(text: string): IpAddress | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!IPV4_OCTET.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return { family: 4, value };
}

/** Parses an IPv6 address, with or without brackets, with `::` and a dotted IPv4 tail. No zone id. */
export function parseIpv6(text: string): IpAddress | null {
  let body = text;
  if (body.startsWith("[") && body.endsWith("]")) body = body.slice(1, -1);
  if (body.length === 0 || body.includes("%")) return null;

  let tail: number[] = [];
  const lastColon = body.lastIndexOf(":");
  if (body.slice(lastColon + 1).includes(".")) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === null || v4.family !== 4 || lastColon < 0) return null;
    tail = [v4.value >>> 16, v4.value & 0xffff];
    body = body.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::", "a::1.2.3.4" leaves "a::", "a:b:...:1.2.3.4" leaves "a:b:...:".
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }

  const halves = body.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    for (const group of part.split(":")) {
      if (!IPV6_GROUP.test(group)) return null;
      groups.push(parseInt(group, 16));
    }
    return groups;
  };
  const head = parseGroups(halves[0] ?? "");
  const rest = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (head === null || rest === null) return null;

  const given = head.length + rest.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (given > 7) return null;
    groups = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  } else {
    if (given !== 8) return null;
    groups = [...head, ...tail];
  }
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return { family: 6, value };
}

/** Parses an IPv4 or IPv6 address literal (IPv6 may be bracketed, as in a URL's host). */
export function parseIpAddress(text: string): IpAddress | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

/** Formats an address: dotted quad, or the eight IPv6 groups with the longest zero run as `::`. */
export function formatIpAddress(address: IpAddress): string {
  if (address.family === 4) {
    const v = address.value;
    return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join(".");
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(Number((address.value >> shift) & 0xffffn));
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/** The width of an address family in bits. */
export function addressBits(address: IpAddress): 32 | 128 {
  return address.family === 4 ? 32 : 128;
}

/**
 * Parses `address/prefix` (e.g. `10.0.0.0/8`, `fc00::/7`); a bare address is a single-address
 * range. Host bits set below the prefix are rejected (`10.0.0.1/8` is a typo more often than not).
 */
export function parseCidr(text: string): CidrRange | null {
  const trimmed = text.trim();
  const slash = trimmed.indexOf("/");
  const address = parseIpAddress(slash < 0 ? trimmed : trimmed.slice(0, slash));
  if (address === null) return null;
  const bits = addressBits(address);
  let prefixLength: number = bits;
  if (slash >= 0) {
    const prefix = trimmed.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefix)) return null;
    prefixLength = Number(prefix);
    if (prefixLength > bits) return null;
  }
  const range = { address, prefixLength };
  if (networkOf(range).value !== address.value) return null;
  return range;
}

/** Whether `address` lies in `range` (different families never match). */
export function cidrContains(range: CidrRange, address: IpAddress): boolean {
  if (range.address.family !== address.family) return false;
  const host = addressBits(address) - range.prefixLength;
  if (address.family === 4 && range.address.family === 4) {
    if (host >= 32) return true;
    return (address.value >>> host) === (range.address.value >>> host);
  }
  if (address.family === 6 && range.address.family === 6) {
    const shift = BigInt(host);
    return (address.value >> shift) === (range.address.value >> shift);
  }
  return false;
}

/** Formats a range as `address/prefix`. */
export function formatCidr(range: CidrRange): string {
  return `${formatIpAddress(range.address)}/${range.prefixLength}`;
}

/**
 * The IPv4 address an IPv6 address stands for, where its form embeds one: IPv4-mapped
 * (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`). Such an
 * address reaches the IPv4 host, so it must pass the IPv4 rules. (The deprecated
 * IPv4-compatible form `::a.b.c.d` is not read here: it is reserved space, refused as such.)
 */
export function embeddedIpv4(address: IpAddress): IpAddress | null {
  if (address.family !== 6) return null;
  const v = address.value;
  const low32 = Number(v & 0xffffffffn);
  const top96 = v >> 32n;
  if (top96 === 0xffffn) return { family: 4, value: low32 };
  if (top96 === 0x0064ff9b0000000000000000n) return { family: 4, value: low32 };
  if (v >> 112n === 0x2002n) return { family: 4, value: Number((v >> 80n) & 0xffffffffn) };
  return null;
}

function networkOf(range: CidrRange): IpAddress {
  const host = addressBits(range.address) - range.prefixLength;
  if (range.address.family === 4) {
    const mask = host >= 32 ? 0 : (0xffffffff << host) >>> 0;
    return { family: 4, value: (range.address.value & mask) >>> 0 };
  }
  const mask = MAX_IPV6 ^ ((1n << BigInt(host)) - 1n);
  return { family: 6, value: range.address.value & mask };
}
