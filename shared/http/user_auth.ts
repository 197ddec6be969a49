/**
 * Middleware for user routes: verifies the caller's JWT before any work, checks its
 * user still exists, and gives the handler a database client that acts as that user
 * (RLS applies). A verified token is remembered until it expires (at most a minute),
 * with its client, so a user's burst of requests is verified once.
 */
import type { DbClient } from "../db/db_client.ts";
import type { MiddlewareHandler } from "hono";
import type { JwtVerifier } from "../auth/jwt_verifier.ts";
import { SessionCache } from "../auth/session_cache.ts";
import {
  authenticateToken,
  bearerToken,
  type SignedInUser,
  type UserTokenRules,
} from "../auth/signed_in_user.ts";
import { assertUserExists } from "../auth/user_existence.ts";
import { createUserDbClient, type DbClientSettings } from "../db/user_client.ts";
import type { RequestLogVariables } from "./request_log.ts";

export interface UserVariables extends RequestLogVariables {
  /** A database client carrying the caller's token: PostgREST applies their RLS. */
  db: DbClient;
}

interface Session {
  user: SignedInUser;
  db: DbClient;
}

export function requireUser(
  verify: JwtVerifier,
  settings: DbClientSettings,
  rules: UserTokenRules = {},
): MiddlewareHandler<{ Variables: UserVariables }> {
  const sessions = new SessionCache<Session>();
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    let session = sessions.get(token);
    if (!session) {
      const user = await authenticateToken(token, verify, rules);
      const db = createUserDbClient(settings, token);
      await assertUserExists(db);
      session = { user, db };
      const exp = user.claims.exp;
      sessions.set(token, session, typeof exp === "number" ? exp * 1000 : undefined);
    }
    c.set("userId", session.user.id);
    c.set("db", session.db);
    await next();
  };
}
