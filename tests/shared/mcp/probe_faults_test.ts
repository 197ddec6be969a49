/**
 * probe() against servers that fail: each failure gets its class, the deadline holds on both
 * transports, and retries happen only for transient failures, within the deadline.
 */
import assert from "node:assert/strict";
import { startFaultServer } from "../../_support/mcp_servers.ts";
import { CONNECTION_CONFIG_DEFAULTS } from "../../../shared/schemas/connection_config.ts";
import { assertFailure, assertSuccess, assertTookTimeout, probeLocal } from "./_probe_helpers.ts";

/** A short deadline for the tests that wait for one. */
const TIMEOUT_MS = 1_000;

Deno.test("probe() classifies connection-level failures", async (t) => {
  await t.step("a refused port is refused, and retried retryAttempts times", async () => {
    await using server = await startFaultServer("refused");
    const { result, elapsedMs } = await probeLocal(server.url);
    assertFailure(result, "refused");
    assert.equal(result.attempts, CONNECTION_CONFIG_DEFAULTS.retryAttempts + 1);
    // The retries' backoff did not wait for the deadline.
    assert.ok(elapsedMs < CONNECTION_CONFIG_DEFAULTS.timeout, `${elapsedMs} ms`);
  });
  await t.step("retryAttempts 0 means a single attempt", async () => {
    await using server = await startFaultServer("refused");
    const { result } = await probeLocal(server.url, { retryAttempts: 0 });
    assertFailure(result, "refused");
    assert.equal(result.attempts, 1);
  });
  await t.step(
    "a connection reset before any response counts as refused, and is retried",
    async () => {
      await using server = await startFaultServer("reset");
      const { result } = await probeLocal(server.url, { retryAttempts: 1 });
      assertFailure(result, "refused");
      assert.match(result.error?.message ?? "", /reset or closed/);
      assert.equal(result.attempts, 2);
    },
  );
});

Deno.test("probe() holds its one deadline against servers that never answer", async (t) => {
  await t.step("accept-and-hang on Streamable HTTP costs exactly the timeout", async () => {
    await using server = await startFaultServer("hang");
    const { result, elapsedMs } = await probeLocal(server.url, { timeout: TIMEOUT_MS });
    assertFailure(result, "timeout");
    assertTookTimeout(elapsedMs, TIMEOUT_MS);
    assert.equal(result.attempts, 1, "a timed-out attempt leaves no time for another");
    assert.ok(result.durationMs >= TIMEOUT_MS - 50 && result.durationMs <= TIMEOUT_MS + 1_500);
  });
  await t.step("accept-and-hang on the SSE transport costs exactly the timeout", async () => {
    await using server = await startFaultServer("hang-sse");
    const { result, elapsedMs } = await probeLocal(server.url, { timeout: TIMEOUT_MS });
    assertFailure(result, "timeout");
    assertTookTimeout(elapsedMs, TIMEOUT_MS);
    assert.ok(server.requests.some((request) => request.method === "GET"), "the SSE GET was tried");
  });
  await t.step("an SSE stream that never names its endpoint times out", async () => {
    await using server = await startFaultServer("slow-sse");
    const { result, elapsedMs } = await probeLocal(server.url, { timeout: TIMEOUT_MS });
    assertFailure(result, "timeout");
    assertTookTimeout(elapsedMs, TIMEOUT_MS);
  });
  await t.step("retries share the deadline: a hanging server is not probed again", async () => {
    await using server = await startFaultServer("hang");
    const { result, elapsedMs } = await probeLocal(server.url, {
      timeout: TIMEOUT_MS,
      retryAttempts: 5,
    });
    assertFailure(result, "timeout");
    assertTookTimeout(elapsedMs, TIMEOUT_MS);
  });
  await t.step("the caller's AbortSignal cancels the probe at once", async () => {
    await using server = await startFaultServer("hang");
    const controller = new AbortController();
    const timeout = 60_000;
    let settled = false;
    const probing = probeLocal(server.url, { timeout, signal: controller.signal })
      .finally(() => (settled = true));
    // Cancel once the probe is waiting on the server (it would wait for its whole timeout).
    while (server.connections() === 0 && !settled) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const cancelledAt = performance.now();
    controller.abort();
    const { result } = await probing;
    const afterCancel = performance.now() - cancelledAt;
    assertFailure(result, "timeout");
    assert.match(result.error?.message ?? "", /cancelled/);
    assert.ok(afterCancel < timeout / 6, `ended ${afterCancel} ms after the cancel`);
  });
  await t.step("an already-aborted signal makes no attempt", async () => {
    await using server = await startFaultServer("hang");
    const { result } = await probeLocal(server.url, { signal: AbortSignal.abort() });
    assertFailure(result, "timeout");
    assert.equal(result.attempts, 0);
    assert.equal(server.connections(), 0);
  });
});

Deno.test("probe() classifies HTTP and protocol failures", async (t) => {
  await t.step("HTTP 500 is http_status, not retried", async () => {
    await using server = await startFaultServer("http-500");
    const { result } = await probeLocal(server.url);
    assertFailure(result, "http_status", 500);
    assert.equal(result.attempts, 1);
  });
  await t.step("HTTP 401 is auth, not retried", async () => {
    await using server = await startFaultServer("http-401");
    const { result } = await probeLocal(server.url);
    assertFailure(result, "auth", 401);
    assert.equal(result.attempts, 1);
  });
  await t.step("a body that is not JSON is protocol", async () => {
    await using server = await startFaultServer("non-json");
    assertFailure((await probeLocal(server.url)).result, "protocol");
  });
  await t.step("a web page (valid HTTP, not MCP) is protocol", async () => {
    await using server = await startFaultServer("not-mcp");
    const { result } = await probeLocal(server.url);
    assertFailure(result, "protocol");
    assert.match(result.error?.message ?? "", /text\/html/);
  });
  await t.step("JSON-RPC results that break the MCP schema are invalid_response", async () => {
    await using server = await startFaultServer("invalid-result");
    assertFailure((await probeLocal(server.url)).result, "invalid_response");
  });
  await t.step(
    "a huge body is cut off at the bound: invalid_response, read no further",
    async () => {
      await using server = await startFaultServer("huge-body", { bodyBytes: 64 * 1024 * 1024 });
      const { result, elapsedMs } = await probeLocal(server.url);
      assertFailure(result, "invalid_response");
      assert.match(result.error?.message ?? "", /4194304-byte bound/);
      assert.ok(
        server.bodyBytesSent() < 8 * 1024 * 1024,
        `${server.bodyBytesSent()} bytes were produced`,
      );
      // Ended at the cut-off, not at the deadline.
      assert.ok(elapsedMs < CONNECTION_CONFIG_DEFAULTS.timeout, `${elapsedMs} ms`);
    },
  );
  await t.step("the body bound is an option", async () => {
    await using server = await startFaultServer("huge-body", { bodyBytes: 1024 * 1024 });
    const { result } = await probeLocal(server.url, { maxBodyBytes: 64 * 1024 });
    assertFailure(result, "invalid_response");
    assert.match(result.error?.message ?? "", /65536-byte bound/);
  });
});

Deno.test("probe() retries transient HTTP failures within the deadline", async (t) => {
  await t.step("429 with Retry-After: 1 is retried after a second, then succeeds", async () => {
    // The SDK reads a 429 to server/discover as "not a modern server" and goes on to
    // `initialize`, so the 429 must also meet `initialize` for the attempt to fail.
    await using server = await startFaultServer("rate-limited", { failFirst: 2, retryAfter: "1" });
    const timeout = 30_000;
    const { result, elapsedMs } = await probeLocal(server.url, { timeout });
    assertSuccess(result);
    assert.equal(result.attempts, 2);
    assert.ok(elapsedMs >= 1_000, `Retry-After not honoured: ${elapsedMs} ms`);
    assert.ok(elapsedMs < timeout / 3, `slept toward the deadline: ${elapsedMs} ms`);
    assert.ok(
      result.latency !== null && result.latency < elapsedMs,
      "latency is the successful attempt's",
    );
  });
  await t.step(
    "a Retry-After past the deadline ends the probe at once instead of sleeping",
    async () => {
      await using server = await startFaultServer("rate-limited", {
        failFirst: 100,
        retryAfter: "30",
      });
      const timeout = 20_000;
      const { result, elapsedMs } = await probeLocal(server.url, { timeout });
      assertFailure(result, "http_status", 429);
      assert.equal(result.attempts, 1);
      assert.ok(elapsedMs < timeout / 2, `slept toward the deadline: ${elapsedMs} ms`);
    },
  );
  await t.step("503 is retried with backoff and the next attempt succeeds", async () => {
    await using server = await startFaultServer("unavailable", { failFirst: 1 });
    const { result } = await probeLocal(server.url);
    assertSuccess(result);
    assert.equal(result.attempts, 2);
    assert.equal(result.era, "modern");
  });
  await t.step("a lasting 503 uses every retry and reports the status", async () => {
    await using server = await startFaultServer("unavailable", { failFirst: 100 });
    const { result } = await probeLocal(server.url, { retryAttempts: 2 });
    assertFailure(result, "http_status", 503);
    assert.equal(result.attempts, 3);
    assert.equal(server.connections(), 3);
  });
});
