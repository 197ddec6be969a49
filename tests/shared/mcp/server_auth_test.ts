/** The pure parts of server credentials: the token cache, redaction, the credential schema. */
import assert from "node:assert/strict";
import { REDACTED, redactText, secretFragments } from "../../../shared/mcp/auth/redact.ts";
import { ServerCredentials } from "../../../shared/mcp/auth/server_credentials.ts";
import { ServerTokenCache } from "../../../shared/mcp/auth/token_cache.ts";

Deno.test("ServerTokenCache keeps tokens per server and version", async (t) => {
  let now = 0;
  const cache = new ServerTokenCache({ now: () => now, maxServers: 2 });

  await t.step("a token is usable until its lifetime less a tenth", () => {
    cache.saveToken("a", 1, "token-a", 100);
    now = 89_999;
    assert.equal(cache.token("a", 1)?.accessToken, "token-a");
    now = 90_000;
    assert.equal(cache.token("a", 1), null);
  });

  await t.step("the margin is at most 30 s; no lifetime means an hour", () => {
    now = 0;
    cache.saveToken("a", 1, "long", 3_600);
    now = 3_569_999;
    assert.equal(cache.token("a", 1)?.accessToken, "long");
    now = 0;
    cache.saveToken("b", 1, "unbounded", undefined);
    now = 3_569_999;
    assert.equal(cache.token("b", 1)?.accessToken, "unbounded");
  });

  await t.step("another version (a rotation) drops the token and the discovery", () => {
    now = 0;
    cache.saveToken("a", 1, "old", 100);
    assert.equal(cache.token("a", 2), null);
    assert.equal(cache.token("a", 1), null, "the old version's entry is gone");
  });

  await t.step("a refused token is dropped only if it is still the cached one", () => {
    cache.saveToken("a", 1, "current", 100);
    cache.dropToken("a", 1, "another");
    assert.equal(cache.token("a", 1)?.accessToken, "current");
    cache.dropToken("a", 1, "current");
    assert.equal(cache.token("a", 1), null);
  });

  await t.step("the least recently used server goes past the bound", () => {
    cache.saveToken("a", 1, "ta", 100);
    cache.saveToken("b", 1, "tb", 100);
    cache.saveToken("c", 1, "tc", 100);
    assert.equal(cache.size, 2);
    assert.equal(cache.token("a", 1), null);
    assert.equal(cache.token("c", 1)?.accessToken, "tc");
  });
});

Deno.test("redactText() cuts secrets and their long pieces out", () => {
  const fragments = secretFragments(["Bearer abcdefgh12345678", "short"]);
  assert.deepEqual(fragments, ["Bearer abcdefgh12345678", "abcdefgh12345678"]);
  assert.equal(
    redactText("got Bearer abcdefgh12345678 and abcdefgh12345678!", fragments),
    `got ${REDACTED} and ${REDACTED}!`,
  );
  assert.equal(redactText("short words stay", fragments), "short words stay");
});

Deno.test("ServerCredentials accepts the two shapes and refuses the rest", () => {
  const ok = [
    { kind: "headers", headers: { Authorization: "Bearer x" } },
    { kind: "oauth_client_credentials", clientId: "c", clientSecret: "s" },
    {
      kind: "oauth_client_credentials",
      clientId: "c",
      privateKey: "-----BEGIN PRIVATE KEY-----",
      signingAlgorithm: "ES256",
      tokenEndpoint: "https://auth.example.com/token",
    },
  ];
  for (const value of ok) {
    assert.ok(ServerCredentials.safeParse(value).success, JSON.stringify(value));
  }
  const bad = [
    { kind: "headers", headers: {} },
    { kind: "headers", headers: { Host: "x" } },
    { kind: "oauth_client_credentials", clientId: "c" },
    {
      kind: "oauth_client_credentials",
      clientId: "c",
      clientSecret: "s",
      privateKey: "k",
      signingAlgorithm: "RS256",
    },
    { kind: "oauth_client_credentials", clientId: "c", privateKey: "k" },
    {
      kind: "oauth_client_credentials",
      clientId: "c",
      clientSecret: "s",
      tokenEndpoint: "ftp://x",
    },
    { kind: "oauth_client_credentials", clientId: "c", clientSecret: "s", extra: 1 },
    { kind: "basic" },
  ];
  for (const value of bad) {
    assert.ok(!ServerCredentials.safeParse(value).success, JSON.stringify(value));
  }
});
