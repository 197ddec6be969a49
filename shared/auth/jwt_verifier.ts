/**
 * Verifies the caller's JWT before any work, with jose:
 *
 * - HS256 (Supabase's legacy JWT secret): the symmetric keys of `SUPABASE_JWKS`
 *   (`kty: "oct"`, which the Supabase CLI injects locally) and/or `JWT_SECRET`;
 * - ES256 / RS256 (Supabase's asymmetric signing keys): the public keys of
 *   `SUPABASE_JWKS`, else the project's JWKS endpoint
 *   (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`, fetched and cached by jose).
 *
 * Anything else (`alg: none`, HS512, a malformed token) is refused, and so is a
 * token without `exp`: every token Supabase issues (user sessions and API keys) has
 * one, and a token that never expires cannot be revoked by waiting. Failures are
 * `AppError`s with precise codes (invalid_jwt, jwt_expired, jwt_not_yet_valid).
 *
 * What a token is FOR (its `aud`, `role`, `sub`) is checked by the caller: user
 * routes in `signed_in_user.ts`, the health check in `service_caller.ts`.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { AppError } from "../errors/app_error.ts";

/** The algorithms Supabase signs access tokens with. */
const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256"];
/** Seconds of clock skew tolerated on exp/nbf/iat. */
const CLOCK_TOLERANCE_SECONDS = 30;

export interface JwtKeys {
  /** A JWKS document (e.g. `SUPABASE_JWKS`): oct keys for HS256, public keys for ES256/RS256. */
  jwks?: JSONWebKeySet;
  /** The legacy HS256 secret (e.g. `JWT_SECRET`). */
  secret?: string;
  /** Where to fetch public keys when `jwks` has none (the project's JWKS endpoint). */
  jwksUrl?: URL;
}

export type JwtVerifier = (token: string) => Promise<JWTPayload>;

function base64UrlDecode(value: string): Uint8Array {
  const base64 = value.replaceAll("-", "+").replaceAll("_", "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function describeFailure(error: unknown): AppError {
  if (error instanceof errors.JWTExpired) {
    return new AppError("jwt_expired", "The access token has expired; sign in again.", undefined, {
      cause: error,
    });
  }
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === "exp") {
    return new AppError("invalid_jwt", "The access token has no expiry (exp).", undefined, {
      cause: error,
    });
  }
  if (error instanceof errors.JWTClaimValidationFailed && ["nbf", "iat"].includes(error.claim)) {
    return new AppError("jwt_not_yet_valid", "The access token is not valid yet.", undefined, {
      cause: error,
    });
  }
  if (error instanceof AppError) return error;
  return new AppError("invalid_jwt", "The access token is invalid.", undefined, { cause: error });
}

/** Builds a verifier from the keys a deployment has; keys are prepared once, not per request. */
export function createJwtVerifier(keys: JwtKeys): JwtVerifier {
  const jwksKeys: JWK[] = keys.jwks?.keys ?? [];
  const secrets: { kid?: string; bytes: Uint8Array }[] = jwksKeys
    .filter((key) => key.kty === "oct" && typeof key.k === "string")
    .map((key) => ({ kid: key.kid, bytes: base64UrlDecode(key.k as string) }));
  if (keys.secret) secrets.push({ bytes: new TextEncoder().encode(keys.secret) });
  // Imported once: importing an HMAC key per request costs more than verifying with it.
  const symmetricKeys = secrets.map(({ kid, bytes }) => ({
    kid,
    key: crypto.subtle.importKey(
      "raw",
      bytes as BufferSource,
      { name: "HMAC", hash: "SHA-256" },
      false,
      [
        "verify",
      ],
    ),
  }));

  const publicKeys = jwksKeys.filter((key) => key.kty !== "oct");
  const asymmetric = publicKeys.length > 0
    ? createLocalJWKSet({ keys: publicKeys })
    : keys.jwksUrl
    ? createRemoteJWKSet(keys.jwksUrl, { timeoutDuration: 5_000, cooldownDuration: 30_000 })
    : null;

  const options = { clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ["exp"] };

  return async (token) => {
    let alg: string | undefined;
    let kid: string | undefined;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
    } catch (error) {
      throw describeFailure(error);
    }
    try {
      if (alg === "HS256") {
        const candidates = symmetricKeys.filter((k) => !kid || !k.kid || k.kid === kid);
        if (candidates.length === 0) {
          throw new AppError(
            "invalid_jwt",
            "HS256 tokens cannot be verified here: set JWT_SECRET (legacy JWT secret) or use signing keys.",
          );
        }
        let lastError: unknown;
        for (const candidate of candidates) {
          try {
            return (await jwtVerify(token, await candidate.key, {
              ...options,
              algorithms: ["HS256"],
            }))
              .payload;
          } catch (error) {
            lastError = error;
            if (!(error instanceof errors.JWSSignatureVerificationFailed)) break;
          }
        }
        throw lastError;
      }
      if (alg && ASYMMETRIC_ALGORITHMS.includes(alg) && asymmetric) {
        return (await jwtVerify(token, asymmetric, {
          ...options,
          algorithms: ASYMMETRIC_ALGORITHMS,
        }))
          .payload;
      }
      throw new AppError(
        "invalid_jwt",
        `Tokens signed with ${alg ?? "no algorithm"} are not accepted.`,
      );
    } catch (error) {
      throw describeFailure(error);
    }
  };
}
