/**
 * Resolving a host name to the addresses the SSRF guard checks, with `Deno.resolveDns`
 * (A and AAAA records, asked in parallel).
 */
import { type IpAddress, parseIpAddress } from "./ip_address.ts";

/** What resolving a host name gave. */
export type Resolution =
  /** The name has these addresses (at least one). */
  | { readonly kind: "addresses"; readonly addresses: readonly IpAddress[] }
  /** The name has no address, or the look-up failed: the probe reports class `dns`. */
  | { readonly kind: "failed"; readonly message: string }
  /**
   * This runtime cannot resolve names itself (no `Deno.resolveDns`, as on some edge runtimes,
   * or no permission): the guard can then check only literal addresses and known names.
   */
  | { readonly kind: "unavailable"; readonly message: string };

/** Resolves a host name; must settle promptly once `signal` aborts. */
export type HostResolver = (hostname: string, signal: AbortSignal) => Promise<Resolution>;

type RecordType = "A" | "AAAA";

/**
 * The runtime's resolver: `Deno.resolveDns` for A and AAAA. Note that it asks the name servers
 * of `/etc/resolv.conf` and does not read `/etc/hosts`, unlike the resolver `fetch` uses; the
 * guard handles `localhost` itself for that reason.
 */
export async function systemResolver(hostname: string, signal: AbortSignal): Promise<Resolution> {
  const resolveDns = (globalThis as { Deno?: { resolveDns?: unknown } }).Deno?.resolveDns;
  if (typeof resolveDns !== "function") {
    return { kind: "unavailable", message: "Deno.resolveDns is not available in this runtime" };
  }
  const lookUp = async (type: RecordType): Promise<IpAddress[] | Error> => {
    try {
      const records = await Deno.resolveDns(hostname, type, { signal });
      return records.flatMap((record) => {
        const address = parseIpAddress(record);
        return address === null ? [] : [address];
      });
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
  const [v4, v6] = await Promise.all([lookUp("A"), lookUp("AAAA")]);
  signal.throwIfAborted();
  const addresses = [...(Array.isArray(v4) ? v4 : []), ...(Array.isArray(v6) ? v6 : [])];
  if (addresses.length > 0) return { kind: "addresses", addresses };
  const errors = [v4, v6].filter((result): result is Error => result instanceof Error);
  if (
    errors.length > 0 &&
    errors.every((error) =>
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotSupported
    )
  ) {
    return { kind: "unavailable", message: errors[0]?.message ?? "DNS look-up not permitted" };
  }
  const notFound = errors.length === 0 ||
    errors.some((error) => error instanceof Deno.errors.NotFound);
  return {
    kind: "failed",
    message: notFound
      ? `host name ${hostname} did not resolve (no A or AAAA record)`
      : `DNS look-up of ${hostname} failed: ${errors[0]?.message ?? "unknown error"}`,
  };
}
