import assert from "node:assert/strict";
import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError } from "@modelcontextprotocol/client";
import { z } from "zod";
import { AttemptTrace } from "../../../shared/mcp/attempt_trace.ts";
import { Deadline } from "../../../shared/mcp/deadline.ts";
import { classifyFailure, type ProbeFailure, toProbeError } from "../../../shared/mcp/failure.ts";
import { NetworkRefusal } from "../../../shared/mcp/probe_errors.ts";

/** Classifies `error` with a fresh trace (prepared by `prepare`) and a running deadline. */
function classify(
  error: unknown,
  prepare: (trace: AttemptTrace) => void = () => {},
  deadline = new Deadline(60_000),
): ProbeFailure {
  const trace = new AttemptTrace();
  prepare(trace);
  try {
    return classifyFailure(error, { trace, deadline });
  } finally {
    deadline.dispose();
  }
}

function fetchFailure(detail: string): TypeError {
  return new TypeError("fetch failed", {
    cause: new Error(
      `error sending request for url (http://example.test/mcp): client error (Connect): ${detail}`,
    ),
  });
}

function wrappedByNegotiation(cause: unknown): SdkError {
  return new SdkError(SdkErrorCode.EraNegotiationFailed, "Version negotiation probe failed", {
    cause,
  }, { cause });
}

Deno.test("classifyFailure reads HTTP statuses from the SDK's errors and the trace", async (t) => {
  await t.step("401 and 403 are auth", () => {
    for (const status of [401, 403]) {
      const failure = classify(
        new SdkHttpError(SdkErrorCode.ClientHttpAuthentication, "nope", { status, statusText: "" }),
      );
      assert.equal(failure.class, "auth");
      assert.equal(failure.httpStatus, status);
      assert.equal(failure.transient, false);
    }
  });
  await t.step("503 is http_status, transient, with the trace's Retry-After", () => {
    const failure = classify(
      new SdkHttpError(SdkErrorCode.EraNegotiationFailed, "HTTP 503", {
        status: 503,
        statusText: "Service Unavailable",
      }),
      (trace) =>
        trace.noteResponse(
          "POST",
          new Response(null, {
            status: 503,
            statusText: "Service Unavailable",
            headers: { "retry-after": "2" },
          }),
        ),
    );
    assert.deepEqual(toProbeError(failure).class, "http_status");
    assert.equal(failure.httpStatus, 503);
    assert.equal(failure.transient, true);
    assert.equal(failure.retryAfter, "2");
  });
  await t.step("500 and 404 are http_status and final", () => {
    for (const status of [500, 404]) {
      const failure = classify(
        new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, "x", { status, statusText: "" }),
      );
      assert.equal(failure.class, "http_status");
      assert.equal(failure.transient, false);
    }
  });
  await t.step("a generic SSE POST error is read through the trace's last HTTP error", () => {
    const failure = classify(
      new Error("Error POSTing to endpoint (HTTP 502): bad gateway"),
      (trace) => trace.noteResponse("POST", new Response(null, { status: 502 })),
    );
    assert.equal(failure.class, "http_status");
    assert.equal(failure.httpStatus, 502);
    assert.equal(failure.transient, true);
  });
});

Deno.test("classifyFailure reads connection failures from fetch's error causes", async (t) => {
  const cases: [string, string, boolean][] = [
    ["tcp connect error: Connection refused (os error 111)", "refused", true],
    ["dns error: failed to lookup address information: Name or service not known", "dns", false],
    ["invalid peer certificate: UnknownIssuer", "tls", false],
    ["received corrupt message of type InvalidContentType", "tls", false],
  ];
  for (const [detail, errorClass, transient] of cases) {
    await t.step(`${errorClass}: ${detail}`, () => {
      for (const error of [fetchFailure(detail), wrappedByNegotiation(fetchFailure(detail))]) {
        const failure = classify(error);
        assert.equal(failure.class, errorClass);
        assert.equal(failure.transient, transient);
        assert.equal(failure.cause, error, "the original error is kept");
      }
    });
  }
  await t.step("a connection closed before the response is refused (reset)", () => {
    const error = new TypeError("fetch failed", {
      cause: new Error(
        "error sending request: client error (SendRequest): connection closed before message completed",
      ),
    });
    assert.equal(classify(error).class, "refused");
  });
});

Deno.test("classifyFailure prefers what the probe's own layers recorded", async (t) => {
  await t.step("a guard refusal wins over the SDK's wrapping of it", () => {
    const refusal = new NetworkRefusal("blocked", "10.0.0.1, a private address");
    const failure = classify(
      new SdkError(SdkErrorCode.EraNegotiationFailed, "probe failed: [object]"),
      (trace) => trace.noteRefusal(refusal),
    );
    assert.equal(failure.class, "blocked");
    assert.equal(failure.message, refusal.message);
  });
  await t.step("a body cut off at the bound is invalid_response", () => {
    const failure = classify(
      new TypeError("body stream errored"),
      (trace) =>
        trace.noteRefusal(
          new NetworkRefusal("body_too_large", "a response body exceeded the 10-byte bound"),
        ),
    );
    assert.equal(failure.class, "invalid_response");
  });
  await t.step("a caller's cancellation is a timeout that says so", () => {
    const failure = classify(
      new Error("aborted"),
      () => {},
      new Deadline(60_000, AbortSignal.abort()),
    );
    assert.equal(failure.class, "timeout");
    assert.match(failure.message, /cancelled/);
  });
  await t.step("an SDK timeout after a malformed message is protocol", () => {
    const failure = classify(
      new SdkError(SdkErrorCode.RequestTimeout, "Request timed out"),
      (trace) => trace.noteTransportError(new SyntaxError("Unexpected token")),
    );
    assert.equal(failure.class, "protocol");
  });
});

Deno.test("classifyFailure tells protocol errors from invalid responses", async (t) => {
  await t.step("not JSON, not JSON-RPC, wrong content type, JSON-RPC error: protocol", () => {
    const zodError = z.object({ jsonrpc: z.literal("2.0") }).safeParse({}).error;
    for (
      const error of [
        new SyntaxError("Unexpected token '<'"),
        zodError,
        new SdkError(
          SdkErrorCode.ClientHttpUnexpectedContent,
          "Unexpected content type: text/html",
        ),
        new ProtocolError(-32601, "Method not found"),
        new Error("Server's protocol version is not supported: 1999-01-01"),
      ]
    ) {
      assert.equal(classify(error).class, "protocol", String(error));
    }
  });
  await t.step("a result breaking the schema, or endless pagination: invalid_response", () => {
    for (
      const error of [
        new SdkError(SdkErrorCode.InvalidResult, "Invalid result for initialize"),
        new SdkError(SdkErrorCode.ListPaginationExceeded, "tools/list: exceeded listMaxPages (5)"),
      ]
    ) {
      assert.equal(classify(error).class, "invalid_response", String(error));
    }
  });
  await t.step("an SDK request timeout is a transient timeout", () => {
    const failure = classify(new SdkError(SdkErrorCode.RequestTimeout, "Request timed out"));
    assert.equal(failure.class, "timeout");
    assert.equal(failure.transient, true);
  });
  await t.step("messages are one line and bounded", () => {
    const failure = classify(new ProtocolError(-32000, `multi\nline ${"x".repeat(5_000)}`));
    assert.ok(!failure.message.includes("\n"));
    assert.ok(failure.message.length <= 501);
  });
});
