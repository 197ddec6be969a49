/**
 * probe() against real MCP servers on 127.0.0.1: the official SDK's modern-era and
 * handshake-era servers, a legacy SSE-only server, and the third-party server-everything.
 */
import assert from "node:assert/strict";
import {
  HANDSHAKE_SERVER_VERSIONS,
  LEGACY_SSE_VERSION,
  startHandshakeServer,
  startLegacySseServer,
  startModernServer,
  startServerEverything,
  type TestServer,
} from "../../_support/mcp_servers.ts";
import { TOOL_NAMES_LIMIT } from "../../../shared/schemas/test_result.ts";
import { assertSuccess, probeLocal } from "./_probe_helpers.ts";

const HEADER = "X-Probe-Test";
const HEADER_VALUE = "custom-header-value";

/** The JSON-RPC methods the server received, in order. */
function rpcMethods(server: TestServer): string[] {
  return server.requests.flatMap((request) => request.rpcMethods);
}

function assertHeaderOnEveryRequest(server: TestServer): void {
  assert.ok(server.requests.length > 0, "the server saw no request");
  for (const request of server.requests) {
    assert.equal(
      request.headers[HEADER.toLowerCase()],
      HEADER_VALUE,
      `${request.method} ${request.path} lacks the custom header`,
    );
  }
}

Deno.test("probe() speaks each protocol era and transport of the official SDK", async (t) => {
  await t.step(
    "a modern-era server answers server/discover, with no handshake and no ping",
    async () => {
      await using server = await startModernServer({
        tools: 3,
        name: "modern-test",
        version: "2.1.0",
      });
      const { result } = await probeLocal(server.url);
      assertSuccess(result);
      assert.equal(result.era, "modern");
      assert.equal(result.protocolVersion, "2026-07-28");
      assert.equal(result.transport, "streamable-http");
      assert.deepEqual(result.serverInfo, { name: "modern-test", version: "2.1.0" });
      assert.ok(result.capabilities.includes("tools"), String(result.capabilities));
      assert.deepEqual(result.tools, ["tool_0", "tool_1", "tool_2"]);
      assert.equal(result.toolCount, 3);
      assert.equal(result.attempts, 1);
      assert.deepEqual(rpcMethods(server), ["server/discover", "tools/list"]);
      const methodHeaders = server.requests.map((request) => request.headers["mcp-method"]);
      assert.deepEqual(methodHeaders, ["server/discover", "tools/list"]);
      assert.ok(
        server.requests.every((request) => request.headers["mcp-session-id"] === undefined),
      );
      assert.deepEqual(
        server.requests.map((request) => request.method),
        ["POST", "POST"],
        "without a session there is nothing to DELETE",
      );
    },
  );

  await t.step(
    "a handshake-era server gets initialize and ping, and its session is deleted",
    async () => {
      await using server = await startHandshakeServer({ tools: 2 });
      const { result } = await probeLocal(server.url);
      assertSuccess(result);
      assert.equal(result.era, "legacy");
      assert.equal(result.protocolVersion, HANDSHAKE_SERVER_VERSIONS[0]);
      assert.equal(result.transport, "streamable-http");
      assert.equal(result.toolCount, 2);
      assert.equal(server.sessionsOpened(), 1);
      assert.equal(server.sessionsDeleted(), 1, "the probe should DELETE the session it opened");
      assert.equal(server.requests.at(-1)?.method, "DELETE");
      assert.deepEqual(rpcMethods(server), [
        "server/discover",
        "initialize",
        "notifications/initialized",
        "tools/list",
        "ping",
      ]);
    },
  );

  await t.step("a 2025-03-26-only server is met at its version", async () => {
    await using server = await startHandshakeServer({ protocolVersions: ["2025-03-26"] });
    const { result } = await probeLocal(server.url);
    assertSuccess(result);
    assert.equal(result.era, "legacy");
    assert.equal(result.protocolVersion, "2025-03-26");
    assert.equal(server.sessionsDeleted(), 1);
  });

  await t.step(
    "a legacy SSE-only server is reached over the SSE transport after its 405",
    async () => {
      await using server = await startLegacySseServer({ tools: 4 });
      const { result } = await probeLocal(server.url);
      assertSuccess(result);
      assert.equal(result.era, "legacy");
      assert.equal(result.protocolVersion, LEGACY_SSE_VERSION);
      assert.equal(result.transport, "sse");
      assert.equal(result.toolCount, 4);
      assert.equal(result.attempts, 1, "the SSE fallback is part of the same attempt");
      const get = server.requests.find((request) => request.method === "GET");
      assert.equal(get?.path, "/sse");
      const messages = server.requests.filter((request) => request.path.startsWith("/messages?"));
      assert.deepEqual(messages.flatMap((request) => request.rpcMethods), [
        "initialize",
        "notifications/initialized",
        "tools/list",
        "ping",
      ]);
    },
  );

  await t.step("tool pages are followed to the end; names are kept up to the limit", async () => {
    await using server = await startModernServer({ tools: 250, pageSize: 40 });
    const { result } = await probeLocal(server.url);
    assertSuccess(result);
    assert.equal(result.toolCount, 250);
    assert.equal(result.tools.length, TOOL_NAMES_LIMIT);
    assert.equal(result.tools[0], "tool_0");
    assert.equal(result.tools.at(-1), `tool_${TOOL_NAMES_LIMIT - 1}`);
    const pages = server.requests.filter((request) =>
      request.headers["mcp-method"] === "tools/list"
    );
    assert.equal(pages.length, 7);
  });

  await t.step("pagination that never ends stops at maxToolPages as invalid_response", async () => {
    await using server = await startModernServer({ tools: 50, pageSize: 1 });
    const { result } = await probeLocal(server.url, { maxToolPages: 5 });
    assert.equal(result.success, false);
    assert.equal(result.error?.class, "invalid_response");
    assert.equal(result.era, "modern", "what was learned before the failure is kept");
  });

  await t.step("a server with no tools capability is not asked for tools", async () => {
    await using server = await startModernServer({ tools: 0 });
    const { result } = await probeLocal(server.url);
    assertSuccess(result);
    assert.equal(result.toolCount, 0);
    assert.deepEqual(result.tools, []);
  });
});

Deno.test("probe() sends the custom headers on every request of every transport", async (t) => {
  const customHeaders = { [HEADER]: HEADER_VALUE };
  await t.step("Streamable HTTP, modern era", async () => {
    await using server = await startModernServer();
    assertSuccess((await probeLocal(server.url, { customHeaders })).result);
    assertHeaderOnEveryRequest(server);
  });
  await t.step("Streamable HTTP, handshake era: POSTs, the GET stream and the DELETE", async () => {
    await using server = await startHandshakeServer();
    assertSuccess((await probeLocal(server.url, { customHeaders })).result);
    assert.deepEqual(
      new Set(server.requests.map((request) => request.method)),
      new Set(["POST", "GET", "DELETE"]),
    );
    assertHeaderOnEveryRequest(server);
  });
  await t.step("SSE: the rejected POSTs, the event-stream GET and the message POSTs", async () => {
    await using server = await startLegacySseServer();
    assertSuccess((await probeLocal(server.url, { customHeaders })).result);
    assert.ok(server.requests.some((request) => request.method === "GET"));
    assertHeaderOnEveryRequest(server);
  });
  await t.step("an Authorization header is a custom header like any other", async () => {
    await using server = await startModernServer();
    assertSuccess(
      (await probeLocal(server.url, { customHeaders: { Authorization: "Bearer t0ken" } })).result,
    );
    assert.ok(server.requests.every((request) => request.headers.authorization === "Bearer t0ken"));
  });
});

Deno.test("probe() reaches the third-party server-everything in both of its HTTP modes", async (t) => {
  await t.step("streamableHttp: handshake era 2025-11-25 with 13 tools", async () => {
    await using server = await startServerEverything("streamableHttp");
    const { result } = await probeLocal(server.url);
    assertSuccess(result);
    assert.equal(result.era, "legacy");
    assert.equal(result.protocolVersion, "2025-11-25");
    assert.equal(result.transport, "streamable-http");
    assert.equal(result.toolCount, 13, server.output());
    assert.equal(result.serverInfo?.name, "mcp-servers/everything");
    for (const capability of ["tools", "resources", "prompts", "logging"]) {
      assert.ok(
        result.capabilities.includes(capability),
        `${capability} in ${result.capabilities}`,
      );
    }
  });
  await t.step("sse: the legacy transport, same server", async () => {
    await using server = await startServerEverything("sse");
    const { result } = await probeLocal(server.url);
    assertSuccess(result);
    assert.equal(result.era, "legacy");
    assert.equal(result.transport, "sse");
    assert.equal(result.toolCount, 13, server.output());
  });
});
