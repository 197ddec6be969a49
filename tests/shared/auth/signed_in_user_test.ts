import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createJwtVerifier } from "../../../shared/auth/jwt_verifier.ts";
import { authenticateToken } from "../../../shared/auth/signed_in_user.ts";
import { AppError } from "../../../shared/errors/app_error.ts";
import { mintUserToken } from "../../../scripts/stack/keys.ts";

const SECRET = "a-legacy-jwt-secret-of-at-least-32-chars";
const KEY = new TextEncoder().encode(SECRET);
const USER = "5a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d";
const verify = createJwtVerifier({ secret: SECRET });

function rejectsWith(code: string, message?: RegExp) {
  return (error: unknown) =>
    error instanceof AppError && error.code === code && (!message || message.test(error.message));
}

/** A token signed with the project's key, with exactly the claims given. */
function signed(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(KEY);
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

Deno.test("authenticateToken() accepts what Supabase Auth issues to a signed-in user", async () => {
  const token = await mintUserToken({ sub: USER, email: "u@example.com", secret: SECRET });
  const user = await authenticateToken(token, verify);
  assert.equal(user.id, USER);
  // GoTrue may issue aud as an array too.
  const arrayAud = await signed({
    sub: USER,
    role: "authenticated",
    aud: ["authenticated"],
    exp: inAnHour(),
  });
  assert.equal((await authenticateToken(arrayAud, verify)).id, USER);
});

Deno.test("authenticateToken() refuses a token without exp, even when correctly signed", async () => {
  const token = await signed({ sub: USER, role: "authenticated", aud: "authenticated" });
  await assert.rejects(authenticateToken(token, verify), rejectsWith("invalid_jwt", /exp/));
});

Deno.test("authenticateToken() refuses tokens for another audience or without one", async (t) => {
  for (
    const [name, aud] of [
      ["another audience", "service"],
      ["no audience", undefined],
      ["an array without authenticated", ["anon", "other"]],
    ] as const
  ) {
    await t.step(name, async () => {
      const token = await signed({
        sub: USER,
        role: "authenticated",
        exp: inAnHour(),
        ...(aud === undefined ? {} : { aud }),
      });
      await assert.rejects(authenticateToken(token, verify), rejectsWith("invalid_jwt", /aud/));
    });
  }
});

Deno.test("authenticateToken() checks iss only when the deployment names its issuer", async () => {
  const issuer = "https://abcdefghijklmnop.supabase.co/auth/v1";
  const ours = await mintUserToken({ sub: USER, issuer, secret: SECRET });
  const theirs = await mintUserToken({
    sub: USER,
    issuer: "https://evil.example/auth/v1",
    secret: SECRET,
  });
  assert.equal((await authenticateToken(ours, verify, { issuer })).id, USER);
  await assert.rejects(authenticateToken(theirs, verify, { issuer }), rejectsWith("invalid_jwt"));
  // Without a configured issuer the signature alone ties the token to the project.
  assert.equal((await authenticateToken(theirs, verify)).id, USER);
});

Deno.test("authenticateToken() refuses API keys and other roles with user_jwt_required", async () => {
  const serviceKey = await signed({ iss: "supabase-demo", role: "service_role", exp: inAnHour() });
  await assert.rejects(authenticateToken(serviceKey, verify), rejectsWith("user_jwt_required"));
});
