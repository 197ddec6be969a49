/**
 * Server credentials end to end (issue 15), on the throw-away stack: an administrator sets them
 * with the service role (PostgREST RPC), users test their connections (`POST
 * /connections/:id/test`) and the health check re-tests them, against a bearer-protected SDK
 * server and a server behind a local OAuth authorization server. Then the leak search: no secret
 * value, and no access token, in any response body, stored row or log line of the run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exportPKCS8, generateKeyPair } from "jose";
import type postgres from "postgres";
import { startBearerServer, startOAuthServers } from "../../_support/mcp_auth_servers.ts";
import {
  api,
  type ApiResponse,
  call,
  createServer,
  createUser,
  openDb,
  stack,
  type TestUser,
} from "../../_support/stack.ts";

interface TestOutcome {
  connection: { connectionStatus: string };
  result: {
    success: boolean;
    error: { class: string; stage?: string; httpStatus?: number; message: string } | null;
    auth?: { kind: string; tokenRequests?: number };
  };
}

/** Every response body the test saw, for the leak search. */
const seen: string[] = [];
function record<T>(response: ApiResponse<T>): ApiResponse<T> {
  seen.push(typeof response.body === "string" ? response.body : JSON.stringify(response.body));
  return response;
}

/** Sets a server's credentials as an administrator does: the service role, over PostgREST. */
async function setCredentials(serverId: string, credentials: unknown): Promise<void> {
  const response = record(
    await call(`${stack.url}/rest/v1/rpc/set_mcp_server_credentials`, {
      method: "POST",
      headers: {
        apikey: stack.serviceRoleKey,
        authorization: `Bearer ${stack.serviceRoleKey}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ p_server_id: serverId, p_credentials: credentials }),
    }),
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
}

/** Deletes a server's credentials as an administrator does. */
async function deleteCredentials(serverId: string): Promise<void> {
  const response = record(
    await call(`${stack.url}/rest/v1/rpc/delete_mcp_server_credentials`, {
      method: "POST",
      headers: {
        apikey: stack.serviceRoleKey,
        authorization: `Bearer ${stack.serviceRoleKey}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ p_server_id: serverId }),
    }),
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
}

async function connect(user: TestUser, serverId: string, config: unknown = {}): Promise<string> {
  const response = record(
    await api<{ id: string }>("POST", "/connections", {
      token: user.token,
      body: { agentId: user.agentId, mcpServerInstanceId: serverId, config },
    }),
  );
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.id;
}

async function testNow(user: TestUser, id: string): Promise<TestOutcome> {
  const response = record(
    await api<TestOutcome>("POST", `/connections/${id}/test`, { token: user.token }),
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

async function healthCheck(serverIds: string[]): Promise<void> {
  const response = record(
    await call(`${stack.url}/functions/v1/mcp-health-check`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.serviceRoleKey}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ serverIds }),
    }),
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
}

async function storedResult(sql: postgres.Sql, id: string): Promise<TestOutcome["result"]> {
  const [row] = await sql<[{ result: TestOutcome["result"] }]>`
    select connection_test_result as result from agent_mcp_connections where id = ${id}`;
  return row.result;
}

Deno.test("server credentials: /test and the health check, and no secret leaks", async (t) => {
  await using sql = openDb();
  const token = `static-secret-${crypto.randomUUID()}`;
  const wrongToken = `wrong-secret-${crypto.randomUUID()}`;
  await using bearer = startBearerServer({ value: `Bearer ${token}`, echo: true });
  const clientKey = await generateKeyPair("ES256", { extractable: true });
  const privateKey = await exportPKCS8(clientKey.privateKey);
  await using oauth = startOAuthServers({ expiresIn: 3, clientPublicKey: clientKey.publicKey });
  const wrongClientSecret = `cs-wrong-${crypto.randomUUID()}`;
  const user = await createUser(sql, { label: "credentials" });
  const bearerServer = await createServer(sql, bearer.url, "Bearer server");
  const oauthServer = await createServer(sql, oauth.url, "OAuth server");
  const oauthCredentials = {
    kind: "oauth_client_credentials",
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
  };

  let bearerConnection = "";
  await t.step("a bearer server without credentials: auth, the MCP server refused", async () => {
    bearerConnection = await connect(user, bearerServer, {
      timeout: 5000,
      retryAttempts: 0,
      customHeaders: { Authorization: `Bearer user-guess-${crypto.randomUUID()}` },
    });
    const { result, connection } = await testNow(user, bearerConnection);
    assert.equal(result.error?.class, "auth");
    assert.equal(result.error?.stage, "mcp_server");
    assert.deepEqual(result.auth, { kind: "none" });
    assert.equal(connection.connectionStatus, "error");
  });

  await t.step(
    "with the administrator's token: connected, whatever the user's header",
    async () => {
      await setCredentials(bearerServer, {
        kind: "headers",
        headers: { Authorization: `Bearer ${token}` },
      });
      const { result, connection } = await testNow(user, bearerConnection);
      assert.equal(result.success, true, JSON.stringify(result.error));
      assert.deepEqual(result.auth, { kind: "headers" });
      assert.equal(connection.connectionStatus, "connected");
      assert.deepEqual((await storedResult(sql, bearerConnection)).auth, { kind: "headers" });
    },
  );

  await t.step("a rotated, wrong token takes effect on the next probe: auth", async () => {
    await setCredentials(bearerServer, {
      kind: "headers",
      headers: { Authorization: `Bearer ${wrongToken}` },
    });
    const { result } = await testNow(user, bearerConnection);
    assert.equal(result.error?.class, "auth");
    assert.equal(result.error?.stage, "mcp_server");
    assert.equal(result.error?.httpStatus, 401);
  });

  await t.step("the health check applies the server's credentials too", async () => {
    await setCredentials(bearerServer, {
      kind: "headers",
      headers: { Authorization: `Bearer ${token}` },
    });
    await healthCheck([bearerServer]);
    const result = await storedResult(sql, bearerConnection);
    assert.equal(result.success, true, JSON.stringify(result.error));
    assert.deepEqual(result.auth, { kind: "headers" });
  });

  let oauthConnection = "";
  await t.step("OAuth: a token by discovery, then reused by the next probe", async () => {
    await setCredentials(oauthServer, oauthCredentials);
    oauthConnection = await connect(user, oauthServer, { timeout: 5000, retryAttempts: 0 });
    const first = await testNow(user, oauthConnection);
    assert.equal(first.result.success, true, JSON.stringify(first.result.error));
    assert.deepEqual(first.result.auth, { kind: "oauth_client_credentials", tokenRequests: 1 });
    const second = await testNow(user, oauthConnection);
    assert.equal(second.result.success, true, JSON.stringify(second.result.error));
    assert.deepEqual(second.result.auth, { kind: "oauth_client_credentials", tokenRequests: 0 });
    assert.equal(oauth.tokenRequests(), 1);
  });

  await t.step("OAuth: after the token expired, the health check gets a new one", async () => {
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    await healthCheck([oauthServer]);
    const result = await storedResult(sql, oauthConnection);
    assert.equal(result.success, true, JSON.stringify(result.error));
    assert.equal(result.auth?.kind, "oauth_client_credentials");
    assert.equal(result.auth?.tokenRequests, 1);
    assert.equal(oauth.tokenRequests(), 2);
  });

  await t.step("OAuth: a wrong client secret is auth at the token endpoint", async () => {
    await setCredentials(oauthServer, { ...oauthCredentials, clientSecret: wrongClientSecret });
    const { result } = await testNow(user, oauthConnection);
    assert.equal(result.error?.class, "auth");
    assert.equal(result.error?.stage, "token_endpoint");
    assert.match(result.error?.message ?? "", /token endpoint http:\/\/127\.0\.0\.1:\d+\/token/);
    await healthCheck([oauthServer]);
    const stored = await storedResult(sql, oauthConnection);
    assert.equal(stored.error?.stage, "token_endpoint");
  });

  const keyServer = await createServer(sql, oauth.url, "OAuth server (private_key_jwt)");
  await t.step("private_key_jwt; deleting the credentials drops the cached token", async () => {
    const keyCredentials = {
      kind: "oauth_client_credentials",
      clientId: oauth.clientId,
      privateKey,
      signingAlgorithm: "ES256",
    };
    await setCredentials(keyServer, keyCredentials);
    const id = await connect(user, keyServer, { timeout: 5000, retryAttempts: 0 });
    const first = await testNow(user, id);
    assert.equal(first.result.success, true, JSON.stringify(first.result.error));
    assert.deepEqual(first.result.auth, { kind: "oauth_client_credentials", tokenRequests: 1 });
    assert.equal(oauth.lastRefusal(), null);
    assert.equal((await testNow(user, id)).result.auth?.tokenRequests, 0, "the token is reused");

    await deleteCredentials(keyServer);
    const without = await testNow(user, id);
    assert.equal(without.result.error?.class, "auth");
    assert.equal(without.result.error?.stage, "mcp_server");
    assert.deepEqual(without.result.auth, { kind: "none" });

    // Set again: version 1 again, the same values. The token of before was forgotten.
    await setCredentials(keyServer, keyCredentials);
    const again = await testNow(user, id);
    assert.equal(again.result.success, true, JSON.stringify(again.result.error));
    assert.deepEqual(again.result.auth, { kind: "oauth_client_credentials", tokenRequests: 1 });
  });

  await t.step("the leak search: no secret in any response, row or log line", async () => {
    const keyLines = privateKey.split("\n").filter((l) => l !== "" && !l.startsWith("-----"));
    const secrets = [
      token,
      wrongToken,
      oauth.clientSecret,
      wrongClientSecret,
      ...keyLines,
      ...oauth.tokens(),
    ];
    assert.ok(oauth.tokens().length >= 2, "the run obtained tokens to look for");
    const rows = await sql<{ text: string }[]>`
      select row_to_json(c)::text as text from agent_mcp_connections as c
      where c.mcp_server_instance_id in (${bearerServer}, ${oauthServer}, ${keyServer})
      union all
      select row_to_json(h)::text from mcp_health_checks as h
      where h.mcp_server_instance_id in (${bearerServer}, ${oauthServer}, ${keyServer})`;
    assert.ok(rows.length >= 4, `stored rows to search: ${rows.length}`);
    const haystacks: [string, string][] = [
      ...seen.map((body, i): [string, string] => [`response ${i}`, body]),
      ...rows.map((row, i): [string, string] => [`row ${i}`, row.text]),
    ];
    assert.ok(stack.logDir !== "", "the test stack logs to files");
    for await (const entry of Deno.readDir(stack.logDir)) {
      const text = await Deno.readTextFile(join(stack.logDir, entry.name));
      haystacks.push(
        ...text.split("\n").map((line, i): [string, string] => [
          `${entry.name}:${i + 1}`,
          line,
        ]),
      );
    }
    assert.ok(
      haystacks.some(([where]) => where.startsWith("mcp-connections.log:")) &&
        haystacks.some(([where]) => where.startsWith("mcp-health-check.log:")),
      "both functions' logs are searched",
    );
    assert.ok(
      haystacks.some(([, text]) => text.includes(oauthConnection)),
      "the haystack holds this run's traffic",
    );
    for (const [where, text] of haystacks) {
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `a secret appears in ${where}`);
      }
    }
  });
});
