/**
 * Turns a PostgREST error (as supabase-js returns it) into an AppError. Callers that
 * know what a code means in their context (a unique violation is "already connected",
 * an RLS refusal on insert is "agent not found") handle those first; everything else
 * lands here.
 */
import { AppError } from "../errors/app_error.ts";

/** The error half of a supabase-js response. */
export interface PostgrestFailure {
  error: { code?: string; message: string; details?: string | null; hint?: string | null };
  status: number;
}

/** PostgreSQL / PostgREST error codes this module's functions and constraints raise. */
export const PG = {
  uniqueViolation: "23505",
  foreignKeyViolation: "23503",
  checkViolation: "23514",
  notNullViolation: "23502",
  invalidParameter: "22023",
  invalidText: "22P02",
  insufficientPrivilege: "42501",
  /** A health check batch may no longer be written by this claim (done, or claimed again). */
  wrongState: "55000",
  /** No such row (the health check: no such cycle). */
  noDataFound: "P0002",
  /** The connection functions: no such connection visible to the caller (HTTP 404). */
  connectionNotFound: "PT404",
  /** The connection functions: the connection is disconnected (HTTP 409). */
  connectionInactive: "PT409",
  queryCanceled: "57014",
  /** PostgREST: `.single()` matched no row. */
  noRows: "PGRST116",
} as const;

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

/** The generic mapping, for failures the caller did not expect. */
export function fromPostgrest(failure: PostgrestFailure, context: string): AppError {
  const { code = "", message } = failure.error;
  if (
    failure.error.hint?.startsWith("Request was aborted") || failure.status === 504 ||
    code === PG.queryCanceled
  ) {
    return new AppError(
      "database_timeout",
      "The database did not answer in time; try again.",
      undefined,
      {
        cause: failure.error,
      },
    );
  }
  if (isUnavailable(failure)) {
    return new AppError(
      "database_unavailable",
      "The database is unavailable; try again shortly.",
      undefined,
      {
        cause: failure.error,
      },
    );
  }
  switch (code) {
    case PG.checkViolation:
    case PG.notNullViolation:
      return new AppError("constraint_violation", message, undefined, { cause: failure.error });
    case PG.invalidParameter:
    case PG.invalidText:
      return new AppError("invalid_request", message, undefined, { cause: failure.error });
    case PG.insufficientPrivilege:
      return new AppError("forbidden", "You may not do this.", undefined, { cause: failure.error });
    case "PGRST301":
    case "PGRST302":
    case "PGRST303":
      return new AppError(
        "invalid_jwt",
        "The access token was refused by the database API.",
        undefined,
        {
          cause: failure.error,
        },
      );
  }
  return new AppError("internal_error", `Unexpected database error while ${context}.`, undefined, {
    cause: failure.error,
  });
}
