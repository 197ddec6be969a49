/**
 * The one validation hook: every request that fails its zod schema (body, path or
 * query) becomes the same 400 `invalid_request`, listing each issue's path and message.
 */
import type { z } from "zod";
import { AppError } from "../errors/app_error.ts";

export interface ValidationIssue {
  path: string;
  message: string;
}

export function describeIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.slice(0, 20).map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}

/** `defaultHook` for OpenAPIHono: throw instead of answering, so onError renders it. */
export function rejectInvalidRequest(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
): void {
  if (!result.success) {
    throw new AppError("invalid_request", `The request ${result.target} is invalid.`, {
      issues: describeIssues(result.error),
    });
  }
}
