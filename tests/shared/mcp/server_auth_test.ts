/** The pure parts of server credentials: the token cache, redaction, the credential schema. */
import assert from "node:assert/strict";
import { AppError } from "../../../shared/errors/app_error.ts";
import { REDACTED, redactText, secretFragments } from "../../../shared/mcp/auth/redact.ts";
import { ServerCredentials } from "../../../shared/mcp/auth/server_credentials.ts";
import type { DbClient } from "../../../shared/db/db_client.ts";
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
import {
  readServerCredentials,
  serverCredentialsReader,
} from "../../../shared/domain/server_credentials.ts";
import type { ServerCredential } from "../../../shared/mcp/auth/server_credentials.ts";
import {
  credentialGeneration,
  ServerTokenCache,
  type TokenGrant,
} from "../../../shared/mcp/auth/token_cache.ts";

Deno.test("ServerTokenCache keeps tokens per server and version", async (t) => {
  let now = 0;
  const cache = new ServerTokenCache({ now: () => now, maxServers: 2 });

  await t.step("a token is usable until its lifetime less a tenth", () => {
    cache.saveToken("a", "1", "token-a", 100);
    now = 89_999;
    assert.equal(cache.token("a", "1")?.accessToken, "token-a");
    now = 90_000;
    assert.equal(cache.token("a", "1"), null);
  });

  await t.step("the margin is at most 30 s; no lifetime means an hour", () => {
    now = 0;
    cache.saveToken("a", "1", "long", 3_600);
    now = 3_569_999;
    assert.equal(cache.token("a", "1")?.accessToken, "long");
    now = 0;
    cache.saveToken("b", "1", "unbounded", undefined);
    now = 3_569_999;
    assert.equal(cache.token("b", "1")?.accessToken, "unbounded");
  });

  await t.step("another version (a rotation) drops the token and the discovery", () => {
    now = 0;
    cache.saveToken("a", "1", "old", 100);
    assert.equal(cache.token("a", "2"), null);
    assert.equal(cache.token("a", "1"), null, "the old version's entry is gone");
  });

  await t.step("a refused token is dropped only if it is still the cached one", () => {
    cache.saveToken("a", "1", "current", 100);
    cache.dropToken("a", "1", "another");
    assert.equal(cache.token("a", "1")?.accessToken, "current");
    cache.dropToken("a", "1", "current");
    assert.equal(cache.token("a", "1"), null);
  });

  await t.step("the least recently used server goes past the bound", () => {
    cache.saveToken("a", "1", "ta", 100);
    cache.saveToken("b", "1", "tb", 100);
    cache.saveToken("c", "1", "tc", 100);
    assert.equal(cache.size, 2);
    assert.equal(cache.token("a", "1"), null);
    assert.equal(cache.token("c", "1")?.accessToken, "tc");
  });
});

/** A token request the test ends by hand. */
function pendingGrant(): {
  request: () => Promise<TokenGrant>;
  calls: () => number;
  grant: (accessToken: string) => void;
  fail: (error: Error) => void;
} {
  let calls = 0;
  let grant: (accessToken: string) => void = () => {};
  let fail: (error: Error) => void = () => {};
  return {
    request: () => {
      calls++;
      return new Promise<TokenGrant>((resolve, reject) => {
        grant = (accessToken) => resolve({ accessToken, expiresInSeconds: 100 });
        fail = reject;
      });
    },
    calls: () => calls,
    grant: (accessToken) => grant(accessToken),
    fail: (error) => fail(error),
  };
}

Deno.test("ServerTokenCache runs one token request per server and generation", async (t) => {
  await t.step("callers during a flight share it; its token is stored", async () => {
    const cache = new ServerTokenCache();
    const pending = pendingGrant();
    const first = cache.startFlight("a", "1", pending.request);
    const joined = cache.flight("a", "1");
    assert.ok(joined !== null);
    assert.equal(cache.startFlight("a", "1", pending.request), first);
    await Promise.resolve();
    pending.grant("shared");
    assert.equal((await first).accessToken, "shared");
    assert.equal((await joined).accessToken, "shared");
    assert.equal(pending.calls(), 1);
    assert.equal(cache.token("a", "1")?.accessToken, "shared");
    assert.equal(cache.flight("a", "1"), null, "the flight is over");
  });

  await t.step("a failed request stores nothing and ends the flight", async () => {
    const cache = new ServerTokenCache();
    const pending = pendingGrant();
    const flight = cache.startFlight("a", "1", pending.request);
    const joined = cache.flight("a", "1");
    await Promise.resolve();
    pending.fail(new Error("invalid_client"));
    await assert.rejects(flight, /invalid_client/);
    await assert.rejects(joined ?? Promise.resolve(), /invalid_client/);
    assert.equal(cache.token("a", "1"), null);
    assert.equal(cache.flight("a", "1"), null);
  });

  await t.step("a flight that ends after a rotation does not store its token", async () => {
    const cache = new ServerTokenCache();
    const old = pendingGrant();
    const flight = cache.startFlight("a", "1", old.request);
    // A probe with the rotated credentials: no joining the old flight, a token of its own.
    assert.equal(cache.flight("a", "2"), null);
    cache.saveToken("a", "2", "new", 100);
    await Promise.resolve();
    old.grant("old");
    assert.equal((await flight).accessToken, "old", "the old probe still gets its token");
    assert.equal(cache.token("a", "2")?.accessToken, "new");
  });

  await t.step("a flight that ends after the server was forgotten stores nothing", async () => {
    const cache = new ServerTokenCache();
    const pending = pendingGrant();
    const flight = cache.startFlight("a", "1", pending.request);
    cache.forget("a");
    await Promise.resolve();
    pending.grant("after-delete");
    await flight;
    assert.equal(cache.size, 0);
  });
});

Deno.test("ServerTokenCache forgets a server whose credentials went or changed", () => {
  const credential = (version: number, clientSecret: string): ServerCredential => ({
    serverId: "11111111-1111-4111-8111-111111111111",
    version,
    credentials: { kind: "oauth_client_credentials", clientId: "c", clientSecret },
  });
  const cache = new ServerTokenCache();
  const first = credential(1, "secret-one");
  const id = first.serverId;
  cache.saveToken(id, credentialGeneration(first), "token", 100);
  cache.observe(id, first);
  assert.equal(cache.token(id, credentialGeneration(first))?.accessToken, "token");
  cache.observe(id, null);
  assert.equal(cache.size, 0, "deleted credentials: the server is forgotten");

  cache.saveToken(id, credentialGeneration(first), "token", 100);
  const second = credential(2, "secret-one");
  cache.observe(id, second);
  assert.equal(cache.token(id, credentialGeneration(second)), null, "a new version: no token");
  cache.saveToken(id, credentialGeneration(second), "new", 100);
  // A probe still running with the version read before neither sees nor drops the new token.
  assert.equal(cache.token(id, credentialGeneration(first)), null);
  cache.saveToken(id, credentialGeneration(first), "stale", 100);
  assert.equal(cache.token(id, credentialGeneration(second))?.accessToken, "new");
  cache.observe(id, { ...second, credentials: { kind: "headers", headers: { "X-Key": "k" } } });
  assert.equal(cache.size, 0, "static headers now: the server is forgotten");

  // Delete, then set again: the version starts over at 1, the values differ.
  const again = credential(1, "secret-two");
  assert.notEqual(credentialGeneration(again), credentialGeneration(first));
  assert.equal(credentialGeneration(credential(1, "secret-one")), credentialGeneration(first));
  cache.saveToken(id, credentialGeneration(first), "token", 100);
  assert.equal(cache.token(id, credentialGeneration(again)), null);
});

Deno.test("readServerCredentials() tells the token cache what it read", async () => {
  const present = "11111111-1111-4111-8111-111111111111";
  const deleted = "22222222-2222-4222-8222-222222222222";
  const credentials = {
    kind: "oauth_client_credentials" as const,
    clientId: "c",
    clientSecret: "s",
  };
  const db = {
    rpc: () =>
      Promise.resolve({
        data: [{ server_id: present, version: 1, credentials }],
        error: null,
        status: 200,
      }),
  } as unknown as DbClient;
  const cache = new ServerTokenCache();
  const generation = credentialGeneration({ serverId: present, version: 1, credentials });
  cache.saveToken(present, generation, "kept", 100);
  cache.saveToken(deleted, "1.x", "dropped", 100);
  const found = await readServerCredentials(db, [present, deleted], cache);
  assert.deepEqual([...found.keys()], [present]);
  assert.equal(cache.size, 1);
  assert.equal(cache.token(present, generation)?.accessToken, "kept");
});

Deno.test("readServerCredentials() refuses a stored credential it cannot read, naming no value", async () => {
  const serverId = "33333333-3333-4333-8333-333333333333";
  const stored = { kind: "oauth_client_credentials", clientId: "c", clientSecret: "s3cr3t-value" };
  const db = {
    rpc: () =>
      Promise.resolve({
        data: [{ server_id: serverId, version: 2, credentials: { ...stored, kind: "basic" } }],
        error: null,
        status: 200,
      }),
  } as unknown as DbClient;
  await assert.rejects(readServerCredentials(db, [serverId], new ServerTokenCache()), (error) => {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, "internal_error");
    assert.match(error.message, new RegExp(`MCP server ${serverId} cannot be used`));
    assert.doesNotMatch(error.message, /s3cr3t-value/);
    return true;
  });
});

Deno.test("serverCredentialsReader() builds its client at the first read, once", async () => {
  let built = 0;
  let calls = 0;
  const read = serverCredentialsReader(() => {
    built++;
    return {
      rpc: () => {
        calls++;
        return Promise.resolve({ data: [], error: null, status: 200 });
      },
    } as unknown as DbClient;
  }, new ServerTokenCache());
  assert.equal(built, 0);
  assert.equal(await read("44444444-4444-4444-8444-444444444444"), null);
  assert.equal(await read("55555555-5555-4555-8555-555555555555"), null);
  assert.deepEqual({ built, calls }, { built: 1, calls: 2 });
});

Deno.test("redaction covers private keys: PEM lines and body, JWK members", async () => {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const pem = await exportPKCS8(privateKey);
  const jwk = await exportJWK(privateKey);
  const fragments = secretFragments([pem, JSON.stringify(jwk)]);
  const body = pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
  assert.ok(body.length >= 2);
  const leaked = [
    `a key line: ${body[1]}`,
    `the key on one line: ${body.join("")}`,
    `the JWK's d: "${jwk.d}"`,
    `the whole PEM: ${pem}`,
  ];
  for (const text of leaked) {
    const redacted = redactText(text, fragments);
    for (const piece of [...body, body.join(""), jwk.d ?? "(no d)"]) {
      assert.ok(!redacted.includes(piece), `${piece} survives in ${redacted}`);
    }
    assert.ok(redacted.includes(REDACTED));
  }
  assert.equal(
    redactText("-----BEGIN PRIVATE KEY----- is a header", fragments),
    "-----BEGIN PRIVATE KEY----- is a header",
    "the armor line alone is no secret",
  );
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
