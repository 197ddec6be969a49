/**
 * Errors as values with codes. Every failure a client can cause or observe is an
 * `AppError` with a snake_case code and an HTTP status; `shared/http/errors.ts`
 * renders them as `{"error": {"code", "message", "details"?}}`. The database raises
 * the domain ones itself, by these names (`agent_mcp_private.raise_error()`, mapped in
 * `shared/db/postgrest_errors.ts`).
 */

/** Every error code the API can answer with, its status, and when it is raised. */
export const ERROR_CODES = {
  /** The body is not valid JSON. */
  invalid_json: 400,
  /** The request does not match its schema (body, path or query); `details.issues` lists why. */
  invalid_request: 400,
  /** The pagination cursor was not issued by this API or was altered. */
  invalid_cursor: 400,
  /** The database refused a value (a check constraint); nothing was written. */
  constraint_violation: 400,
  /** No Authorization header. */
  missing_authorization: 401,
  /** Authorization is not `Bearer <token>`. */
  invalid_authorization: 401,
  /** The token is malformed, badly signed, or uses an algorithm that is not accepted. */
  invalid_jwt: 401,
  /** The token's `exp` has passed. */
  jwt_expired: 401,
  /** The token's `nbf` (or `iat`) lies in the future. */
  jwt_not_yet_valid: 401,
  /** The token is valid but not a signed-in user's (e.g. the anon or service_role key). */
  user_jwt_required: 401,
  /** The token is valid but its user no longer exists (deleted after the token was issued). */
  unknown_user: 401,
  /** The caller is signed in but may not do this (e.g. admin routes for non-admins). */
  forbidden: 403,
  /** No route answers this method and path. */
  route_not_found: 404,
  /** The route exists but not for this method. */
  method_not_allowed: 405,
  /** The connection does not exist or belongs to someone else. */
  connection_not_found: 404,
  /** The agent does not exist or belongs to someone else. */
  agent_not_found: 404,
  /** The MCP server does not exist. */
  mcp_server_not_found: 404,
  /** The agent already has an active connection to this server; `details.connectionId` names it. */
  already_connected: 409,
  /** The connection is disconnected (soft-deleted): it can be read but not changed, tested or used. */
  connection_inactive: 409,
  /** The MCP server has no URL to test. */
  mcp_server_unreachable: 409,
  /**
   * The MCP server is not running (its `status_on_toolbox` is pending, starting, stopped or
   * error): it takes no new connection and is not tested. `details.serverStatus` says which.
   */
  mcp_server_not_running: 409,
  /**
   * A per-user limit would be exceeded: `details.limit` names it (`connections_per_user`,
   * `connections_per_agent`, `header_configs_per_server`) and `details.max` is its value.
   * Disconnect a connection (or reuse a config already in use) first.
   */
  connection_limit_reached: 409,
  /** A health check cycle is in progress; `details.retryAfterSeconds` says when its lease expires at the latest. */
  run_in_progress: 409,
  /** This invocation's batch lease ran out and another invocation took the batch (or it is done); nothing was written. */
  run_superseded: 409,
  /** No health check cycle has the given `runId`. */
  health_check_run_not_found: 404,
  /** The body is larger than the route accepts. */
  payload_too_large: 413,
  /** The body is not `application/json`. */
  unsupported_media_type: 415,
  /** The database (or PostgREST) is unreachable or overloaded; retry later. */
  database_unavailable: 503,
  /** The database did not answer in time. */
  database_timeout: 504,
  /** An unexpected failure on our side; it is logged with the request id. */
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorStatus = (typeof ERROR_CODES)[ErrorCode];

export class AppError extends Error {
  readonly status: ErrorStatus;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "AppError";
    this.status = ERROR_CODES[code];
  }
}
