import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createJwtVerifier } from "../../../shared/auth/jwt_verifier.ts";
import { AppError } from "../../../shared/errors/app_error.ts";
import { localJwks } from "../../../scripts/stack/keys.ts";

const SECRET = "a-legacy-jwt-secret-of-at-least-32-chars";

function rejectsWith(code: string) {
  return (error: unknown) => error instanceof AppError && error.code === code;
}

Deno.test("createJwtVerifier() accepts HS256 with the legacy secret or an oct key from SUPABASE_JWKS", async () => {
  const token = await new SignJWT({ role: "authenticated" }).setProtectedHeader({ alg: "HS256" })
    .setSubject("u").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
  assert.equal((await createJwtVerifier({ secret: SECRET })(token)).sub, "u");
  assert.equal((await createJwtVerifier({ jwks: JSON.parse(localJwks(SECRET)) })(token)).sub, "u");
  await assert.rejects(
    createJwtVerifier({ secret: SECRET.toUpperCase() })(token),
    rejectsWith("invalid_jwt"),
  );
  await assert.rejects(createJwtVerifier({})(token), rejectsWith("invalid_jwt"));
});

Deno.test("createJwtVerifier() accepts ES256 and RS256 with public keys, local or from a JWKS URL", async () => {
  for (const alg of ["ES256", "RS256"] as const) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: `key-${alg}`, alg };
    const token = await new SignJWT({ role: "authenticated" }).setProtectedHeader({
      alg,
      kid: jwk.kid,
    })
      .setSubject("u").setExpirationTime("1h").sign(privateKey);
    assert.equal((await createJwtVerifier({ jwks: { keys: [jwk] } })(token)).sub, "u", alg);

    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json({ keys: [jwk] }),
    );
    try {
      const remote = createJwtVerifier({
        jwksUrl: new URL(`http://127.0.0.1:${server.addr.port}/jwks.json`),
      });
      assert.equal((await remote(token)).sub, "u", `${alg} via JWKS URL`);
    } finally {
      await server.shutdown();
    }

    const other = await generateKeyPair(alg);
    const forged = await new SignJWT({ role: "authenticated" }).setProtectedHeader({
      alg,
      kid: jwk.kid,
    })
      .setSubject("u").setExpirationTime("1h").sign(other.privateKey);
    await assert.rejects(
      createJwtVerifier({ jwks: { keys: [jwk] } })(forged),
      rejectsWith("invalid_jwt"),
    );
  }
});

Deno.test("createJwtVerifier() refuses alg none and malformed tokens", async () => {
  const verify = createJwtVerifier({ secret: SECRET });
  const none = `${btoa('{"alg":"none"}')}.${btoa('{"sub":"u","role":"authenticated"}')}.`;
  await assert.rejects(verify(none), rejectsWith("invalid_jwt"));
  await assert.rejects(verify("abc"), rejectsWith("invalid_jwt"));
  await assert.rejects(verify(""), rejectsWith("invalid_jwt"));
});
