/**
 * The one place that turns a database failure (a PostgREST error, as postgrest-js
 * returns it) into an AppError:
 *
 *   1. the module's coded errors: its SQL functions and triggers raise every refusal
 *      as SQLSTATE `PT<status>` with DETAIL `{"code": <ErrorCode>, ...details}`
 *      (`agent_mcp_private.raise_error()`), taken as raised: SQL decides the outcome;
 *   2. an unreachable or slow database, by HTTP status and connection codes;
 *   3. every other SQLSTATE by the table below; anything else is an internal error.
 */
import { z } from "zod";
import { AppError, ERROR_CODES, type ErrorCode } from "../errors/app_error.ts";

/** The error half of a postgrest-js (or supabase-js) response. */
export interface PostgrestFailure {
  error: { code?: string; message: string; details?: string | null; hint?: string | null };
  status: number;
}

/** SQLSTATEs (and PostgREST codes) with one meaning wherever they are raised, and a message. */
const BY_SQLSTATE: Readonly<Record<string, [ErrorCode, string?]>> = {
  "23514": ["constraint_violation"], // a check constraint or guard trigger refused a value
  "23502": ["constraint_violation"],
  "22023": ["invalid_request"], // a function refused an argument (the message says which)
  "22P02": ["invalid_request"],
  "42501": ["forbidden", "You may not do this."], // no privilege, or an insert policy
  "57014": ["database_timeout", "The database did not answer in time; try again."],
  PGRST301: ["invalid_jwt", "The access token was refused by the database API."],
  PGRST302: ["invalid_jwt", "The access token was refused by the database API."],
  PGRST303: ["invalid_jwt", "The access token was refused by the database API."],
};

/** @deprecated For `shared/health/health_store.ts` until its SQL raises coded errors. */
export const PG = {
  /** A health check batch may no longer be written by this claim (done, or claimed again). */
  wrongState: "55000",
  /** No such health check cycle. */
  noDataFound: "P0002",
} as const;

const CodedDetail = z.looseObject({ code: z.string() });

/** A coded error of the module's SQL, if this is one (its status must match the registry). */
function codedError(failure: PostgrestFailure): AppError | null {
  const { code = "", details, message } = failure.error;
  if (!/^PT\d{3}$/.test(code) || !details?.startsWith("{")) return null;
  let detail;
  try {
    detail = CodedDetail.safeParse(JSON.parse(details));
  } catch {
    return null;
  }
  if (!detail.success || !Object.hasOwn(ERROR_CODES, detail.data.code)) return null;
  const { code: appCode, ...rest } = detail.data;
  if (ERROR_CODES[appCode as ErrorCode] !== Number(code.slice(2))) return null;
  return new AppError(appCode as ErrorCode, message, Object.keys(rest).length ? rest : undefined, {
    cause: failure.error,
  });
}

/**
 * Whether the database (or PostgREST) could not be reached. Besides PostgREST's own
 * connection errors (503, PGRST00x) and PostgreSQL's shutdown and connection codes, a
 * connection that dies mid-query without an error message from the server (a crash, an
 * immediate shutdown) reaches PostgREST as a libpq error with no SQLSTATE, which it
 * answers with 400 and an empty code and message.
 */
function isUnavailable(failure: PostgrestFailure): boolean {
  const code = failure.error.code ?? "";
  return failure.status === 0 || failure.status === 502 || failure.status === 503 ||
    code.startsWith("PGRST00") || code === "57P01" || code === "57P03" || code.startsWith("08") ||
    (code === "" && failure.error.message === "");
}

/** The AppError for a failed database call; `context` says what was being done (for logs). */
export function fromPostgrest(failure: PostgrestFailure, context: string): AppError {
  const coded = codedError(failure);
  if (coded) return coded;
  const { code = "", message, hint } = failure.error;
  const [errorCode, fixedMessage] =
    hint?.startsWith("Request was aborted") || failure.status === 504
      ? BY_SQLSTATE["57014"]!
      : isUnavailable(failure)
      ? ["database_unavailable" as const, "The database is unavailable; try again shortly."]
      : BY_SQLSTATE[code] ??
        ["internal_error" as const, `Unexpected database error while ${context}.`];
  const details = errorCode === "invalid_request" && hint ? { hint } : undefined;
  return new AppError(errorCode, fixedMessage ?? message, details, { cause: failure.error });
}
