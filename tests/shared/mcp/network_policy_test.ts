import assert from "node:assert/strict";
import type { HostResolver } from "../../../shared/mcp/host_resolver.ts";
import { type IpAddress, parseIpAddress } from "../../../shared/mcp/ip_address.ts";
import {
  ALLOWED_NETWORKS_ENV,
  categorizeAddress,
  checkAddress,
  checkTarget,
  checkTargetWithoutDns,
  type NetworkPolicy,
  NetworkPolicyError,
  networkPolicyFromEnv,
  parseNetworkPolicy,
  PUBLIC_ONLY_POLICY,
} from "../../../shared/mcp/network_policy.ts";

function ip(text: string): IpAddress {
  const address = parseIpAddress(text);
  assert.ok(address, `${text} should parse`);
  return address;
}

const never = new AbortController().signal;

/** A resolver that answers from a table, and counts its look-ups. */
function fakeResolver(
  table: Record<string, string[] | "unavailable">,
): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = (hostname: string) => {
    calls.push(hostname);
    const entry = table[hostname];
    if (entry === undefined) {
      return Promise.resolve({
        kind: "failed" as const,
        message: `host name ${hostname} did not resolve`,
      });
    }
    if (entry === "unavailable") {
      return Promise.resolve({ kind: "unavailable" as const, message: "no resolver" });
    }
    return Promise.resolve({ kind: "addresses" as const, addresses: entry.map(ip) });
  };
  return Object.assign(resolver, { calls });
}

Deno.test("the SSRF classifier refuses every non-public IPv4 address", async (t) => {
  const refused: [string, string][] = [
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "shared"],
    ["100.127.255.255", "shared"],
    ["169.254.1.1", "link-local"],
    ["169.254.169.254", "metadata"],
    ["169.254.170.2", "metadata"],
    ["100.100.100.200", "metadata"],
    ["192.0.0.192", "metadata"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.2.10", "reserved"],
    ["198.18.0.1", "reserved"],
    ["198.51.100.7", "reserved"],
    ["203.0.113.9", "reserved"],
    ["192.88.99.1", "reserved"],
  ];
  for (const [text, category] of refused) {
    await t.step(`${text} is ${category}`, () => {
      const verdict = checkAddress(ip(text), PUBLIC_ONLY_POLICY);
      assert.equal(verdict.allowed, false);
      assert.equal(verdict.category, category);
    });
  }
  await t.step("public addresses pass, including neighbours of the ranges", () => {
    for (
      const text of [
        "8.8.8.8",
        "1.1.1.1",
        "172.15.255.255",
        "172.32.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "11.0.0.1",
        "169.253.255.255",
        "192.169.0.1",
        "223.255.255.255",
      ]
    ) {
      assert.deepEqual(checkAddress(ip(text), PUBLIC_ONLY_POLICY), {
        allowed: true,
        category: "public",
      }, text);
    }
  });
});

Deno.test("the SSRF classifier refuses every non-public IPv6 address", async (t) => {
  const refused: [string, string][] = [
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["fe80::1", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["fc00::1", "private"],
    ["fd12:3456:789a::1", "private"],
    ["fd00:ec2::254", "metadata"],
    ["fd20:ce::254", "metadata"],
    ["ff02::1", "multicast"],
    ["fec0::1", "reserved"],
    ["2001:db8::1", "reserved"],
    ["2001::1", "reserved"],
    ["100::1", "reserved"],
    ["64:ff9b:1::1", "reserved"],
    ["::127.0.0.1", "reserved"],
    ["::ffff:0:7f00:1", "reserved"],
    ["4000::1", "reserved"],
  ];
  for (const [text, category] of refused) {
    await t.step(`${text} is ${category}`, () => {
      const verdict = checkAddress(ip(text), PUBLIC_ONLY_POLICY);
      assert.equal(verdict.allowed, false);
      assert.equal(verdict.category, category);
    });
  }
  await t.step("global unicast passes", () => {
    for (const text of ["2606:4700:4700::1111", "2a00:1450:4001::200e", "2001:4860:4860::8888"]) {
      assert.equal(checkAddress(ip(text), PUBLIC_ONLY_POLICY).allowed, true, text);
    }
  });
});

Deno.test("the SSRF classifier judges IPv6 forms that embed IPv4 by the IPv4 address", async (t) => {
  const cases: [string, boolean, string][] = [
    ["::ffff:127.0.0.1", false, "loopback"],
    ["::ffff:7f00:1", false, "loopback"],
    ["::ffff:10.0.0.1", false, "private"],
    ["::ffff:169.254.169.254", false, "metadata"],
    ["::ffff:a9fe:a9fe", false, "metadata"],
    ["::ffff:0.0.0.0", false, "unspecified"],
    ["64:ff9b::192.168.0.1", false, "private"],
    ["64:ff9b::a9fe:a9fe", false, "metadata"],
    ["2002:c0a8:101::1", false, "private"],
    ["2002:7f00:1::", false, "loopback"],
    ["::ffff:8.8.8.8", true, "public"],
    ["64:ff9b::8.8.8.8", true, "public"],
    ["2002:808:808::1", true, "public"],
  ];
  for (const [text, allowed, category] of cases) {
    await t.step(`${text}: ${allowed ? "allowed" : category}`, () => {
      const verdict = checkAddress(ip(text), PUBLIC_ONLY_POLICY);
      assert.equal(verdict.allowed, allowed);
      assert.equal(verdict.category, category);
      if (!verdict.allowed) assert.match(verdict.reason, /embeds/);
    });
  }
});

Deno.test("the allow-list re-admits ranges, but metadata addresses only by exact entry", async (t) => {
  const loopback = parseNetworkPolicy("127.0.0.0/8, ::1/128");
  await t.step("loopback allowed, in both families and in mapped form", () => {
    assert.equal(checkAddress(ip("127.0.0.1"), loopback).allowed, true);
    assert.equal(checkAddress(ip("127.9.9.9"), loopback).allowed, true);
    assert.equal(checkAddress(ip("::1"), loopback).allowed, true);
    assert.equal(checkAddress(ip("::ffff:127.0.0.1"), loopback).allowed, true);
  });
  await t.step("other private ranges stay refused", () => {
    assert.equal(checkAddress(ip("10.0.0.1"), loopback).allowed, false);
    assert.equal(checkAddress(ip("0.0.0.0"), loopback).allowed, false);
  });
  await t.step("a range containing a metadata address does not re-admit it", () => {
    const linkLocal = parseNetworkPolicy("169.254.0.0/16,fd00::/8,0.0.0.0/0");
    assert.equal(checkAddress(ip("169.254.1.1"), linkLocal).allowed, true);
    assert.equal(checkAddress(ip("169.254.169.254"), linkLocal).allowed, false);
    assert.equal(checkAddress(ip("fd00:ec2::254"), linkLocal).allowed, false);
    assert.equal(checkAddress(ip("::ffff:169.254.169.254"), linkLocal).allowed, false);
  });
  await t.step("an exact entry re-admits a metadata address", () => {
    const exact = parseNetworkPolicy("169.254.169.254/32 fd00:ec2::254");
    assert.equal(checkAddress(ip("169.254.169.254"), exact).allowed, true);
    assert.equal(checkAddress(ip("fd00:ec2::254"), exact).allowed, true);
    assert.equal(checkAddress(ip("169.254.170.2"), exact).allowed, false);
  });
});

Deno.test("networkPolicyFromEnv reads MCP_PROBE_ALLOWED_NETWORKS strictly", async (t) => {
  const env = (value?: string) => ({
    get: (name: string) => (name === ALLOWED_NETWORKS_ENV ? value : undefined),
  });
  await t.step(
    "the variable's name",
    () => assert.equal(ALLOWED_NETWORKS_ENV, "MCP_PROBE_ALLOWED_NETWORKS"),
  );
  await t.step("unset or blank: public only", () => {
    assert.equal(networkPolicyFromEnv(env()), PUBLIC_ONLY_POLICY);
    assert.equal(networkPolicyFromEnv(env("  ")), PUBLIC_ONLY_POLICY);
  });
  await t.step("ranges and bare addresses, comma or space separated", () => {
    const policy = networkPolicyFromEnv(env("127.0.0.0/8,::1/128 10.1.2.3"));
    assert.equal(policy.allowedNetworks.length, 3);
    assert.equal(checkAddress(ip("10.1.2.3"), policy).allowed, true);
    assert.equal(checkAddress(ip("10.1.2.4"), policy).allowed, false);
  });
  await t.step("a malformed entry throws rather than being skipped", () => {
    assert.throws(() => networkPolicyFromEnv(env("127.0.0.0/8,localhost")), NetworkPolicyError);
    assert.throws(() => parseNetworkPolicy("10.0.0.1/8"), /10\.0\.0\.1\/8/);
  });
});

Deno.test("checkTarget checks scheme, name and every resolved address", async (t) => {
  const resolver = fakeResolver({
    "public.example": ["93.184.216.34", "2606:2800:220:1::248"],
    "split.example": ["93.184.216.34", "10.0.0.5"],
    "rebind.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "edge.example": "unavailable",
  });
  const check = (url: string, policy: NetworkPolicy = PUBLIC_ONLY_POLICY) =>
    checkTarget(new URL(url), policy, resolver, never);

  await t.step("a public name passes with its addresses", async () => {
    const verdict = await check("https://public.example/mcp");
    assert.equal(verdict.allowed, true);
    if (verdict.allowed) assert.equal(verdict.addresses.length, 2);
  });
  await t.step("one private address in the answer refuses the name", async () => {
    const verdict = await check("https://split.example/mcp");
    assert.equal(verdict.allowed, false);
    if (!verdict.allowed) {
      assert.equal(verdict.code, "blocked");
      assert.equal(
        verdict.message,
        "split.example resolves to a non-public address, which the network policy does not allow",
      );
    }
  });
  await t.step("names that resolve to loopback or metadata are refused", async () => {
    assert.equal((await check("http://rebind.example/")).allowed, false);
    assert.equal((await check("http://metadata.example/")).allowed, false);
  });
  await t.step("a refused name's message does not say what it resolves to", async () => {
    for (
      const [url, address] of [
        ["http://rebind.example/", /127\.0\.0\.1|loopback/],
        ["http://metadata.example/", /169\.254|cloud metadata|link-local/],
        ["https://split.example/mcp", /10\.0\.0\.5|private/],
      ] as const
    ) {
      const verdict = await check(url);
      assert.equal(verdict.allowed, false);
      if (!verdict.allowed) assert.doesNotMatch(verdict.message, address, verdict.message);
    }
  });
  await t.step("literal addresses in every URL spelling are caught", async () => {
    for (
      const url of [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://0/",
        "http://169.254.169.254/latest/meta-data/",
      ]
    ) {
      const verdict = await check(url);
      assert.equal(verdict.allowed, false, url);
    }
  });
  await t.step("localhost is loopback without asking DNS", async () => {
    const before = resolver.calls.length;
    assert.equal((await check("http://localhost:8080/")).allowed, false);
    assert.equal((await check("http://api.localhost/")).allowed, false);
    assert.equal(
      (await check("http://localhost./", parseNetworkPolicy("127.0.0.0/8,::1"))).allowed,
      true,
    );
    assert.equal(
      (await check("http://localhost/", parseNetworkPolicy("127.0.0.0/8"))).allowed,
      false,
    );
    assert.equal(resolver.calls.length, before);
  });
  await t.step("metadata host names are refused by name, before any look-up", async () => {
    const before = resolver.calls.length;
    for (
      const url of [
        "http://metadata.google.internal/",
        "http://METADATA.GOOGLE.INTERNAL./",
        "http://metadata/",
        "http://instance-data/",
      ]
    ) {
      const verdict = await check(url, parseNetworkPolicy("0.0.0.0/0,::/0"));
      assert.equal(verdict.allowed, false, url);
    }
    assert.equal(resolver.calls.length, before);
  });
  await t.step("only http and https", async () => {
    for (
      const url of [
        "ftp://public.example/",
        "file:///etc/passwd",
        "ws://public.example/",
        "data:text/plain,hi",
      ]
    ) {
      const verdict = await check(url);
      assert.equal(verdict.allowed, false, url);
      if (!verdict.allowed) assert.match(verdict.message, /only http: and https:/);
    }
  });
  await t.step("a name that does not resolve is a dns refusal", async () => {
    const verdict = await check("https://nowhere.example/");
    assert.deepEqual(verdict.allowed ? null : verdict.code, "dns");
  });
  await t.step("without a resolver only literal and name rules apply", async () => {
    assert.deepEqual(await check("https://edge.example/"), { allowed: true, addresses: [] });
    assert.equal((await check("http://10.0.0.1/")).allowed, false);
  });
});

Deno.test("checkTargetWithoutDns gives checkTarget's verdict wherever no look-up is needed", async () => {
  const resolver = fakeResolver({ "public.example": ["93.184.216.34"] });
  const loopback = parseNetworkPolicy("127.0.0.0/8,::1/128");
  for (
    const [url, policy] of [
      ["http://127.0.0.1:8080/mcp", loopback],
      ["http://127.0.0.1:8080/mcp", PUBLIC_ONLY_POLICY],
      ["http://[::1]/", loopback],
      ["http://[::ffff:a9fe:a9fe]/", loopback],
      ["http://0x7f.1/", PUBLIC_ONLY_POLICY],
      ["https://93.184.216.34/", PUBLIC_ONLY_POLICY],
      ["http://localhost:3000/", loopback],
      ["http://api.localhost/", PUBLIC_ONLY_POLICY],
      ["http://metadata.google.internal/", parseNetworkPolicy("0.0.0.0/0")],
      ["ftp://127.0.0.1/", loopback],
    ] as const
  ) {
    const immediate = checkTargetWithoutDns(new URL(url), policy);
    assert.deepEqual(immediate, await checkTarget(new URL(url), policy, resolver, never), url);
  }
  assert.equal(resolver.calls.length, 0, "none of these needed the resolver");
  assert.equal(checkTargetWithoutDns(new URL("https://public.example/"), PUBLIC_ONLY_POLICY), null);
});

Deno.test("categorizeAddress names the metadata service before its range", () => {
  assert.equal(categorizeAddress(ip("169.254.169.254")), "metadata");
  assert.equal(categorizeAddress(ip("169.254.169.253")), "link-local");
  assert.equal(categorizeAddress(ip("100.100.100.200")), "metadata");
  assert.equal(categorizeAddress(ip("100.100.100.201")), "shared");
});
