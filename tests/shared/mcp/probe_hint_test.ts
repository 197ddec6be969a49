/**
 * probe() with a hint of what the server spoke last time (issue 13, item 6): it starts there,
 * spending no request on what the server turned down before, and falls back to the usual order
 * when the server no longer answers as hinted.
 */
import assert from "node:assert/strict";
import {
  startFaultServer,
  startHandshakeServer,
  startLegacySseServer,
  startModernServer,
  type TestServer,
} from "../../_support/mcp_servers.ts";
import { assertFailure, assertSuccess, probeLocal } from "./_probe_helpers.ts";

/** The requests the server saw, as "METHOD path" with the JSON-RPC methods of POSTs. */
function seen(server: TestServer): string[] {
  return server.requests.map((request) =>
    `${request.method} ${request.path.split("?")[0]}${
      request.rpcMethods.length === 0 ? "" : ` ${request.rpcMethods.join(",")}`
    }`
  );
}

Deno.test("probe() starts where the hint says", async (t) => {
  await t.step(
    "an SSE hint goes straight to the event stream: no Streamable HTTP try",
    async () => {
      await using server = await startLegacySseServer({ tools: 2 });
      const { result } = await probeLocal(server.url, {
        hint: { era: "legacy", transport: "sse" },
      });
      assertSuccess(result);
      assert.equal(result.transport, "sse");
      assert.deepEqual(seen(server), [
        "GET /sse",
        "POST /messages initialize",
        "POST /messages notifications/initialized",
        "POST /messages tools/list",
        "POST /messages ping",
      ]);
    },
  );

  await t.step("a handshake-era hint skips server/discover", async () => {
    await using server = await startHandshakeServer({ tools: 2 });
    const { result } = await probeLocal(server.url, {
      hint: { era: "legacy", transport: "streamable-http" },
    });
    assertSuccess(result);
    assert.equal(result.era, "legacy");
    assert.deepEqual(server.requests.flatMap((request) => request.rpcMethods), [
      "initialize",
      "notifications/initialized",
      "tools/list",
      "ping",
    ]);
    assert.equal(server.sessionsDeleted(), 1);
  });

  await t.step("a modern hint changes nothing: discovery is the usual start", async () => {
    await using server = await startModernServer({ tools: 1 });
    const { result } = await probeLocal(server.url, {
      hint: { era: "modern", transport: "streamable-http" },
    });
    assertSuccess(result);
    assert.deepEqual(server.requests.flatMap((request) => request.rpcMethods), [
      "server/discover",
      "tools/list",
    ]);
  });

  await t.step("null and unknown hints are ignored", async () => {
    await using server = await startModernServer({ tools: 1 });
    const { result } = await probeLocal(server.url, {
      hint: { era: null, transport: "carrier-pigeon" },
    });
    assertSuccess(result);
    assert.equal(result.era, "modern");
  });
});

Deno.test("probe() falls back to the usual order when the hint is stale", async (t) => {
  await t.step("an SSE hint for a server now on Streamable HTTP only", async () => {
    await using server = await startModernServer({ tools: 1 });
    const { result } = await probeLocal(server.url, { hint: { transport: "sse" } });
    assertSuccess(result);
    assert.equal(result.transport, "streamable-http");
    assert.equal(result.era, "modern");
    assert.equal(result.attempts, 1, "the fallback is part of the same attempt");
  });

  await t.step("a handshake hint for a server that only speaks the SSE transport", async () => {
    await using server = await startLegacySseServer({ tools: 1 });
    const { result } = await probeLocal(server.url, {
      hint: { era: "legacy", transport: "streamable-http" },
    });
    assertSuccess(result);
    assert.equal(result.transport, "sse");
  });

  await t.step("a server down fails once, without trying the rest", async () => {
    await using dead = await startFaultServer("refused");
    const { result } = await probeLocal(dead.url, {
      hint: { transport: "sse" },
      retryAttempts: 0,
    });
    assertFailure(result, "refused");
    assert.equal(result.transport, null);
  });

  await t.step("an auth wall is no stale hint: one failure, nothing else tried", async () => {
    await using server = await startFaultServer("http-401");
    const { result } = await probeLocal(server.url, {
      hint: { transport: "sse" },
      retryAttempts: 0,
    });
    assertFailure(result, "auth", 401);
    assert.deepEqual(server.requests.map((request) => request.method), ["GET"]);
  });

  await t.step("an HTTP error to the hinted transport falls back to the usual order", async () => {
    await using server = await startFaultServer("http-500");
    const { result } = await probeLocal(server.url, {
      hint: { transport: "sse" },
      retryAttempts: 0,
    });
    assertFailure(result, "http_status", 500);
    assert.deepEqual(server.requests.map((request) => request.method), ["GET", "POST"]);
  });
});
