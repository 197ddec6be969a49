/**
 * Who is calling: the signed-in user behind a verified `Authorization: Bearer` token.
 * Only user tokens (`role: "authenticated"` with a UUID `sub`) are accepted on user
 * routes; the anon and service_role keys are refused with `user_jwt_required`.
 */
import type { JWTPayload } from "jose";
import { AppError } from "../errors/app_error.ts";
import { Uuid } from "../schemas/ids.ts";
import type { JwtVerifier } from "./jwt_verifier.ts";

export interface SignedInUser {
  id: string;
  /** The raw token, forwarded to PostgREST so that RLS sees the same user. */
  token: string;
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

/** Verifies a bearer token and checks it belongs to a signed-in user. */
export async function authenticateToken(token: string, verify: JwtVerifier): Promise<SignedInUser> {
  const claims = await verify(token);
  const sub = Uuid.safeParse(claims.sub);
  if (claims.role !== "authenticated" || !sub.success) {
    throw new AppError(
      "user_jwt_required",
      "This endpoint needs a signed-in user's access token, not an API key.",
      { role: typeof claims.role === "string" ? claims.role : null },
    );
  }
  return { id: sub.data, token, claims };
}
