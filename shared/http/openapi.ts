/** Pieces of the OpenAPI description shared by the routes. */
import type { z } from "zod";
import { ERROR_CODES } from "../errors/app_error.ts";
import { ErrorBody } from "../schemas/responses.ts";

const STATUS_TEXT: Record<number, string> = {
  400: "Bad request: malformed JSON, unknown fields, wrong types, bad UUIDs",
  401: "Missing, malformed, expired or badly signed credentials, or the wrong kind (an API " +
    "key where a user's JWT is needed)",
  403: "Authenticated, but not allowed (an admin route, or a user calling the health check)",
  404: "Not found, or not yours",
  409: "Conflict with the current state (of the connection, or of the health check cycle)",
  413: "Body too large",
  415: "Body is not application/json",
  503: "Database unavailable",
  504: "Database timeout",
};

/** An OpenAPI response whose body is JSON of a schema. */
export interface JsonContent<T extends z.ZodType> {
  description: string;
  content: { "application/json": { schema: T } };
}

/** A JSON response of a schema. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string): JsonContent<T> {
  return { description, content: { "application/json": { schema } } };
}

/** Error responses (the shared error body) for the given statuses. */
export function errorResponses(
  ...statuses: number[]
): Record<number, JsonContent<typeof ErrorBody>> {
  return Object.fromEntries(statuses.map((status) => {
    const codes = Object.entries(ERROR_CODES).filter(([, s]) => s === status).map(([code]) => code);
    return [
      status,
      jsonContent(ErrorBody, `${STATUS_TEXT[status] ?? "Error"} (codes: ${codes.join(", ")})`),
    ];
  }));
}

/** The bearer scheme every user route requires. */
export const BEARER_AUTH = [{ bearerAuth: [] }];
