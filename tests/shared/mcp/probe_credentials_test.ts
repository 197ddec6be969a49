/**
 * probe() with server credentials (issue 15), against real SDK servers on 127.0.0.1: a
 * bearer-protected server, and a server protected by a local OAuth authorization server with the
 * client credentials grant.
 */
import assert from "node:assert/strict";
import type { ServerCredential } from "../../../shared/mcp/auth/server_credentials.ts";
import { ServerTokenCache } from "../../../shared/mcp/auth/token_cache.ts";
import { startBearerServer, startOAuthServers } from "../../_support/mcp_auth_servers.ts";
import { assertFailure, assertSuccess, probeLocal } from "./_probe_helpers.ts";

const SERVER_ID = "11111111-1111-4111-8111-111111111111";

function headerCredential(headers: Record<string, string>, version = 1): ServerCredential {
  return { serverId: SERVER_ID, version, credentials: { kind: "headers", headers } };
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
  const credential = (overrides: Record<string, string> = {}, version = 1): ServerCredential => ({
    serverId: SERVER_ID,
    version,
    credentials: {
      kind: "oauth_client_credentials",
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      ...overrides,
    },
  });
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
    credentials: {
      serverId: SERVER_ID,
      version: 1,
      credentials: {
        kind: "oauth_client_credentials",
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
        // The cloud metadata address: the network policy never admits it.
        tokenEndpoint: "https://169.254.169.254/token",
      },
    },
    tokenCache: new ServerTokenCache(),
    retryAttempts: 0,
  });
  assertFailure(result, "blocked");
  assert.equal(oauth.tokenRequests(), 0);
});

Deno.test("probe() sends no client credentials to a token endpoint that is not https", async () => {
  await using oauth = startOAuthServers();
  const { result } = await probeLocal(oauth.url, {
    credentials: {
      serverId: SERVER_ID,
      version: 1,
      credentials: {
        kind: "oauth_client_credentials",
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
        tokenEndpoint: "http://mcp-auth.example.com/token",
      },
    },
    tokenCache: new ServerTokenCache(),
    retryAttempts: 0,
  });
  assertFailure(result, "auth");
  assert.equal(result.error?.stage, "token_endpoint");
  assert.match(result.error?.message ?? "", /not https/);
});
