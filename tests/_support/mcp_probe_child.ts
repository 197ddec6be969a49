/**
 * Runs probes in a process of its own, for the tests that a probe leaves nothing running behind
 * it (tests/shared/mcp/probe_sockets_test.ts):
 *
 *     deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-read --allow-env \
 *       tests/_support/mcp_probe_child.ts <url> <probes>
 *
 * It probes `url` `probes` times, one after the other, with loopback allowed, collecting garbage
 * while each event stream is open when `gc` is exposed (see below). Then it prints one JSON line, `{"done":true,"results":[...]}`
 * (success, transport and error class of each probe), waits for one line on stdin (the parent
 * checks the server meanwhile) and returns from its main module without `Deno.exit`: the
 * process ends only if nothing of the probes is left to keep it alive.
 */
import { probe } from "../../shared/mcp/mod.ts";
import { LOOPBACK_POLICY } from "./mcp_servers.ts";

/** What the child prints once its probes are over. */
export interface ProbeChildReport {
  readonly done: true;
  readonly results: readonly {
    readonly success: boolean;
    readonly transport: string | null;
    readonly error: string | null;
  }[];
}

if (import.meta.main) {
  const [url = "", count = "1"] = Deno.args;
  collectGarbageOnceEventStreamsOpen();
  const results: ProbeChildReport["results"][number][] = [];
  for (let index = 0; index < Number(count); index++) {
    const result = await probe(url, { networkPolicy: LOOPBACK_POLICY, timeout: 10_000 });
    results.push({
      success: result.success,
      transport: result.transport,
      error: result.error?.class ?? null,
    });
  }
  const report: ProbeChildReport = { done: true, results };
  await Deno.stdout.write(new TextEncoder().encode(`${JSON.stringify(report)}\n`));
  // One line from the parent, then nothing more is read: stdin is released.
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  await Deno.stdin.readable.cancel().catch(() => {});
}

/**
 * When `gc` is exposed: a full garbage collection right after each event stream's response
 * arrives, while the stream is open and the probe goes on (the moment a long-running worker
 * meets sooner or later). The runtime's `fetch` is wrapped to see the moment; nothing of the
 * request or response is kept.
 */
function collectGarbageOnceEventStreamsOpen(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await original(input, init);
    if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      setTimeout(gc, 0);
    }
    return response;
  };
}
