/**
 * probe()'s SSRF guard end to end (nothing is sent to a refused address, redirects are
 * re-checked, plain-http requests are pinned to the checked address) and its refusal of bad
 * options.
 */
import assert from "node:assert/strict";
import type { HostResolver } from "../../../shared/mcp/host_resolver.ts";
import { parseIpAddress } from "../../../shared/mcp/ip_address.ts";
import { parseNetworkPolicy, PUBLIC_ONLY_POLICY } from "../../../shared/mcp/network_policy.ts";
import { probe } from "../../../shared/mcp/probe.ts";
import { ProbeOptionsError } from "../../../shared/mcp/probe_errors.ts";
import { startFaultServer, startModernServer } from "../../_support/mcp_servers.ts";
import { assertFailure, assertSuccess, probeLocal } from "./_probe_helpers.ts";

/** 127.0.0.1 allowed, the rest of 127/8 (where the "blocked" listeners sit) not. */
const ONLY_127_0_0_1 = parseNetworkPolicy("127.0.0.1/32");

/** Resolves `names` to their addresses; anything else does not resolve. */
function resolverFor(names: Record<string, string>): HostResolver {
  return (hostname) => {
    const address = names[hostname] === undefined ? null : parseIpAddress(names[hostname]);
    return Promise.resolve(
      address === null
        ? { kind: "failed", message: `host name ${hostname} did not resolve` }
        : { kind: "addresses", addresses: [address] },
    );
  };
}

Deno.test("probe() sends nothing to an address the network policy refuses", async (t) => {
  await t.step("a listener on a blocked loopback address sees no connection", async () => {
    await using target = await startFaultServer("hang", { hostname: "127.0.0.2" });
    const { result } = await probeLocal(target.url, { networkPolicy: ONLY_127_0_0_1 });
    assertFailure(result, "blocked");
    assert.equal(result.attempts, 1, "blocked is final");
    assert.equal(target.connections(), 0);
  });
  await t.step("the default policy refuses loopback", async () => {
    await using target = await startFaultServer("hang");
    const { result } = await probeLocal(target.url, { networkPolicy: PUBLIC_ONLY_POLICY });
    assertFailure(result, "blocked");
    assert.match(result.error?.message ?? "", /127\.0\.0\.1, a loopback address/);
    assert.equal(target.connections(), 0);
  });
  await t.step("a redirect to a blocked address is refused before the hop", async () => {
    await using target = await startFaultServer("hang", { hostname: "127.0.0.2" });
    await using redirector = await startFaultServer("redirect", { location: target.url });
    const { result } = await probeLocal(redirector.url, { networkPolicy: ONLY_127_0_0_1 });
    assertFailure(result, "blocked");
    assert.ok(redirector.connections() >= 1, "the allowed server was asked");
    assert.equal(target.connections(), 0, "the blocked target was not");
  });
  for (
    const [where, location] of [
      ["the metadata service", "http://169.254.169.254/latest/meta-data/"],
      ["a metadata host name", "http://metadata.google.internal/computeMetadata/v1/"],
      ["a private address", "http://10.0.0.1/mcp"],
    ]
  ) {
    await t.step(`a redirect to ${where} is refused`, async () => {
      await using redirector = await startFaultServer("redirect", { location });
      const { result } = await probeLocal(redirector.url);
      assertFailure(result, "blocked");
      assert.equal(result.attempts, 1, "blocked is final");
      assert.ok(redirector.connections() >= 1, "the allowed server was asked");
      if (where !== "a private address") assert.match(result.error?.message ?? "", /metadata/);
    });
  }
  await t.step(
    "metadata addresses and names, and non-http schemes, are refused outright",
    async () => {
      for (
        const url of [
          "http://169.254.169.254/",
          "http://[fd00:ec2::254]/",
          "http://metadata.google.internal/",
          "ftp://127.0.0.1/mcp",
        ]
      ) {
        const { result } = await probeLocal(url, {
          networkPolicy: parseNetworkPolicy("0.0.0.0/0,::/0"),
        });
        assertFailure(result, "blocked");
      }
    },
  );
});

Deno.test("probe() follows allowed redirects, each hop checked, and only a few", async (t) => {
  await t.step(
    "a redirect to an allowed server is followed; custom headers stay with their origin",
    async () => {
      await using server = await startModernServer();
      await using redirector = await startFaultServer("redirect", { location: server.url });
      const { result } = await probeLocal(redirector.url, {
        customHeaders: { "X-Secret": "s3cret" },
      });
      assertSuccess(result);
      assert.ok(redirector.requests.every((request) => request.headers["x-secret"] === "s3cret"));
      assert.ok(server.requests.length > 0);
      assert.ok(
        server.requests.every((request) => request.headers["x-secret"] === undefined),
        "custom headers must not follow a redirect to another origin",
      );
    },
  );
  await t.step("a redirect loop stops after maxRedirects hops", async () => {
    await using loop = await startFaultServer("redirect", { location: "/mcp" });
    const { result } = await probeLocal(loop.url, { maxRedirects: 2, retryAttempts: 0 });
    assertFailure(result, "http_status", 307);
    assert.match(result.error?.message ?? "", /more than 2 redirects/);
    assert.equal(loop.connections(), 3);
  });
});

Deno.test("probe() checks host names through the resolver and pins plain http to the address", async (t) => {
  await t.step("a name that does not resolve is dns, and not retried", async () => {
    const { result } = await probeLocal("https://mcp.does-not-resolve.test/mcp", {
      resolver: resolverFor({}),
    });
    assertFailure(result, "dns");
    assert.equal(result.attempts, 1);
  });
  await t.step("a name resolving to a refused address is blocked", async () => {
    await using target = await startFaultServer("hang", { hostname: "127.0.0.2" });
    const port = new URL(target.url).port;
    const { result } = await probeLocal(`http://rebound.test:${port}/mcp`, {
      networkPolicy: ONLY_127_0_0_1,
      resolver: resolverFor({ "rebound.test": "127.0.0.2" }),
    });
    assertFailure(result, "blocked");
    assert.match(result.error?.message ?? "", /rebound\.test resolves to a non-public address/);
    assert.doesNotMatch(result.error?.message ?? "", /127\.0\.0\.2|loopback/);
    assert.equal(target.connections(), 0);
  });
  await t.step(
    "a redirect to an internal name is blocked without saying what the name resolves to",
    async () => {
      await using internal = await startFaultServer("hang", { hostname: "127.0.0.2" });
      const port = new URL(internal.url).port;
      await using redirector = await startFaultServer("redirect", {
        location: `http://db.internal.test:${port}/mcp`,
      });
      const { result } = await probeLocal(redirector.url, {
        networkPolicy: ONLY_127_0_0_1,
        resolver: resolverFor({ "db.internal.test": "127.0.0.2" }),
        retryAttempts: 0,
      });
      assertFailure(result, "blocked");
      const stored = JSON.stringify(result);
      assert.match(stored, /db\.internal\.test resolves to a non-public address/);
      assert.doesNotMatch(stored, /127\.0\.0\.2/, stored);
      assert.equal(internal.connections(), 0);
    },
  );
  await t.step("http requests go to the checked address, with the name in Host", async () => {
    // The system resolver does not know `pinned.test`: only pinning can reach the server.
    await using server = await startModernServer();
    const port = new URL(server.url).port;
    const { result } = await probeLocal(`http://pinned.test:${port}/mcp`, {
      resolver: resolverFor({ "pinned.test": "127.0.0.1" }),
    });
    assertSuccess(result);
    assert.ok(server.requests.every((request) => request.headers.host === `pinned.test:${port}`));
  });
});

Deno.test("probe() throws ProbeOptionsError for options that are programming errors", async (t) => {
  const url = "https://mcp.example.com/mcp";
  const rejects = async (options: Parameters<typeof probe>[1], pattern: RegExp, target = url) => {
    await assert.rejects(() => probe(target, options), (error: unknown) => {
      assert.ok(error instanceof ProbeOptionsError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  };
  await t.step("forbidden headers: hop-by-hop, framing and transport-owned", async () => {
    for (
      const name of [
        "Host",
        "Content-Length",
        "mcp-session-id",
        "MCP-Protocol-Version",
        "Connection",
        "Transfer-Encoding",
        "Accept",
      ]
    ) {
      await rejects({ customHeaders: { [name]: "x" } }, /cannot be set/);
    }
  });
  await t.step("malformed header names and values", async () => {
    await rejects({ customHeaders: { "Bad Name": "x" } }, /header name/);
    await rejects({ customHeaders: { "X-Ok": "line\r\nInjected: yes" } }, /control characters/);
  });
  await t.step("numbers out of range", async () => {
    await rejects({ timeout: 50 }, /timeout/);
    await rejects({ timeout: 1.5e9 }, /timeout/);
    await rejects({ retryAttempts: -1 }, /retryAttempts/);
    await rejects({ retryAttempts: 11 }, /retryAttempts/);
    await rejects({ maxBodyBytes: 0 }, /maxBodyBytes/);
  });
  await t.step("a URL that does not parse", async () => {
    await rejects({}, /not a URL/, "not a url");
  });
});
