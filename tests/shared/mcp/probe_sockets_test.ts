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
import type { ProbeChildReport } from "../../_support/mcp_probe_child.ts";
import { startLegacySseServer, startServerEverything } from "../../_support/mcp_servers.ts";

const CHILD = new URL("../../_support/mcp_probe_child.ts", import.meta.url);
const CONFIG = new URL("../../../deno.json", import.meta.url);
const PROBES = 30;
/** How long the child may take to exit once told to: a hang detector, not a benchmark. */
const EXIT_GRACE_MS = 20_000;
/** How long the server may take to see the streams of finished probes close. */
const STREAM_CLOSE_GRACE_MS = 10_000;

/** A child process running `probes` probes of `url`; see mcp_probe_child.ts. */
interface ProbeChild {
  /** Resolves with the child's report once its probes are over (it then waits for `release`). */
  readonly report: Promise<ProbeChildReport>;
  /** Lets the child return from its main module. */
  release(): Promise<void>;
  /** Resolves true if the child exited by itself within `ms`, false if it had to be killed. */
  exitedWithin(ms: number): Promise<{ exited: boolean; code: number | null; stderr: string }>;
}

function startProbeChild(url: string, probes: number): ProbeChild {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${CONFIG.pathname}`,
      "--v8-flags=--expose-gc",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      CHILD.pathname,
      url,
      String(probes),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const report = (async () => {
    let text = "";
    for await (const piece of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += piece;
      const newline = text.indexOf("\n");
      if (newline >= 0) return JSON.parse(text.slice(0, newline)) as ProbeChildReport;
    }
    throw new Error(`the child ended without a report: ${await stderr}`);
  })();
  const writer = child.stdin.getWriter();
  return {
    report,
    async release() {
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
    },
    async exitedWithin(ms) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
      ]);
      clearTimeout(timer);
      if (!exited) child.kill("SIGKILL");
      const status = await child.status;
      return { exited, code: exited ? status.code : null, stderr: await stderr };
    },
  };
}

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
      result,
      { success: true, transport: "sse", error: null },
      `probe ${index}: ${JSON.stringify(result)}`,
    );
  }
}

Deno.test(
  `${PROBES} SSE probes leave none of the server's event streams open, and the process exits`,
  async () => {
    await using server = await startLegacySseServer({ tools: 3 });
    const child = startProbeChild(server.url, PROBES);
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
    const child = startProbeChild(server.url, PROBES);
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
