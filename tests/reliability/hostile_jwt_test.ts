/**
 * Hostile JWTs, through the gateway and in-process: no token, garbage, expired, not yet
 * valid, no expiry, another or no audience, a wrong secret, `alg: none`, a forged
 * service_role token, a tampered payload, another algorithm, a token whose user does not exist or was deleted, and the anon and
 * service role keys where a user's token is due. None gets data: 401 (403 where the spec
 * says), on every route of mcp-connections, on PostgREST (`/rest/v1`) and on the health
 * check.
 *
 * The gateway (verify_jwt = true for mcp-connections, as on the platform) refuses tokens
 * it cannot verify with its own `{"msg": ...}` and 401; what gets past it (valid tokens
 * of the wrong kind) the function refuses in the API's error shape. The function's own
 * codes for every case are asserted in-process (tests/functions/mcp-connections/
 * http_test.ts has the common ones; these are the others).
 */
import assert from "node:assert/strict";
import { generateKeyPair, SignJWT } from "jose";
import { createJwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import { loadFunctionEnv } from "../../shared/config/function_env.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { createProbe } from "../../shared/mcp/mod.ts";
import { createMcpConnectionsApp } from "../../functions/mcp-connections/app.ts";
import { localJwks, mintUserToken } from "../../scripts/stack/keys.ts";
import { LOOPBACK_POLICY } from "../_support/mcp_servers.ts";
import { assertErrorShape, readBody } from "../_support/reliability.ts";
import { API, createServer, createUser, openDb, stack } from "../_support/stack.ts";

const secret = new TextEncoder().encode(stack.jwtSecret);
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** How a hostile credential is sent, and what each layer answers. */
interface Hostile {
  name: string;
  /** The Authorization header (none when undefined). */
  authorization?: string;
  /** What the gateway answers; `pass` lets the request reach the function. */
  gateway: { status: 401; msg: RegExp } | "pass";
  /** The function's own answer to this token (in-process, or past the gateway). */
  fn: { status: number; code: string };
  /** The health check's answer to this token as its credential. */
  healthCheck: { status: number; code: string };
  /**
   * The token is signed with the project's key for the owner: PostgREST, which (as on
   * the platform) checks only the signature and `exp` when present, serves the owner's
   * own rows to it. Only the function holds user tokens to `exp` and `aud`.
   */
  restSeesOwner?: true;
}

async function hostileTokens(ids: {
  ghost: string;
  deleted: string;
  owner: string;
  ownerToken: string;
}): Promise<Hostile[]> {
  const userClaims = { role: "authenticated", aud: "authenticated" };
  const serviceClaims = { role: "service_role", iss: "supabase-demo" };
  const attackerKey = new TextEncoder().encode("an-attacker-guess-of-the-secret-0123456789");
  const { privateKey } = await generateKeyPair("ES256");
  const [header, , signature] = ids.ownerToken.split(".");
  const invalid = { status: 401 as const, msg: /^Invalid JWT$/ };
  const invalidJwt = { status: 401, code: "invalid_jwt" };
  return [
    {
      name: "no token at all",
      gateway: { status: 401, msg: /Missing authorization header/ },
      fn: { status: 401, code: "missing_authorization" },
      healthCheck: { status: 401, code: "missing_authorization" },
    },
    {
      name: "an empty bearer",
      authorization: "Bearer ",
      gateway: { status: 401, msg: /not 'Bearer \{token\}'/ },
      fn: { status: 401, code: "invalid_authorization" },
      healthCheck: { status: 401, code: "missing_authorization" },
    },
    {
      name: "garbage",
      authorization: "Bearer not.a.jwt",
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      // (Below the HTTP servers' header limit, beyond which they answer 400 themselves.)
      name: "a 30 KB token",
      authorization: `Bearer ${b64url({ alg: "HS256" })}.${"A".repeat(30_000)}.sig`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "an expired user token",
      authorization: `Bearer ${await new SignJWT({ ...userClaims, sub: ids.owner })
        .setProtectedHeader({ alg: "HS256" }).setIssuedAt(now() - 7200)
        .setExpirationTime(now() - 3600).sign(secret)}`,
      gateway: invalid,
      fn: { status: 401, code: "jwt_expired" },
      healthCheck: invalidJwt,
    },
    {
      name: "a user token not valid yet",
      authorization: `Bearer ${await new SignJWT({ ...userClaims, sub: ids.owner })
        .setProtectedHeader({ alg: "HS256" }).setNotBefore(now() + 3600)
        .setExpirationTime(now() + 7200).sign(secret)}`,
      gateway: invalid,
      fn: { status: 401, code: "jwt_not_yet_valid" },
      healthCheck: invalidJwt,
    },
    {
      name: "a user token signed with a wrong secret",
      authorization: `Bearer ${await mintUserToken({
        sub: ids.owner,
        secret: "an-attacker-guess-of-the-secret-0123456789",
      })}`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "alg none with a user's claims",
      authorization: `Bearer ${b64url({ alg: "none", typ: "JWT" })}.${
        b64url({ ...userClaims, sub: ids.owner, exp: now() + 3600 })
      }.`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "alg none claiming service_role",
      authorization: `Bearer ${b64url({ alg: "none", typ: "JWT" })}.${
        b64url({ ...serviceClaims, exp: now() + 3600 })
      }.`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "a forged service_role token (bad signature)",
      authorization: `Bearer ${await new SignJWT(serviceClaims).setProtectedHeader({
        alg: "HS256",
        typ: "JWT",
      }).setExpirationTime(now() + 3600).sign(attackerKey)}`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "a user's token with its payload swapped for service_role",
      authorization: `Bearer ${header}.${
        b64url({ ...serviceClaims, exp: now() + 3600 })
      }.${signature}`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "a user's token with its sub swapped for another user's",
      authorization: `Bearer ${header}.${
        b64url({ ...userClaims, sub: ids.ghost, exp: now() + 3600 })
      }.${signature}`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "HS512 signed with the secret",
      authorization: `Bearer ${await new SignJWT({ ...userClaims, sub: ids.owner })
        .setProtectedHeader({ alg: "HS512" }).setExpirationTime(now() + 3600)
        .sign(new TextEncoder().encode(stack.jwtSecret.repeat(3)))}`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "ES256 signed with an attacker's key",
      authorization: `Bearer ${await new SignJWT({ ...userClaims, sub: ids.owner })
        .setProtectedHeader({ alg: "ES256", kid: "attacker" }).setExpirationTime(now() + 3600)
        .sign(privateKey)}`,
      gateway: invalid,
      fn: invalidJwt,
      healthCheck: invalidJwt,
    },
    {
      name: "a valid token whose user does not exist",
      authorization: `Bearer ${await mintUserToken({ sub: ids.ghost, secret: stack.jwtSecret })}`,
      gateway: "pass",
      fn: { status: 401, code: "unknown_user" },
      healthCheck: { status: 403, code: "forbidden" },
    },
    {
      name: "a valid token of a deleted user",
      authorization: `Bearer ${await mintUserToken({ sub: ids.deleted, secret: stack.jwtSecret })}`,
      gateway: "pass",
      fn: { status: 401, code: "unknown_user" },
      healthCheck: { status: 403, code: "forbidden" },
    },
    {
      name: "a validly signed token whose sub is not a UUID",
      authorization: `Bearer ${await new SignJWT({ ...userClaims, sub: "admin" })
        .setProtectedHeader({ alg: "HS256" }).setExpirationTime(now() + 3600).sign(secret)}`,
      gateway: "pass",
      fn: { status: 401, code: "user_jwt_required" },
      healthCheck: { status: 403, code: "forbidden" },
    },
    {
      name: "a correctly signed user token without exp (never expires)",
      authorization: `Bearer ${await new SignJWT({ ...userClaims, sub: ids.owner })
        .setProtectedHeader({ alg: "HS256" }).setIssuedAt(now()).sign(secret)}`,
      gateway: "pass",
      fn: invalidJwt,
      healthCheck: invalidJwt,
      restSeesOwner: true,
    },
    {
      name: "a correctly signed user token for another audience",
      authorization: `Bearer ${await new SignJWT({
        ...userClaims,
        aud: "some-other-api",
        sub: ids.owner,
      })
        .setProtectedHeader({ alg: "HS256" }).setExpirationTime(now() + 3600).sign(secret)}`,
      gateway: "pass",
      fn: invalidJwt,
      healthCheck: { status: 403, code: "forbidden" },
      restSeesOwner: true,
    },
    {
      name: "a correctly signed user token without aud",
      authorization: `Bearer ${await new SignJWT({ role: "authenticated", sub: ids.owner })
        .setProtectedHeader({ alg: "HS256" }).setExpirationTime(now() + 3600).sign(secret)}`,
      gateway: "pass",
      fn: invalidJwt,
      healthCheck: { status: 403, code: "forbidden" },
      restSeesOwner: true,
    },
    {
      name: "the anon key",
      authorization: `Bearer ${stack.anonKey}`,
      gateway: "pass",
      fn: { status: 401, code: "user_jwt_required" },
      healthCheck: { status: 403, code: "forbidden" },
    },
    {
      name: "the service role key (not a user)",
      authorization: `Bearer ${stack.serviceRoleKey}`,
      gateway: "pass",
      fn: { status: 401, code: "user_jwt_required" },
      healthCheck: { status: 200, code: "" },
    },
  ];
}

/** Every route of mcp-connections, aimed at the owner's own rows. */
function routes(connection: string, agent: string, server: string) {
  return [
    { method: "GET", path: "/connections" },
    { method: "POST", path: "/connections", body: { agentId: agent, mcpServerInstanceId: server } },
    { method: "GET", path: `/connections/${connection}` },
    { method: "PATCH", path: `/connections/${connection}`, body: { config: { timeout: 9999 } } },
    { method: "DELETE", path: `/connections/${connection}` },
    { method: "POST", path: `/connections/${connection}/test` },
    {
      method: "POST",
      path: `/connections/${connection}/usage`,
      body: { success: true, responseTimeMs: 1, bytesTransferred: 1 },
    },
    { method: "GET", path: "/stats" },
    { method: "GET", path: "/admin/connections" },
    { method: "GET", path: "/admin/stats" },
  ];
}

/** The function as deployed: SUPABASE_JWKS's symmetric key and the project's JWKS endpoint. */
function deployedLikeApp() {
  return createMcpConnectionsApp({
    env: loadFunctionEnv({ SUPABASE_URL: stack.url, SUPABASE_ANON_KEY: stack.anonKey }),
    verifyJwt: createJwtVerifier({
      jwks: JSON.parse(localJwks(stack.jwtSecret)),
      jwksUrl: new URL(`${stack.url}/auth/v1/.well-known/jwks.json`),
    }),
    probe: createProbe({ networkPolicy: LOOPBACK_POLICY }),
    logger: createLogger({}, () => {}),
  });
}

Deno.test("hostile JWTs get 401 (or 403) and never data, at every layer", async (t) => {
  await using sql = openDb();
  const owner = await createUser(sql, { label: "jwt-owner" });
  const deleted = await createUser(sql, { label: "jwt-deleted" });
  await sql`update auth.users set deleted_at = now() where id = ${deleted.id}`;
  const server = await createServer(sql, "http://127.0.0.1:9/mcp", "JWT server");
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values (${owner.agentId}, ${server}, ${owner.id}) returning id
  `;
  const connection = row.id;
  const freeServer = await createServer(sql, "http://127.0.0.1:9/mcp", "JWT free server");
  const snapshot = async () =>
    JSON.stringify(
      await sql`select c.*, (select count(*) from agent_mcp_connections where agent_id = ${owner.agentId}) as n
                from agent_mcp_connections as c where c.id = ${connection}`,
    );
  const before = await snapshot();
  const tokens = await hostileTokens({
    ghost: crypto.randomUUID(),
    deleted: deleted.id,
    owner: owner.id,
    ownerToken: owner.token,
  });
  const leaks = (body: unknown) =>
    JSON.stringify(body).includes(connection) || JSON.stringify(body).includes(owner.agentId);
  const app = deployedLikeApp();
  const allRoutes = routes(connection, owner.agentId, freeServer);
  let requests = 0;

  for (const token of tokens) {
    await t.step(token.name, async () => {
      const headers: Record<string, string> = token.authorization
        ? { authorization: token.authorization }
        : {};
      for (const route of allRoutes) {
        const init = {
          method: route.method,
          headers: { ...headers, ...(route.body ? { "content-type": "application/json" } : {}) },
          body: route.body ? JSON.stringify(route.body) : undefined,
        };
        const where = `${route.method} ${route.path}`;

        // In-process: the function's own answer.
        const local = await app.request(`/mcp-connections${route.path}`, init);
        const localBody = await readBody(local);
        assert.equal(local.status, token.fn.status, `in-process ${where}`);
        assert.equal(assertErrorShape(local.status, localBody, where), token.fn.code);
        assert.ok(!leaks(localBody));

        // Through the gateway: its own refusal, or the function's.
        const remote = await fetch(`${API}${route.path}`, init);
        const remoteBody = await readBody(remote);
        if (token.gateway === "pass") {
          assert.equal(remote.status, token.fn.status, `gateway ${where}`);
          assert.equal(assertErrorShape(remote.status, remoteBody, where), token.fn.code);
        } else {
          assert.equal(remote.status, token.gateway.status, `gateway ${where}`);
          assert.match((remoteBody as { msg: string }).msg, token.gateway.msg, where);
        }
        assert.ok(!leaks(remoteBody));
        requests += 2;
      }

      // PostgREST through the gateway: a token it cannot verify is refused; a valid token
      // of the wrong user sees none of the owner's rows. (The service role key is a
      // legitimate credential that reads everything: the RLS matrix covers it.)
      if (token.healthCheck.status !== 200) {
        for (const path of ["agent_mcp_connections?select=*", "agents?select=*"]) {
          const rest = await fetch(`${stack.url}/rest/v1/${path}`, {
            headers: { apikey: stack.anonKey, ...headers },
          });
          const body = await readBody(rest);
          requests++;
          if (token.restSeesOwner) {
            assert.equal(rest.status, 200, path);
            assert.ok(leaks(body), `the owner's own rows from /rest/v1/${path}`);
            continue;
          }
          assert.ok(!leaks(body), `no data from /rest/v1/${path}`);
          if (token.gateway === "pass") {
            // (A sub that is no UUID makes auth.uid() fail: 400, never rows.)
            assert.ok([200, 400, 401, 403].includes(rest.status), `${rest.status} ${path}`);
          } else {
            assert.ok(rest.status === 401 || rest.status === 403, `${rest.status} ${path}`);
          }
        }
      }

      // The health check (verify_jwt = false: it checks its caller itself).
      const hc = await fetch(`${stack.url}/functions/v1/mcp-health-check`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ serverIds: [crypto.randomUUID()], dryRun: true }),
      });
      const hcBody = await readBody(hc);
      requests++;
      assert.equal(hc.status, token.healthCheck.status);
      if (hc.status !== 200) {
        assert.equal(assertErrorShape(hc.status, hcBody), token.healthCheck.code);
      }
    });
  }

  await t.step("nothing changed", async () => {
    assert.equal(await snapshot(), before);
    // deno-lint-ignore no-console
    console.log(`hostile JWTs: ${tokens.length} tokens, ${requests} requests, none got data`);
  });
});
