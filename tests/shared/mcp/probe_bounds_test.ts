/**
 * Isolation per target (issue 13, item 2): whatever one server answers, its probe result stays
 * within `RESULT_BOUNDS`, is storable, and the probe stops reading past its byte bounds, within
 * its timeout and a small heap.
 *
 * A server whose answers cannot be read within the bounds (pages of megabytes, pages without
 * end) fails with class `invalid_response`: the probe could not see the whole answer, so it
 * cannot say the server works. A server whose answers were read whole but hold more than a
 * result keeps (long names, many tools) succeeds, with `truncated: true`.
 */
import assert from "node:assert/strict";
import { startProbeChild } from "../../_support/mcp_probe_child.ts";
import { startHostileServer, startLegacySseServer } from "../../_support/mcp_servers.ts";
import { boundResult, boundText } from "../../../shared/mcp/result_bounds.ts";
import {
  ConnectionTestResult,
  RESULT_BOUNDS,
  serializedBytes,
  TOOL_NAMES_LIMIT,
} from "../../../shared/schemas/test_result.ts";
import { assertFailure, assertSuccess, probeLocal } from "./_probe_helpers.ts";

const MB = 1024 * 1024;

/** Asserts the result is within every bound (probeLocal already parsed it with the schema). */
function assertBounded(result: ConnectionTestResult): void {
  assert.ok(ConnectionTestResult.safeParse(result).success);
  const bytes = serializedBytes(result);
  assert.ok(bytes <= RESULT_BOUNDS.serializedBytes, `${bytes} bytes`);
  for (const name of result.tools) assert.ok(name.length <= RESULT_BOUNDS.toolNameLength);
  assert.ok(result.tools.length <= TOOL_NAMES_LIMIT);
}

Deno.test("a hostile server gets a bounded result, and only its own", async (t) => {
  await t.step(
    "3.9 MB tool names on 8 pages: invalid_response once the probe's byte total is spent, " +
      "read in a 64 MB heap",
    async () => {
      await using server = await startHostileServer({ toolNameLength: 3_900_000, pages: 8 });
      // Its own process with a heap of 64 MB: the probe held every page before (a result of
      // 31 MB, and a crash in this heap).
      const child = startProbeChild(server.url, 1, { heapLimitMb: 64, timeout: 30_000 });
      try {
        const report = await child.report;
        const result = report.results[0]!;
        assertBounded(result);
        assertFailure(result, "invalid_response");
        assert.match(result.error?.message ?? "", /8388608-byte total bound/);
        assert.equal(result.era, "modern", "what was learned before the cut-off is kept");
        assert.equal(result.toolCount, null, "the listing did not finish");
        assert.equal(result.truncated, true);
        assert.ok(result.tools.every((name) => name.endsWith("…")));
        // 8 MiB hold two pages of 3.9 MB: the third is cut off, the rest never asked for.
        assert.equal(server.pagesServed(), 3);
      } finally {
        await child.release();
        const ending = await child.exitedWithin(20_000);
        assert.equal(ending.code, 0, `the probing child failed: ${ending.stderr.slice(-2_000)}`);
      }
    },
  );

  await t.step("one page over the per-response bound is cut off as it is read", async () => {
    await using server = await startHostileServer({ toolNameLength: 5 * MB });
    const { result } = await probeLocal(server.url);
    assertBounded(result);
    assertFailure(result, "invalid_response");
    assert.match(result.error?.message ?? "", /exceeded the 4194304-byte bound/);
  });

  await t.step("a 3.9 MB tool name on one page: success, the name cut", async () => {
    await using server = await startHostileServer({ toolNameLength: 3_900_000 });
    const { result } = await probeLocal(server.url);
    assertBounded(result);
    assertSuccess(result);
    assert.equal(result.toolCount, 1);
    assert.equal(result.truncated, true);
    assert.equal(result.tools[0]!.length, RESULT_BOUNDS.toolNameLength);
    assert.ok(result.tools[0]!.startsWith("p0t0-xxx") && result.tools[0]!.endsWith("…"));
  });

  await t.step("a serverInfo of megabytes: success, each field cut", async () => {
    await using server = await startHostileServer({
      serverInfoLength: MB,
      extraCapabilities: 200,
      capabilityNameLength: 1_000,
    });
    const { result } = await probeLocal(server.url);
    assertBounded(result);
    assertSuccess(result);
    assert.equal(result.truncated, true);
    const info = result.serverInfo!;
    for (const field of [info.name, info.version, info.title!]) {
      assert.equal(field.length, RESULT_BOUNDS.serverInfoFieldLength);
    }
    assert.ok(info.name.startsWith("name-x"));
  });

  await t.step(
    "tools/list pages without end: invalid_response after maxToolPages pages",
    async () => {
      await using server = await startHostileServer({ pages: "endless", toolsPerPage: 10 });
      const { result } = await probeLocal(server.url, { maxToolPages: 12 });
      assertBounded(result);
      assertFailure(result, "invalid_response");
      assert.match(result.error?.message ?? "", /did not end within 12 pages/);
      assert.equal(server.pagesServed(), 12);
      assert.equal(result.tools.length, 120, "the names seen are kept");
    },
  );

  await t.step(
    "450 tools with 300-character names on 3 pages: all counted, 200 kept, cut",
    async () => {
      await using server = await startHostileServer({
        pages: 3,
        toolsPerPage: 150,
        toolNameLength: 300,
      });
      const { result } = await probeLocal(server.url);
      assertBounded(result);
      assertSuccess(result);
      assert.equal(result.toolCount, 450);
      assert.equal(result.tools.length, TOOL_NAMES_LIMIT);
      assert.equal(result.truncated, true);
    },
  );

  await t.step(
    "names holding NUL and unpaired surrogates are stored with U+FFFD instead",
    async () => {
      await using server = await startHostileServer({
        toolNames: ["nul\u0000name", "lone\ud800surrogate", "low\udc00first"],
      });
      const { result } = await probeLocal(server.url);
      assertSuccess(result);
      assert.deepEqual(result.tools.slice(0, 3), [
        "nul\ufffdname",
        "lone\ufffdsurrogate",
        "low\ufffdfirst",
      ]);
      assert.equal(result.truncated, undefined, "replacing a character is no cut");
    },
  );

  await t.step("a result within every bound has no truncated key at all", async () => {
    await using server = await startHostileServer({ pages: 2, toolsPerPage: 3 });
    const { result } = await probeLocal(server.url);
    assertSuccess(result);
    assert.equal(result.toolCount, 6);
    assert.equal("truncated" in result, false);
  });

  await t.step(
    "an SSE stream past its bound fails the probe at once, not at the deadline",
    async () => {
      await using server = await startLegacySseServer({ tools: 3, toolNameLength: 2 * MB });
      const timeout = 20_000;
      const { result } = await probeLocal(server.url, { timeout });
      assertBounded(result);
      assertFailure(result, "invalid_response");
      assert.equal(result.transport, "sse");
      // Which event ended the probe, not how fast: the cut-off, before the deadline.
      assert.ok(result.durationMs < timeout, `${result.durationMs} ms`);
    },
  );
});

Deno.test("boundText() and boundResult() keep results within RESULT_BOUNDS", async (t) => {
  await t.step("a cut never splits a surrogate pair", () => {
    const text = "a".repeat(6) + "😀" + "b".repeat(10);
    const cut = boundText(text, 8);
    assert.equal(cut.cut, true);
    assert.equal(cut.text, "aaaaaa…");
    assert.equal(cut.text.isWellFormed(), true);
  });
  await t.step("a string within its bound is left alone", () => {
    assert.deepEqual(boundText("tools", 8), { text: "tools", cut: false });
  });
  await t.step(
    "names that JSON escapes six times over are dropped from the end to fit 64 KB",
    () => {
      const escaped = "\u0001".repeat(RESULT_BOUNDS.toolNameLength);
      const result = boundResult({
        success: true,
        error: null,
        latency: 1,
        capabilities: ["tools"],
        timestamp: new Date().toISOString(),
        durationMs: 1,
        serverInfo: { name: "s", version: "1" },
        protocolVersion: "2026-07-28",
        era: "modern",
        transport: "streamable-http",
        tools: Array.from({ length: TOOL_NAMES_LIMIT }, () => escaped),
        toolCount: TOOL_NAMES_LIMIT,
        attempts: 1,
      });
      const bytes = serializedBytes(result);
      assert.ok(bytes <= RESULT_BOUNDS.serializedBytes, `${bytes} bytes`);
      assert.ok(bytes > RESULT_BOUNDS.serializedBytes - 1_000, "as many names as fit");
      assert.ok(result.tools.length < TOOL_NAMES_LIMIT);
      assert.equal(result.toolCount, TOOL_NAMES_LIMIT);
      assert.equal(result.truncated, true);
      assert.ok(ConnectionTestResult.safeParse(result).success);
    },
  );
});
