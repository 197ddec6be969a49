/**
 * Per-request bookkeeping: a request id (the caller's `x-request-id` when it is a
 * sane token, else a new UUID), echoed in the response, and one structured log
 * line per request: method, route, status, duration, request id (and the user id
 * once known). Never the Authorization header or a body.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/logger.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestLogVariables {
  requestId: string;
  /** Set by the auth middleware; logged, never a secret. */
  userId?: string;
}

export function requestLog(logger: Logger): MiddlewareHandler<{ Variables: RequestLogVariables }> {
  return async (c, next) => {
    const started = performance.now();
    const given = c.req.header("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set("requestId", requestId);
    try {
      await next();
    } finally {
      c.header("x-request-id", requestId);
      logger.info("request", {
        requestId,
        method: c.req.method,
        route: c.req.routePath,
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...(c.get("userId") ? { userId: c.get("userId") } : {}),
      });
    }
  };
}
