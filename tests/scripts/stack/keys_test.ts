import assert from "node:assert/strict";
import { jwtVerify } from "jose";
import {
  LOCAL_ANON_KEY,
  LOCAL_JWT_SECRET,
  LOCAL_SERVICE_ROLE_KEY,
  mintUserToken,
  signApiKey,
} from "../../../scripts/stack/keys.ts";

Deno.test("the local keys are the Supabase CLI's, so `supabase start` code works unchanged", async () => {
  assert.equal(await signApiKey("anon", LOCAL_JWT_SECRET), LOCAL_ANON_KEY);
  assert.equal(await signApiKey("service_role", LOCAL_JWT_SECRET), LOCAL_SERVICE_ROLE_KEY);
});

Deno.test("mintUserToken() makes a GoTrue-shaped access token", async () => {
  const sub = crypto.randomUUID();
  const token = await mintUserToken({ sub, email: "a@b.c", expiresIn: 60 });
  const { payload } = await jwtVerify(token, new TextEncoder().encode(LOCAL_JWT_SECRET));
  assert.equal(payload.sub, sub);
  assert.equal(payload.role, "authenticated");
  assert.equal(payload.aud, "authenticated");
  assert.equal(payload.email, "a@b.c");
  assert.equal(payload.exp! - payload.iat!, 60);
});
