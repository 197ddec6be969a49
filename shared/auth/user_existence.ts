/**
 * Whether a verified token's user still exists: a deleted user's token stays valid
 * until it expires, and must not be answered as if it were an ordinary user with no
 * data. Positive answers are remembered for a minute (per process), so the check
 * costs one database call per user per minute, not one per request.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { fromPostgrest } from "../db/postgrest_errors.ts";
import { AppError } from "../errors/app_error.ts";

const REMEMBER_MS = 60_000;
const MAX_REMEMBERED = 10_000;

export class UserExistenceCheck {
  #known = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Throws `unknown_user` when the caller's user does not exist. */
  async assertExists(userId: string, db: SupabaseClient): Promise<void> {
    const until = this.#known.get(userId);
    if (until !== undefined && until > this.now()) return;
    const { data, error, status } = await db.rpc("auth_user_exists");
    if (error) throw fromPostgrest({ error, status }, "checking the user");
    if (data !== true) {
      this.#known.delete(userId);
      throw new AppError("unknown_user", "The access token's user does not exist.");
    }
    if (this.#known.size >= MAX_REMEMBERED) this.#known.clear();
    this.#known.set(userId, this.now() + REMEMBER_MS);
  }
}
