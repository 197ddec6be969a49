/**
 * The one place that turns a database failure (a PostgREST error, as supabase-js
 * returns it) into an AppError:
 *
 *   1. the module's coded errors: every SQL function and trigger of the module raises
 *      its refusals as SQLSTATE `PT<status>` with DETAIL `{"code": <ErrorCode>, ...}`
 *      (`agent_mcp_private.raise_error()`): the code, its details and the message are
 *      taken as raised, so SQL decides every domain outcome;
 *   2. an unreachable or slow database, by HTTP status and connection codes;
 *   3. every other SQLSTATE by the table below; anything else is an internal error.
 */
import { z } from "zod";
import { AppError, ERROR_CODES, type ErrorCode } from "../errors/app_error.ts";

/** The error half of a supabase-js response. */
export interface PostgrestFailure {
  error: { code?: string; message: string; details?: string | null; hint?: string | null };
  status: number;
}

/** SQLSTATEs (and PostgREST codes) with the same meaning wherever they are raised. */
const BY_SQLSTATE: Readonly<Record<string, ErrorCode>> = {
  /** A check constraint or a guard trigger refused a value. */
  "23514": "constraint_violation",
  "23502": "constraint_violation",
  /** A function refused an argument (the message says which). */
  "22023": "invalid_request",
  "22P02": "invalid_request",
  /** No privilege (a column users may not write) or an insert policy. */
  "42501": "forbidden",
  "57014": "database_timeout",
  /** PostgREST refused the token. */
  PGRST301: "invalid_jwt",
  PGRST302: "invalid_jwt",
  PGRST303: "invalid_jwt",
};

/** The SQLSTATE of a health check run that may no longer write (ended or superseded). */
export const RUN_ENDED_SQLSTATE = "55000";

/** @deprecated Kept for `shared/health/health_store.ts` until 0600 raises coded errors. */
export const PG = { wrongState: RUN_ENDED_SQLSTATE } as const;

const CodedDetail = z.looseObject({ code: z.string() });

/** A coded error of the module's SQL (`PT<status>`, DETAIL `{"code", ...}`), if this is one. */
function codedError(failure: PostgrestFailure): AppError | null {
  const { code = "", details, message } = failure.error;
  if (!/^PT\d{3}$/.test(code) || !details) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(details);
  } catch {
    return null;
  }
  const detail = CodedDetail.safeParse(parsed);
  if (!detail.success || !Object.hasOwn(ERROR_CODES, detail.data.code)) return null;
  const { code: appCode, ...rest } = detail.data;
  const errorCode = appCode as ErrorCode;
  // The SQL and the registry must agree on the status; a mismatch is our bug.
  if (ERROR_CODES[errorCode] !== Number(code.slice(2))) return null;
  return new AppError(
    errorCode,
    message,
    Object.keys(rest).length > 0 ? rest : undefined,
    { cause: failure.error },
  );
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

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  database_timeout: "The database did not answer in time; try again.",
  database_unavailable: "The database is unavailable; try again shortly.",
  forbidden: "You may not do this.",
  invalid_jwt: "The access token was refused by the database API.",
};

/** The AppError for a failed database call; `context` says what was being done (for logs). */
export function fromPostgrest(failure: PostgrestFailure, context: string): AppError {
  const coded = codedError(failure);
  if (coded) return coded;

  const { code = "", message, hint } = failure.error;
  const cause = { cause: failure.error };
  const errorCode: ErrorCode | undefined =
    hint?.startsWith("Request was aborted") || failure.status === 504
      ? "database_timeout"
      : isUnavailable(failure)
      ? "database_unavailable"
      : BY_SQLSTATE[code];
  if (errorCode === undefined) {
    return new AppError(
      "internal_error",
      `Unexpected database error while ${context}.`,
      undefined,
      cause,
    );
  }
  return new AppError(
    errorCode,
    MESSAGES[errorCode] ?? message,
    errorCode === "invalid_request" && hint ? { hint } : undefined,
    cause,
  );
}
