/**
 * The one place that turns failures into HTTP responses:
 * `{"error": {"code", "message", "details"?}}` with the code's status.
 * AppErrors map to themselves; Hono's HTTPExceptions (malformed JSON, wrong content
 * type, body too large) to their codes; anything else is a logged 500 that reveals
 * nothing about its cause.
 */
import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, type ErrorCode } from "../errors/app_error.ts";
import type { ErrorBody } from "../schemas/responses.ts";
import { describeError, type Logger } from "../log/logger.ts";
import type { RequestLogVariables } from "./request_log.ts";

/** The AppError a thrown value stands for. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof HTTPException) {
    const byStatus: Partial<Record<number, [ErrorCode, string]>> = {
      400: ["invalid_json", "The request body is not valid JSON."],
      401: ["missing_authorization", "Authentication is required."],
      404: ["route_not_found", "No route matches this request."],
      413: ["payload_too_large", "The request body is too large."],
      415: ["unsupported_media_type", "Send the body as application/json."],
    };
    const [code, message] = byStatus[error.status] ??
      ["internal_error", "The request could not be processed."];
    return new AppError(code, message, undefined, { cause: error });
  }
  return new AppError("internal_error", "Something went wrong on our side.", undefined, {
    cause: error,
  });
}

/** The JSON body of an error response. */
export function errorBody(error: AppError): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}

/** Renders an error as the API's error response. */
export function errorResponse(c: Context, error: AppError): Response {
  return c.json(errorBody(error), error.status as ContentfulStatusCode);
}

/** `app.notFound`: unknown routes answer 404 `route_not_found` in the error shape. */
export function routeNotFound(c: Context): Response {
  return errorResponse(c, new AppError("route_not_found", "No route matches this request."));
}

/** `app.onError`: renders any failure; 5xx are logged (with the request id), 4xx are not. */
export function renderErrors<V extends RequestLogVariables>(
  logger: Logger,
  failureMessage: string,
): ErrorHandler<{ Variables: V }> {
  return (error, c) => {
    const appError = toAppError(error);
    if (appError.status >= 500) {
      logger.error(failureMessage, { requestId: c.get("requestId"), ...describeError(appError) });
    }
    return errorResponse(c, appError);
  };
}
