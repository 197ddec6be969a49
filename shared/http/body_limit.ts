/** Request bodies larger than a route accepts are refused with 413 `payload_too_large`. */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { AppError } from "../errors/app_error.ts";

export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AppError("payload_too_large", `The request body exceeds ${maxBytes} bytes.`);
    },
  });
}
