/**
 * Runs probes in a process of its own, for the tests of what a probe leaves behind and what it
 * costs (tests/shared/mcp/probe_sockets_test.ts, probe_bounds_test.ts):
 *
 *     deno run [--v8-flags=--expose-gc,--max-old-space-size=N] --allow-net=127.0.0.1 \
 *       --allow-read --allow-env tests/_support/mcp_probe_child.ts <url> <probes> [timeout]
 *
 * It probes `url` `probes` times, one after the other, with loopback allowed, collecting garbage
 * while each event stream is open when `gc` is exposed (see below). Then it prints one JSON
 * line, {@link ProbeChildReport}, waits for one line on stdin (the parent checks the server
 * meanwhile) and returns from its main module without `Deno.exit`: the process ends only if
 * nothing of the probes is left to keep it alive. A heap limit makes a probe that holds too
 * much crash the child instead.
 */
import { type ConnectionTestResult, probe } from "../../shared/mcp/mod.ts";
import { LOOPBACK_POLICY } from "./mcp_servers.ts";

/** What the child prints once its probes are over. */
export interface ProbeChildReport {
  readonly done: true;
  /** Every probe's result, in order. */
  readonly results: readonly ConnectionTestResult[];
}

/** How the parent runs the child. */
export interface ProbeChildOptions {
  /** The probe's timeout, ms. Default 10 000. */
  readonly timeout?: number;
  /** Collect garbage while each event stream is open. Default false. */
  readonly collectGarbage?: boolean;
  /** The child's V8 heap limit (`--max-old-space-size`), in MB. Default: V8's. */
  readonly heapLimitMb?: number;
}

/** A running child; see the module comment. */
export interface ProbeChild {
  /** Resolves with the child's report once its probes are over (it then waits for `release`). */
  readonly report: Promise<ProbeChildReport>;
  /** Lets the child return from its main module. */
  release(): Promise<void>;
  /** Whether the child exited by itself within `ms` (else it is killed), its code and stderr. */
  exitedWithin(ms: number): Promise<{ exited: boolean; code: number | null; stderr: string }>;
}

const SELF = new URL(import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

/** Starts a child probing `url` `probes` times. */
export function startProbeChild(
  url: string,
  probes: number,
  options: ProbeChildOptions = {},
): ProbeChild {
  const v8Flags = [
    ...(options.collectGarbage ? ["--expose-gc"] : []),
    ...(options.heapLimitMb === undefined ? [] : [`--max-old-space-size=${options.heapLimitMb}`]),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${CONFIG.pathname}`,
      ...(v8Flags.length === 0 ? [] : [`--v8-flags=${v8Flags.join(",")}`]),
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      SELF.pathname,
      url,
      String(probes),
      String(options.timeout ?? 10_000),
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
      await writer.write(new TextEncoder().encode("go\n")).catch(() => {});
      await writer.close().catch(() => {});
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
      await report.catch(() => {});
      return { exited, code: exited ? status.code : null, stderr: await stderr };
    },
  };
}

if (import.meta.main) {
  const [url = "", count = "1", timeout = "10000"] = Deno.args;
  collectGarbageOnceEventStreamsOpen();
  const results: ConnectionTestResult[] = [];
  for (let index = 0; index < Number(count); index++) {
    results.push(await probe(url, { networkPolicy: LOOPBACK_POLICY, timeout: Number(timeout) }));
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
