/** The gateway answers like a Supabase project URL. */
import assert from "node:assert/strict";
import { upstreamAuthorization } from "../../../scripts/stack/gateway.ts";
import { LOCAL_API_KEYS } from "../../../scripts/stack/keys.ts";
import { call, createUser, openDb, stack } from "../../_support/stack.ts";

Deno.test("upstreamAuthorization() follows the CLI's Kong rule", () => {
  const keys = LOCAL_API_KEYS;
  const h = (init: Record<string, string>) => new Headers(init);
  assert.equal(
    upstreamAuthorization(h({ authorization: "Bearer user.jwt" }), keys),
    "Bearer user.jwt",
  );
  assert.equal(
    upstreamAuthorization(h({ apikey: keys.publishableKey }), keys),
    `Bearer ${keys.anonKey}`,
  );
  assert.equal(
    upstreamAuthorization(h({ apikey: keys.secretKey }), keys),
    `Bearer ${keys.serviceRoleKey}`,
  );
  assert.equal(
    upstreamAuthorization(
      h({ authorization: `Bearer ${keys.publishableKey}`, apikey: keys.publishableKey }),
      keys,
    ),
    `Bearer ${keys.anonKey}`,
  );
  assert.equal(upstreamAuthorization(h({ apikey: keys.anonKey }), keys), `Bearer ${keys.anonKey}`);
  assert.equal(upstreamAuthorization(h({}), keys), null);
});

Deno.test("the gateway routes /rest/v1 and /functions/v1 like a project URL", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql);

  await t.step("/rest/v1 with the publishable key acts as anon", async () => {
    const res = await call(`${stack.url}/rest/v1/agent_mcp_connections`, {
      headers: { apikey: stack.publishableKey },
    });
    assert.equal(res.status, 401);
    assert.equal((res.body as { code: string }).code, "42501");
  });

  await t.step("/rest/v1 with the secret key acts as service_role", async () => {
    const res = await call<unknown[]>(
      `${stack.url}/rest/v1/account_tool_instance_secrets?select=instance_id`,
      {
        headers: { apikey: stack.secretKey },
      },
    );
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body));
  });

  await t.step(
    "a function with verify_jwt refuses a request without a valid JWT, as the platform does",
    async () => {
      const missing = await call(`${stack.url}/functions/v1/mcp-connections/stats`);
      assert.equal(missing.status, 401);
      assert.deepEqual(missing.body, { msg: "Error: Missing authorization header" });
      const bad = await call(`${stack.url}/functions/v1/mcp-connections/stats`, {
        headers: { authorization: "Bearer abc.def.ghi" },
      });
      assert.equal(bad.status, 401);
      assert.deepEqual(bad.body, { msg: "Invalid JWT" });
    },
  );

  await t.step("the function sees its own name in the path, and the query string", async () => {
    const res = await call(`${stack.url}/functions/v1/mcp-connections/connections?limit=1`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    assert.equal(res.status, 200);
  });

  await t.step("unknown functions and paths answer 404", async () => {
    assert.equal((await call(`${stack.url}/functions/v1/nope`)).status, 404);
    assert.equal((await call(`${stack.url}/graphql/v2`)).status, 404);
  });
});
