/**
 * No socket outlives its probe (issue 13, item 5): repeated probes of legacy HTTP+SSE servers
 * leave no event stream open on the server, and the process that ran them exits on its own.
 *
 * The probes run in a child process (tests/_support/mcp_probe_child.ts) that collects garbage
 * every millisecond: a response body whose abort hung off a runtime object that was collected
 * kept its read, its socket and the process alive for good, and only garbage collection at the
 * wrong moment showed it.
 */
import assert from "node:assert/strict";
import { type ProbeChildReport, startProbeChild } from "../../_support/mcp_probe_child.ts";
import { startLegacySseServer, startServerEverything } from "../../_support/mcp_servers.ts";

const PROBES = 30;
/** How long the child may take to exit once told to: a hang detector, not a benchmark. */
const EXIT_GRACE_MS = 20_000;
/** How long the server may take to see the streams of finished probes close. */
const STREAM_CLOSE_GRACE_MS = 10_000;

/** Waits until `count()` is 0 or `ms` pass; resolves with the last count. */
async function settlesToZero(count: () => number, ms: number): Promise<number> {
  const until = performance.now() + ms;
  while (count() > 0 && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return count();
}

function assertAllSse(report: ProbeChildReport): void {
  assert.equal(report.results.length, PROBES);
  for (const [index, result] of report.results.entries()) {
    assert.deepEqual(
      { success: result.success, transport: result.transport, error: result.error },
      { success: true, transport: "sse", error: null },
      `probe ${index}: ${JSON.stringify(result)}`,
    );
  }
}

Deno.test(
  `${PROBES} SSE probes leave none of the server's event streams open, and the process exits`,
  async () => {
    await using server = await startLegacySseServer({ tools: 3 });
    const child = startProbeChild(server.url, PROBES, { collectGarbage: true });
    try {
      assertAllSse(await child.report);
      assert.equal(server.streamsOpened(), PROBES, "one event stream per probe");
      // The child is alive, idle, its probes returned: every stream must be closed.
      const open = await settlesToZero(server.openStreams, STREAM_CLOSE_GRACE_MS);
      assert.equal(open, 0, `${open} event streams still open after the probes returned`);
    } finally {
      await child.release();
      const ending = await child.exitedWithin(EXIT_GRACE_MS);
      assert.ok(ending.exited, `the probing process did not exit by itself: ${ending.stderr}`);
      assert.equal(ending.code, 0, ending.stderr);
    }
  },
);

Deno.test(
  `${PROBES} SSE probes of server-everything let the probing process exit by itself`,
  async () => {
    await using server = await startServerEverything("sse");
    const child = startProbeChild(server.url, PROBES, { collectGarbage: true });
    try {
      assertAllSse(await child.report);
    } finally {
      await child.release();
      const ending = await child.exitedWithin(EXIT_GRACE_MS);
      assert.ok(ending.exited, `the probing process did not exit by itself: ${ending.stderr}`);
      assert.equal(ending.code, 0, ending.stderr);
    }
  },
);
