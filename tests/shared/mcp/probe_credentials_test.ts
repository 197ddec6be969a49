/**
 * probe() with server credentials (issue 15), against real SDK servers on 127.0.0.1: a
 * bearer-protected server, and a server protected by a local OAuth authorization server with the
 * client credentials grant.
 */
import assert from "node:assert/strict";
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { createServerAuth } from "../../../shared/mcp/auth/server_auth.ts";
import {
  type OAuthClientCredentials,
  type ServerCredential,
  SIGNING_ALGORITHMS,
} from "../../../shared/mcp/auth/server_credentials.ts";
import { ServerTokenCache } from "../../../shared/mcp/auth/token_cache.ts";
import { startBearerServer, startOAuthServers } from "../../_support/mcp_auth_servers.ts";
import { assertFailure, assertSuccess, probeLocal } from "./_probe_helpers.ts";

const SERVER_ID = "11111111-1111-4111-8111-111111111111";

function headerCredential(headers: Record<string, string>, version = 1): ServerCredential {
  return { serverId: SERVER_ID, version, credentials: { kind: "headers", headers } };
}

function oauthCredential(
  fields: Omit<OAuthClientCredentials, "kind">,
  version = 1,
): ServerCredential {
  return {
    serverId: SERVER_ID,
    version,
    credentials: { kind: "oauth_client_credentials", ...fields },
  };
}

Deno.test("probe() with static header credentials", async (t) => {
  const token = `static-${crypto.randomUUID()}`;
  await using server = startBearerServer({ value: `Bearer ${token}`, echo: true });

  await t.step("the right token: connected, auth kind headers", async () => {
    const { result } = await probeLocal(server.url, {
      credentials: headerCredential({ Authorization: `Bearer ${token}` }),
    });
    assertSuccess(result);
    assert.deepEqual(result.auth, { kind: "headers" });
    assert.equal(result.toolCount, 3);
  });

  await t.step("no credentials: auth, the MCP server refused", async () => {
    const { result } = await probeLocal(server.url);
    assertFailure(result, "auth", 401);
    assert.equal(result.error?.stage, "mcp_server");
    assert.deepEqual(result.auth, { kind: "none" });
  });

  await t.step("a wrong token: auth, and the echoed token is not in the result", async () => {
    const wrong = `wrong-${crypto.randomUUID()}`;
    const { result } = await probeLocal(server.url, {
      credentials: headerCredential({ Authorization: `Bearer ${wrong}` }),
    });
    assertFailure(result, "auth", 401);
    assert.equal(result.error?.stage, "mcp_server");
    assert.ok(!JSON.stringify(result).includes(wrong), JSON.stringify(result));
  });

  await t.step("a user's custom header cannot override the server's", async () => {
    const before = server.requests.length;
    const { result } = await probeLocal(server.url, {
      customHeaders: { authorization: "Bearer user-supplied", "X-Trace": "mine" },
      credentials: headerCredential({ Authorization: `Bearer ${token}` }),
    });
    assertSuccess(result);
    const sent = server.requests.slice(before);
    assert.ok(sent.length > 0);
    for (const request of sent) {
      assert.equal(request.headers["authorization"], `Bearer ${token}`);
      assert.equal(request.headers["x-trace"], "mine");
    }
  });

  await t.step("an API key header works the same", async () => {
    await using keyed = startBearerServer({ header: "x-api-key", value: token });
    const { result } = await probeLocal(keyed.url, {
      credentials: headerCredential({ "X-API-Key": token }),
    });
    assertSuccess(result);
  });
});

Deno.test("probe() with OAuth client credentials", async (t) => {
  await using oauth = startOAuthServers({ expiresIn: 2 });
  const cache = new ServerTokenCache();
  const credential = (overrides: Record<string, string> = {}, version = 1): ServerCredential =>
    oauthCredential(
      { clientId: oauth.clientId, clientSecret: oauth.clientSecret, ...overrides },
      version,
    );
  const probeWith = (c: ServerCredential) =>
    probeLocal(oauth.url, { credentials: c, tokenCache: cache, retryAttempts: 0 });

  await t.step("discovery from the 401, a token, connected", async () => {
    const { result } = await probeWith(credential());
    assertSuccess(result);
    assert.deepEqual(result.auth, { kind: "oauth_client_credentials", tokenRequests: 1 });
    assert.equal(oauth.tokenRequests(), 1);
  });

  await t.step("the next probe reuses the token", async () => {
    const { result } = await probeWith(credential());
    assertSuccess(result);
    assert.deepEqual(result.auth, { kind: "oauth_client_credentials", tokenRequests: 0 });
    assert.equal(oauth.tokenRequests(), 1);
  });

  await t.step("after the token expires, a new one", async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const { result } = await probeWith(credential());
    assertSuccess(result);
    assert.equal(result.auth?.tokenRequests, 1);
    assert.equal(oauth.tokenRequests(), 2);
  });

  await t.step("a token the server refuses: one new token and one retry", async () => {
    oauth.revokeAll();
    const { result } = await probeWith(credential());
    assertSuccess(result);
    assert.equal(result.auth?.tokenRequests, 1);
    assert.equal(oauth.tokenRequests(), 3);
  });

  await t.step("a rotation (new version) drops the cached token", async () => {
    const { result } = await probeWith(credential({}, 2));
    assertSuccess(result);
    assert.equal(result.auth?.tokenRequests, 1);
    assert.equal(oauth.tokenRequests(), 4);
  });

  await t.step("a wrong client secret: auth, the token endpoint refused", async () => {
    const wrong = `cs-wrong-${crypto.randomUUID()}`;
    const { result } = await probeWith(credential({ clientSecret: wrong }, 3));
    assertFailure(result, "auth", 401);
    assert.equal(result.error?.stage, "token_endpoint");
    assert.match(result.error?.message ?? "", /token endpoint http:\/\/127\.0\.0\.1:\d+\/token/);
    assert.ok(!JSON.stringify(result).includes(wrong));
  });

  await t.step("a configured token endpoint skips discovery", async () => {
    const { result } = await probeWith(credential({ tokenEndpoint: oauth.tokenEndpoint }, 4));
    assertSuccess(result);
    assert.equal(result.auth?.tokenRequests, 1);
  });

  await t.step("no secret or token ever appears in a result", async () => {
    const { result } = await probeWith(credential({}, 5));
    const text = JSON.stringify(result);
    for (const secret of [oauth.clientSecret, ...oauth.tokens()]) {
      assert.ok(!text.includes(secret));
    }
  });
});

Deno.test("probe() refuses a token endpoint the network policy does not admit", async () => {
  await using oauth = startOAuthServers();
  const { result } = await probeLocal(oauth.url, {
    credentials: oauthCredential({
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      // The cloud metadata address: the network policy never admits it.
      tokenEndpoint: "https://169.254.169.254/token",
    }),
    tokenCache: new ServerTokenCache(),
    retryAttempts: 0,
  });
  assertFailure(result, "blocked");
  assert.equal(result.error?.stage, "token_endpoint");
  assert.equal(oauth.tokenRequests(), 0);
});

Deno.test("probe() sends no client credentials to a token endpoint that is not https", async () => {
  await using oauth = startOAuthServers();
  const { result } = await probeLocal(oauth.url, {
    credentials: oauthCredential({
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      tokenEndpoint: "http://mcp-auth.example.com/token",
    }),
    tokenCache: new ServerTokenCache(),
    retryAttempts: 0,
  });
  assertFailure(result, "auth");
  assert.equal(result.error?.stage, "token_endpoint");
  assert.match(result.error?.message ?? "", /not https/);
});

/** Resolves once `condition` holds (polled), or fails after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("probe() with private_key_jwt (RFC 7523 client assertions)", async (t) => {
  const registered = await generateKeyPair("ES256", { extractable: true });
  await using oauth = startOAuthServers({ clientPublicKey: registered.publicKey });
  const cache = new ServerTokenCache();
  const keyCredential = (
    privateKey: string,
    version: number,
    signingAlgorithm: "ES256" | "RS256" = "ES256",
  ): ServerCredential =>
    oauthCredential({ clientId: oauth.clientId, privateKey, signingAlgorithm }, version);
  const probeWith = (c: ServerCredential) =>
    probeLocal(oauth.url, { credentials: c, tokenCache: cache, retryAttempts: 0 });
  const pem = await exportPKCS8(registered.privateKey);

  await t.step("the registered key (PEM): the assertion is accepted, connected", async () => {
    const { result } = await probeWith(keyCredential(pem, 1));
    assertSuccess(result);
    assert.deepEqual(result.auth, { kind: "oauth_client_credentials", tokenRequests: 1 });
    assert.equal(oauth.lastRefusal(), null);
    assert.equal(oauth.tokenRequests(), 1);
  });

  await t.step("the registered key as a JWK: connected", async () => {
    const jwk = JSON.stringify(await exportJWK(registered.privateKey));
    const { result } = await probeWith(keyCredential(jwk, 2));
    assertSuccess(result);
    assert.equal(result.auth?.tokenRequests, 1);
    assert.equal(oauth.lastRefusal(), null);
  });

  await t.step("another key: auth, the token endpoint refused the assertion", async () => {
    const other = await generateKeyPair("ES256", { extractable: true });
    const otherPem = await exportPKCS8(other.privateKey);
    const { result } = await probeWith(keyCredential(otherPem, 3));
    assertFailure(result, "auth", 401);
    assert.equal(result.error?.stage, "token_endpoint");
    assert.match(result.error?.message ?? "", /refused the client credentials.*invalid_client/);
    assert.equal(oauth.lastRefusal(), "assertion refused: ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    const text = JSON.stringify(result);
    for (const line of otherPem.split("\n").filter((l) => l !== "" && !l.startsWith("-----"))) {
      assert.ok(!text.includes(line));
    }
  });

  await t.step("a key of another algorithm than the one registered: refused", async () => {
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const { result } = await probeWith(
      keyCredential(await exportPKCS8(rsa.privateKey), 4, "RS256"),
    );
    assertFailure(result, "auth", 401);
    assert.equal(result.error?.stage, "token_endpoint");
    assert.match(oauth.lastRefusal() ?? "", /^assertion refused: /);
  });
});

type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** The strings of a private key that must never leave the probe: PEM body lines, JWK members. */
function keyMaterial(pem: string, jwk: Record<string, unknown>): string[] {
  const lines = pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
  const members = ["d", "p", "q", "dp", "dq", "qi"]
    .map((name) => jwk[name])
    .filter((value): value is string => typeof value === "string");
  return [...lines, ...members];
}

Deno.test("probe() with private_key_jwt: every signing algorithm, PEM or JWK", async (t) => {
  for (const algorithm of SIGNING_ALGORITHMS) {
    const registered = await generateKeyPair(algorithm, { extractable: true });
    const pem = await exportPKCS8(registered.privateKey);
    const jwk = await exportJWK(registered.privateKey);
    await using oauth = startOAuthServers({ clientPublicKey: registered.publicKey });
    const cache = new ServerTokenCache();
    const credential = (
      privateKey: string,
      version: number,
      tokenEndpoint?: string,
    ): ServerCredential =>
      oauthCredential({
        clientId: oauth.clientId,
        privateKey,
        signingAlgorithm: algorithm,
        ...(tokenEndpoint === undefined ? {} : { tokenEndpoint }),
      }, version);
    const forms = [["PEM", pem], ["JWK", JSON.stringify(jwk)]] as const;
    for (const [version, [form, privateKey]] of forms.entries()) {
      await t.step(`${algorithm}, ${form}: connected`, async () => {
        const { result } = await probeLocal(oauth.url, {
          credentials: credential(privateKey, version + 1),
          tokenCache: cache,
          retryAttempts: 0,
        });
        assertSuccess(result);
        assert.deepEqual(result.auth, { kind: "oauth_client_credentials", tokenRequests: 1 });
        assert.equal(oauth.lastRefusal(), null);
      });
    }
    await t.step(`${algorithm}, PEM: the key's JWK private members are secrets too`, async () => {
      const auth = createServerAuth(
        credential(pem, 9, oauth.tokenEndpoint),
        new URL(oauth.url),
        new ServerTokenCache(),
      );
      const token = await auth.authProvider((input, init) => fetch(input, init))?.token();
      assert.ok(token !== undefined);
      const secrets = auth.secrets();
      for (const piece of keyMaterial(pem, jwk)) {
        assert.ok(secrets.some((secret) => secret.includes(piece)), `${piece} is no secret`);
      }
    });
  }
});

Deno.test("probe() with private_key_jwt: a key that does not fit its algorithm", async (t) => {
  await using oauth = startOAuthServers();
  const cases: [string, SigningAlgorithm, SigningAlgorithm, "PEM" | "JWK"][] = [
    ["an ES256 key named EdDSA", "ES256", "EdDSA", "PEM"],
    ["an Ed25519 key named ES256", "EdDSA", "ES256", "PEM"],
    ["an ES256 key named ES384", "ES256", "ES384", "JWK"],
    ["an ES256 key named ES512", "ES256", "ES512", "PEM"],
    ["an RSA key named ES512", "RS256", "ES512", "JWK"],
    ["an EC key named PS256", "ES384", "PS256", "PEM"],
    ["an Ed25519 JWK named RS256", "EdDSA", "RS256", "JWK"],
  ];
  for (const [index, [name, keyAlgorithm, signingAlgorithm, form]] of cases.entries()) {
    await t.step(`${name} (${form}): auth, token_endpoint, no key material`, async () => {
      const { privateKey } = await generateKeyPair(keyAlgorithm, { extractable: true });
      const pem = await exportPKCS8(privateKey);
      const jwk = await exportJWK(privateKey);
      const before = oauth.tokenRequests();
      const { result } = await probeLocal(oauth.url, {
        credentials: oauthCredential({
          clientId: oauth.clientId,
          privateKey: form === "PEM" ? pem : JSON.stringify(jwk),
          signingAlgorithm,
        }, index + 1),
        tokenCache: new ServerTokenCache(),
        retryAttempts: 0,
      });
      assertFailure(result, "auth");
      assert.equal(result.error?.stage, "token_endpoint");
      assert.match(
        result.error?.message ?? "",
        new RegExp(`the private key is not a usable ${signingAlgorithm} signing key`),
      );
      // Refused before anything is sent: the key is the administrator's to fix.
      assert.equal(oauth.tokenRequests(), before);
      const text = JSON.stringify(result);
      for (const piece of keyMaterial(pem, jwk)) assert.ok(!text.includes(piece), text);
    });
  }
  await t.step("not a key at all: the same, quoting nothing", async () => {
    for (
      const [index, privateKey] of ["not a key", '{"kty":"OKP","crv":"Ed25519"']
        .entries()
    ) {
      const { result } = await probeLocal(oauth.url, {
        credentials: oauthCredential(
          { clientId: oauth.clientId, privateKey, signingAlgorithm: "EdDSA" },
          100 + index,
        ),
        tokenCache: new ServerTokenCache(),
        retryAttempts: 0,
      });
      assertFailure(result, "auth");
      assert.equal(result.error?.stage, "token_endpoint");
      assert.match(result.error?.message ?? "", /not a usable EdDSA signing key/);
      assert.ok(!JSON.stringify(result).includes(privateKey));
    }
  });
});

Deno.test("probe(): concurrent probes of one server share one token request", async (t) => {
  await using oauth = startOAuthServers();
  const credential = (clientSecret: string, version = 1): ServerCredential =>
    oauthCredential({ clientId: oauth.clientId, clientSecret }, version);
  const probeWith = (cache: ServerTokenCache, c: ServerCredential) =>
    probeLocal(oauth.url, { credentials: c, tokenCache: cache, retryAttempts: 0, timeout: 15_000 });
  /**
   * Starts `n` probes on a cold cache with token requests held until every probe was refused
   * by the MCP server (each one's next step is getting a token) and a moment more: without a
   * shared flight, each would have sent its own request by then.
   */
  async function concurrently(n: number, cache: ServerTokenCache, c: ServerCredential) {
    const refusedBefore = oauth.unauthorized();
    const release = oauth.holdTokenRequests();
    const probes = Array.from({ length: n }, () => probeWith(cache, c));
    await until(
      () => oauth.unauthorized() - refusedBefore >= n,
      `${n} probes refused by the MCP server`,
    );
    await sleep(300);
    release();
    return (await Promise.all(probes)).map(({ result }) => result);
  }

  await t.step("10 probes on a cold cache: one token request, all connected", async () => {
    const before = oauth.tokenRequests();
    const results = await concurrently(10, new ServerTokenCache(), credential(oauth.clientSecret));
    for (const result of results) assertSuccess(result);
    assert.equal(oauth.tokenRequests() - before, 1);
    const counted = results.map((result) => result.auth?.tokenRequests ?? -1);
    assert.deepEqual(counted.toSorted(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  await t.step(
    "a refused request is shared and not cached: the next probe asks again",
    async () => {
      const cache = new ServerTokenCache();
      const wrong = credential(`cs-wrong-${crypto.randomUUID()}`);
      const before = oauth.tokenRequests();
      const results = await concurrently(5, cache, wrong);
      for (const result of results) {
        assertFailure(result, "auth", 401);
        assert.equal(result.error?.stage, "token_endpoint");
      }
      assert.equal(oauth.tokenRequests() - before, 1);
      const { result } = await probeWith(cache, wrong);
      assertFailure(result, "auth", 401);
      assert.equal(result.auth?.tokenRequests, 1);
      assert.equal(oauth.tokenRequests() - before, 2);
    },
  );

  await t.step("a rotation during a flight: the old flight's token is not kept", async () => {
    const cache = new ServerTokenCache();
    // Each probe's credentials are read first, as the functions do (readServerCredentials).
    const read = (c: ServerCredential) => {
      cache.observe(c.serverId, c);
      return c;
    };
    // Probe A (version 1) gets its token request held...
    const releaseA = oauth.holdTokenRequests(1);
    const before = oauth.tokenRequests();
    const probeA = probeWith(cache, read(credential(oauth.clientSecret, 1)));
    await until(() => oauth.tokenRequests() - before === 1, "probe A's token request");
    // ...while probe B, with the rotated credentials (version 2), gets its own token.
    const probeB = await probeWith(cache, read(credential(oauth.clientSecret, 2)));
    assertSuccess(probeB.result);
    assert.equal(probeB.result.auth?.tokenRequests, 1, "B did not wait for A's request");
    const tokenB = oauth.tokens().at(-1);
    releaseA();
    assertSuccess((await probeA).result);
    const tokenA = oauth.tokens().at(-1);
    assert.notEqual(tokenA, tokenB);
    // The next version-2 probe uses B's token: A's, which ended last, was not stored over it.
    const presentedBefore = oauth.presentedTokens().length;
    const probeC = await probeWith(cache, read(credential(oauth.clientSecret, 2)));
    assertSuccess(probeC.result);
    assert.equal(probeC.result.auth?.tokenRequests, 0);
    const presented = new Set(oauth.presentedTokens().slice(presentedBefore));
    assert.deepEqual([...presented], [tokenB]);
  });
});

Deno.test("probe(): same version, other values (deleted and set again) is a new token", async () => {
  await using oauth = startOAuthServers();
  const cache = new ServerTokenCache();
  const withSecret = (clientSecret: string): ServerCredential =>
    oauthCredential({ clientId: oauth.clientId, clientSecret });
  assertSuccess(
    (await probeLocal(oauth.url, {
      credentials: withSecret(oauth.clientSecret),
      tokenCache: cache,
      retryAttempts: 0,
    })).result,
  );
  // Version 1 again, with another secret: the old token must not be reused.
  const { result } = await probeLocal(oauth.url, {
    credentials: withSecret(`cs-wrong-${crypto.randomUUID()}`),
    tokenCache: cache,
    retryAttempts: 0,
  });
  assertFailure(result, "auth", 401);
  assert.equal(result.error?.stage, "token_endpoint");
  assert.equal(oauth.tokenRequests(), 2);
});

Deno.test("probe(): a network failure on the way to the token endpoint says so", async (t) => {
  await using oauth = startOAuthServers();
  const withEndpoint = (tokenEndpoint: string, version: number): ServerCredential =>
    oauthCredential({
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      tokenEndpoint,
      // The resource the authorization server grants tokens for (whatever server is probed).
      resource: oauth.url,
    }, version);

  await t.step("connection refused: class refused, stage token_endpoint", async () => {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const { result } = await probeLocal(oauth.url, {
      credentials: withEndpoint(`http://127.0.0.1:${port}/token`, 1),
      tokenCache: new ServerTokenCache(),
      retryAttempts: 0,
    });
    assertFailure(result, "refused");
    assert.equal(result.error?.stage, "token_endpoint");
    assert.match(
      result.error?.message ?? "",
      new RegExp(`^the token endpoint http://127\\.0\\.0\\.1:${port}/token: connection refused`),
    );
  });

  await t.step("a name that does not resolve: class dns, stage token_endpoint", async () => {
    const { result } = await probeLocal(oauth.url, {
      credentials: withEndpoint("https://auth.does-not-resolve.test/token", 2),
      tokenCache: new ServerTokenCache(),
      retryAttempts: 0,
      resolver: () => Promise.resolve({ kind: "failed", message: "no such host" }),
    });
    assertFailure(result, "dns");
    assert.equal(result.error?.stage, "token_endpoint");
    assert.match(result.error?.message ?? "", /^the token endpoint https:\/\/auth\./);
  });

  await t.step("no answer before the deadline: class timeout, stage token_endpoint", async () => {
    const release = oauth.holdTokenRequests();
    try {
      const { result } = await probeLocal(oauth.url, {
        credentials: withEndpoint(oauth.tokenEndpoint, 3),
        tokenCache: new ServerTokenCache(),
        retryAttempts: 0,
        timeout: 1_000,
      });
      assertFailure(result, "timeout");
      assert.equal(result.error?.stage, "token_endpoint");
      assert.match(
        result.error?.message ?? "",
        /^the token endpoint http:\/\/127\.0\.0\.1:\d+\/token: /,
      );
    } finally {
      release();
    }
  });

  await t.step("the MCP server itself unreachable has no stage", async () => {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const { result } = await probeLocal(`http://127.0.0.1:${port}/mcp`, {
      credentials: withEndpoint(oauth.tokenEndpoint, 4),
      tokenCache: new ServerTokenCache(),
      retryAttempts: 0,
    });
    // The token comes first (the endpoint is configured), then the server refuses.
    assertFailure(result, "refused");
    assert.equal(result.error?.stage, undefined);
  });
});
