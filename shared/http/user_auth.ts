/**
 * Middleware for user routes: verifies the caller's JWT before any work, checks its
 * user still exists, and gives the handler a database client that acts as that user
 * (RLS applies).
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import type { MiddlewareHandler } from "hono";
import type { JwtVerifier } from "../auth/jwt_verifier.ts";
import { authenticateUser, type SignedInUser } from "../auth/signed_in_user.ts";
import { UserExistenceCheck } from "../auth/user_existence.ts";
import { createUserDbClient, type DbClientSettings } from "../db/user_client.ts";
import type { RequestLogVariables } from "./request_log.ts";

export interface UserVariables extends RequestLogVariables {
  user: SignedInUser;
  db: SupabaseClient;
}

export function requireUser(
  verify: JwtVerifier,
  settings: DbClientSettings,
): MiddlewareHandler<{ Variables: UserVariables }> {
  const existence = new UserExistenceCheck();
  return async (c, next) => {
    const user = await authenticateUser(c.req.header("authorization"), verify);
    const db = createUserDbClient(settings, user.token);
    await existence.assertExists(user.id, db);
    c.set("user", user);
    c.set("userId", user.id);
    c.set("db", db);
    await next();
  };
}
