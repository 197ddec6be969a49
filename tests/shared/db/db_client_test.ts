/**
 * The functions' database clients (shared/db/db_client.ts, postgrest-js) send PostgREST what
 * supabase-js's `createClient()` sends for the same client, request for request: the caller's
 * token as the bearer and the public key as `apikey` (a user's request), the service key as both
 * (the service client), the `public` schema, and they return PostgREST's errors as the same
 * values `fromPostgrest()` maps.
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { fromPostgrest } from "../../../shared/db/postgrest_errors.ts";
import { createServiceDbClient } from "../../../shared/db/service_client.ts";
import { createUserDbClient } from "../../../shared/db/user_client.ts";

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string | null>;
}

const COMPARED = ["apikey", "authorization", "accept-profile", "content-profile", "content-type"];

/** A stand-in PostgREST that records each request and answers with `answer`. */
async function withPostgrest(
  answer: () => Response,
  work: (url: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    seen.push({
      method: request.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(COMPARED.map((name) => [name, request.headers.get(name)])),
    });
    return answer();
  });
  try {
    await work(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

const ok = () => Response.json(true);

Deno.test("a user's client sends what supabase-js sent: the token as bearer, the public key as apikey", async () => {
  await withPostgrest(ok, async (url, seen) => {
    const settings = { supabaseUrl: url, publicApiKey: "public-key" };
    await createUserDbClient(settings, "users-token").rpc("auth_user_exists");
    await createUserDbClient(settings, "users-token").from("connections").select("id").limit(1);
    await createClient(url, "public-key", {
      accessToken: () => Promise.resolve("users-token"),
      db: { retry: false },
    }).rpc("auth_user_exists");
    await createClient(url, "public-key", {
      accessToken: () => Promise.resolve("users-token"),
      db: { retry: false },
    }).from("connections").select("id").limit(1);
    const [rpc, select, jsRpc, jsSelect] = seen;
    assert.equal(rpc!.headers.authorization, "Bearer users-token");
    assert.equal(rpc!.headers.apikey, "public-key");
    assert.deepEqual(rpc, jsRpc);
    assert.deepEqual(select, jsSelect);
    assert.equal(select!.path, "/rest/v1/connections?select=id&limit=1");
  });
});

Deno.test("the service client sends the service key as apikey and bearer, as supabase-js did", async () => {
  await withPostgrest(ok, async (url, seen) => {
    await createServiceDbClient(url, "service-key").rpc("claim_batch", { n: 1 });
    await createClient(url, "service-key", {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      db: { retry: false },
    }).rpc("claim_batch", { n: 1 });
    const [ours, theirs] = seen;
    assert.equal(ours!.headers.authorization, "Bearer service-key");
    assert.equal(ours!.headers.apikey, "service-key");
    assert.deepEqual(ours, theirs);
  });
});

Deno.test("a PostgREST error reaches fromPostgrest() as it did through supabase-js", async () => {
  const coded = () =>
    Response.json({
      code: "PT404",
      message: "No such connection.",
      details: JSON.stringify({ code: "connection_not_found" }),
      hint: null,
    }, { status: 404 });
  await withPostgrest(coded, async (url) => {
    const { error, status } = await createUserDbClient(
      { supabaseUrl: url, publicApiKey: "public-key" },
      "users-token",
    ).rpc("get_connection", { id: "x" });
    assert.ok(error);
    const appError = fromPostgrest({ error, status }, "reading a connection");
    assert.equal(appError.code, "connection_not_found");
    assert.equal(appError.message, "No such connection.");
  });
});
