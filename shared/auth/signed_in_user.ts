/**
 * Who is calling: the signed-in user behind a verified `Authorization: Bearer` token.
 * Only user tokens are accepted on user routes: `role: "authenticated"`, a UUID `sub`
 * and `aud: "authenticated"`, which is what Supabase Auth (GoTrue) puts in every
 * session's access token, hosted and local alike. The anon and service_role keys
 * (no `aud`, another role) are refused with `user_jwt_required`; a token signed with
 * the project's key but meant for another audience with `invalid_jwt`.
 *
 * `iss` is checked only when the deployment names its issuer (`JWT_ISSUER`): the
 * issuer is `<public project URL>/auth/v1`, which a function cannot derive, because
 * `SUPABASE_URL` inside the runtime is another URL under `supabase functions serve`
 * (`http://kong:8000`) and behind custom domains. The signature already ties the
 * token to the project's own keys.
 */
import type { JWTPayload } from "jose";
import { AppError } from "../errors/app_error.ts";
import { Uuid } from "../schemas/ids.ts";
import type { JwtVerifier } from "./jwt_verifier.ts";

export interface SignedInUser {
  id: string;
  claims: JWTPayload;
}

/** The bearer token of an Authorization header, or an AppError saying what is wrong. */
export function bearerToken(authorization: string | undefined | null): string {
  if (!authorization) {
    throw new AppError(
      "missing_authorization",
      "Send the user's access token as `Authorization: Bearer <JWT>`.",
    );
  }
  const match = /^Bearer +([^\s]+)\s*$/i.exec(authorization);
  if (!match) {
    throw new AppError("invalid_authorization", "The Authorization header must be `Bearer <JWT>`.");
  }
  return match[1]!;
}

/** The audience Supabase Auth issues users' access tokens for. */
export const USER_TOKEN_AUDIENCE = "authenticated";

export interface UserTokenRules {
  /** When set, the token's `iss` must equal it (e.g. `https://<ref>.supabase.co/auth/v1`). */
  issuer?: string;
}

function hasAudience(aud: JWTPayload["aud"], audience: string): boolean {
  return Array.isArray(aud) ? aud.includes(audience) : aud === audience;
}

/** Verifies a bearer token and checks it belongs to a signed-in user. */
export async function authenticateToken(
  token: string,
  verify: JwtVerifier,
  rules: UserTokenRules = {},
): Promise<SignedInUser> {
  const claims = await verify(token);
  const sub = Uuid.safeParse(claims.sub);
  if (claims.role !== "authenticated" || !sub.success) {
    throw new AppError(
      "user_jwt_required",
      "This endpoint needs a signed-in user's access token, not an API key.",
      { role: typeof claims.role === "string" ? claims.role : null },
    );
  }
  if (!hasAudience(claims.aud, USER_TOKEN_AUDIENCE)) {
    throw new AppError(
      "invalid_jwt",
      `The access token is not meant for this API (aud must be "${USER_TOKEN_AUDIENCE}").`,
    );
  }
  if (rules.issuer !== undefined && claims.iss !== rules.issuer) {
    throw new AppError("invalid_jwt", "The access token was issued by another issuer.");
  }
  return { id: sub.data, claims };
}
