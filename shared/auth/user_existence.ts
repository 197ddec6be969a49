/**
 * Whether a verified token's user still exists: a deleted user's token stays valid
 * until it expires, and must not be answered as if it were an ordinary user with no
 * data. (The user routes remember verified tokens for a minute, so this costs one
 * database call per token per minute, not one per request.)
 */
import type { DbClient } from "../db/db_client.ts";
import { fromPostgrest } from "../db/postgrest_errors.ts";
import { AppError } from "../errors/app_error.ts";

/** Throws `unknown_user` when the user behind `db`'s token does not exist. */
export async function assertUserExists(db: DbClient): Promise<void> {
  const { data, error, status } = await db.rpc("auth_user_exists");
  if (error) throw fromPostgrest({ error, status }, "checking the user");
  if (data !== true) throw new AppError("unknown_user", "The access token's user does not exist.");
}
