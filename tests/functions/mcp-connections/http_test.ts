/**
 * The function's HTTP surface: CORS, the OpenAPI document, the JWT checks the
 * function makes itself (in-process with app.request, since the gateway already
 * refuses bad tokens), request ids and logs.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import type { ErrorBody } from "../../../shared/schemas/responses.ts";
import { mintUserToken } from "../../../scripts/stack/keys.ts";
import { validOpenApiRoutes } from "../../_support/openapi.ts";
import { inProcessConnectionsApp } from "../../_support/reliability.ts";
import { API, call, createUser, openDb, stack } from "../../_support/stack.ts";

async function requestInProcess(
  path: string,
  init: RequestInit = {},
  logLines: string[] = [],
): Promise<{ status: number; body: ErrorBody; headers: Headers }> {
  const response = await inProcessConnectionsApp(logLines).request(`/mcp-connections${path}`, init);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

const secret = new TextEncoder().encode(stack.jwtSecret);

Deno.test("the function checks the JWT itself before any work", async (t) => {
  const sub = crypto.randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, string | undefined, number, string][] = [
    ["no Authorization header", undefined, 401, "missing_authorization"],
    ["a Basic header", "Basic dXNlcjpwYXNz", 401, "invalid_authorization"],
    ["garbage", "Bearer not.a.jwt", 401, "invalid_jwt"],
    [
      "alg none",
      `Bearer ${btoa(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
        btoa(JSON.stringify({ sub, role: "authenticated" }))
      }.`,
      401,
      "invalid_jwt",
    ],
    [
      "a wrong secret",
      `Bearer ${await mintUserToken({ sub, secret: "another-secret-that-is-long-enough-123" })}`,
      401,
      "invalid_jwt",
    ],
    [
      "an expired token",
      `Bearer ${await new SignJWT({ sub, role: "authenticated" }).setProtectedHeader({
        alg: "HS256",
      })
        .setExpirationTime(now - 3600).sign(secret)}`,
      401,
      "jwt_expired",
    ],
    [
      "a token not valid yet",
      `Bearer ${await new SignJWT({ sub, role: "authenticated" }).setProtectedHeader({
        alg: "HS256",
      })
        .setNotBefore(now + 3600).setExpirationTime(now + 7200).sign(secret)}`,
      401,
      "jwt_not_yet_valid",
    ],
    [
      "HS512",
      `Bearer ${await new SignJWT({ sub, role: "authenticated" }).setProtectedHeader({
        alg: "HS512",
      })
        .setExpirationTime(now + 60).sign(new TextEncoder().encode(stack.jwtSecret.repeat(3)))}`,
      401,
      "invalid_jwt",
    ],
    ["the anon key", `Bearer ${stack.anonKey}`, 401, "user_jwt_required"],
    [
      "a valid token of a user that does not exist",
      `Bearer ${await mintUserToken({ sub, secret: stack.jwtSecret })}`,
      401,
      "unknown_user",
    ],
    ["the service_role key", `Bearer ${stack.serviceRoleKey}`, 401, "user_jwt_required"],
    [
      "a user token without sub",
      `Bearer ${await new SignJWT({ role: "authenticated" }).setProtectedHeader({ alg: "HS256" })
        .setExpirationTime(now + 60).sign(secret)}`,
      401,
      "user_jwt_required",
    ],
  ];
  for (const [name, authorization, status, code] of cases) {
    await t.step(`${name} → ${status} ${code}`, async () => {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const res = await requestInProcess("/connections", { headers });
      assert.equal(res.status, status);
      assert.equal(res.body.error.code, code);
      assert.equal(typeof res.body.error.message, "string");
    });
  }
});

Deno.test("unknown routes answer 404 route_not_found in the error shape", async () => {
  await using sql = openDb();
  const user = await createUser(sql);
  const res = await requestInProcess("/nope", {
    headers: { authorization: `Bearer ${user.token}` },
  });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, "route_not_found");
});

Deno.test("every request gets one log line with its id, and no secrets", async () => {
  await using sql = openDb();
  const user = await createUser(sql);
  const lines: string[] = [];
  const res = await requestInProcess("/stats", {
    headers: { authorization: `Bearer ${user.token}`, "x-request-id": "req-123" },
  }, lines);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-request-id"), "req-123");
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.equal(line.requestId, "req-123");
  assert.equal(line.method, "GET");
  assert.equal(line.route, "/mcp-connections/stats");
  assert.equal(line.status, 200);
  assert.equal(typeof line.durationMs, "number");
  assert.equal(line.userId, user.id);
  assert.ok(!lines[0]!.includes(user.token), "the token is never logged");

  const generated = await requestInProcess("/stats", {
    headers: { authorization: `Bearer ${user.token}`, "x-request-id": "bad id with spaces" },
  });
  assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
});

Deno.test("CORS lets a browser app call the API", async (t) => {
  await t.step(
    "a preflight answers 204 with the allowed methods and headers, without a token",
    async () => {
      const res = await call(`${API}/connections`, {
        method: "OPTIONS",
        headers: {
          origin: "http://localhost:3000",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, x-client-info, apikey, content-type",
        },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      const allowed = res.headers.get("access-control-allow-headers")?.toLowerCase() ?? "";
      for (const header of ["authorization", "x-client-info", "apikey", "content-type"]) {
        assert.ok(allowed.includes(header), header);
      }
      assert.match(res.headers.get("access-control-allow-methods") ?? "", /PATCH/);
    },
  );

  await t.step("responses carry Access-Control-Allow-Origin", async () => {
    await using sql = openDb();
    const user = await createUser(sql);
    const res = await call(`${API}/stats`, {
      headers: { origin: "http://localhost:3000", authorization: `Bearer ${user.token}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("access-control-expose-headers") ?? "", /x-request-id/i);
  });
});

Deno.test("GET /openapi.json is a valid OpenAPI 3.1 document of every route", async () => {
  // The gateway verifies JWTs for this function, so even the document needs one: the anon key.
  const res = await call<Record<string, unknown>>(`${API}/openapi.json`, {
    headers: { authorization: `Bearer ${stack.anonKey}` },
  });
  assert.equal(res.status, 200);
  const routes = await validOpenApiRoutes(res.body);
  assert.deepEqual(routes, [
    "DELETE /mcp-connections/connections/{id}",
    "GET /mcp-connections/admin/connections",
    "GET /mcp-connections/admin/stats",
    "GET /mcp-connections/admin/usage",
    "GET /mcp-connections/admin/usage/users",
    "GET /mcp-connections/agents/{agentId}/recommendations",
    "GET /mcp-connections/connections",
    "GET /mcp-connections/connections/{id}",
    "GET /mcp-connections/connections/{id}/health",
    "GET /mcp-connections/connections/{id}/usage",
    "GET /mcp-connections/stats",
    "GET /mcp-connections/usage",
    "GET /mcp-connections/usage/connections",
    "PATCH /mcp-connections/connections/{id}",
    "POST /mcp-connections/connections",
    "POST /mcp-connections/connections/{id}/test",
    "POST /mcp-connections/connections/{id}/usage",
  ]);
});
