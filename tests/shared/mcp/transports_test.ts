import assert from "node:assert/strict";
import type { ProbeFailure } from "../../../shared/mcp/failure.ts";
import { reportedFailure, shouldFallBackToSse } from "../../../shared/mcp/transports.ts";
import type { ProbeErrorClass } from "../../../shared/schemas/test_result.ts";

function failure(errorClass: ProbeErrorClass, httpStatus?: number): ProbeFailure {
  return {
    class: errorClass,
    message: errorClass,
    transient: false,
    cause: null,
    ...(httpStatus === undefined ? {} : { httpStatus }),
  };
}

Deno.test("shouldFallBackToSse falls back only when the POST met a legacy server's 4xx", async (t) => {
  await t.step("404, 405, 400, 406, 415 fall back", () => {
    for (const status of [404, 405, 400, 406, 415]) {
      assert.equal(shouldFallBackToSse(failure("http_status", status)), true, String(status));
    }
  });
  await t.step("auth walls, rate limits, 5xx and non-HTTP failures do not", () => {
    assert.equal(shouldFallBackToSse(failure("auth", 401)), false);
    assert.equal(shouldFallBackToSse(failure("auth", 403)), false);
    assert.equal(shouldFallBackToSse(failure("http_status", 408)), false);
    assert.equal(shouldFallBackToSse(failure("http_status", 429)), false);
    assert.equal(shouldFallBackToSse(failure("http_status", 500)), false);
    assert.equal(shouldFallBackToSse(failure("http_status", 307)), false);
    for (
      const errorClass of [
        "timeout",
        "refused",
        "dns",
        "tls",
        "protocol",
        "invalid_response",
        "blocked",
      ] as const
    ) {
      assert.equal(shouldFallBackToSse(failure(errorClass)), false, errorClass);
    }
  });
});

Deno.test("reportedFailure reports the SSE failure only when the server spoke SSE or the connection failed", async (t) => {
  const streamable = failure("http_status", 404);
  await t.step("neither transport answered: the Streamable HTTP 404 tells most", () => {
    assert.equal(reportedFailure(streamable, failure("http_status", 404), false), streamable);
    assert.equal(reportedFailure(streamable, failure("protocol"), false), streamable);
  });
  await t.step("the event stream opened: the SSE failure is the finding", () => {
    const sse = failure("protocol");
    assert.equal(reportedFailure(streamable, sse, true), sse);
  });
  await t.step("the SSE try timed out or was refused: that is reported", () => {
    const timeout = failure("timeout");
    assert.equal(reportedFailure(streamable, timeout, false), timeout);
    const auth = failure("auth", 401);
    assert.equal(reportedFailure(streamable, auth, false), auth);
  });
});
