import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createJwtVerifier } from "../../../shared/auth/jwt_verifier.ts";
import {
  authorizeServiceCaller,
  CRON_SECRET_HEADER,
  secretsEqual,
} from "../../../shared/auth/service_caller.ts";
import { AppError } from "../../../shared/errors/app_error.ts";

const JWT_SECRET = "a-legacy-jwt-secret-of-at-least-32-chars";
const SERVICE_KEY = "sb_secret_0123456789abcdefghijklmnopqrstuv";
const CRON_SECRET = "a-cron-secret-of-at-least-thirty-two-characters";
const settings = {
  serviceKeys: ["sb_secret_another-key-that-is-not-used-here", SERVICE_KEY],
  cronSecret: CRON_SECRET,
  verifyJwt: createJwtVerifier({ secret: JWT_SECRET }),
};

function rejectsWith(code: string) {
  return (error: unknown) => error instanceof AppError && error.code === code;
}

function jwt(role: string): Promise<string> {
  return new SignJWT({ role, sub: crypto.randomUUID(), aud: "authenticated" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(JWT_SECRET));
}

Deno.test("secretsEqual() is true for the same string only", async () => {
  assert.equal(await secretsEqual(SERVICE_KEY, SERVICE_KEY), true);
  assert.equal(await secretsEqual("", ""), true);
  // One character changed, at the start, in the middle and at the end.
  for (const index of [0, 20, SERVICE_KEY.length - 1]) {
    const changed = SERVICE_KEY.slice(0, index) + "!" + SERVICE_KEY.slice(index + 1);
    assert.equal(await secretsEqual(changed, SERVICE_KEY), false, `changed at ${index}`);
  }
  // A prefix, a longer string, the empty string, another case.
  assert.equal(await secretsEqual(SERVICE_KEY.slice(0, -1), SERVICE_KEY), false);
  assert.equal(await secretsEqual(`${SERVICE_KEY}x`, SERVICE_KEY), false);
  assert.equal(await secretsEqual("", SERVICE_KEY), false);
  assert.equal(await secretsEqual(SERVICE_KEY.toUpperCase(), SERVICE_KEY), false);
  // Unicode is compared as its UTF-8 bytes.
  assert.equal(await secretsEqual("clé", "clé"), true);
  assert.equal(await secretsEqual("clé", "cle"), false);
});

Deno.test("authorizeServiceCaller() tells how the scheduler proved itself", async () => {
  const call = (headers: Record<string, string>) =>
    authorizeServiceCaller(new Headers(headers), settings);
  assert.equal(await call({ authorization: `Bearer ${SERVICE_KEY}` }), "service_key");
  assert.equal(await call({ apikey: SERVICE_KEY }), "service_key");
  assert.equal(await call({ [CRON_SECRET_HEADER]: CRON_SECRET }), "cron_secret");
  assert.equal(
    await call({ authorization: `Bearer ${await jwt("service_role")}` }),
    "service_role_jwt",
  );
});

Deno.test("authorizeServiceCaller() refuses every other caller", async () => {
  const call = (headers: Record<string, string>) =>
    authorizeServiceCaller(new Headers(headers), settings);
  await assert.rejects(call({}), rejectsWith("missing_authorization"));
  await assert.rejects(call({ apikey: `${SERVICE_KEY}x` }), rejectsWith("invalid_jwt"));
  await assert.rejects(
    call({ [CRON_SECRET_HEADER]: CRON_SECRET.slice(1) }),
    rejectsWith("invalid_authorization"),
  );
  // The cron secret header decides alone: a valid key beside a wrong secret is still refused.
  await assert.rejects(
    call({ [CRON_SECRET_HEADER]: "wrong", authorization: `Bearer ${SERVICE_KEY}` }),
    rejectsWith("invalid_authorization"),
  );
  await assert.rejects(
    call({ authorization: `Bearer ${await jwt("authenticated")}` }),
    rejectsWith("forbidden"),
  );
  // Without a configured cron secret, no secret is accepted, the empty one included.
  await assert.rejects(
    authorizeServiceCaller(new Headers({ [CRON_SECRET_HEADER]: "" }), {
      ...settings,
      cronSecret: undefined,
    }),
    rejectsWith("invalid_authorization"),
  );
});
