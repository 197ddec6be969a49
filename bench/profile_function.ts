/**
 * Where the mcp-connections function spends its time under load: a V8 CPU profile of one
 * function host, aggregated by package and by function (inclusive), per request.
 *
 *     deno run -A bench/profile_function.ts [--route=usage|list] [--requests=3000] [--top=40]
 *
 * Starts a stack of its own with a small data set, then a second host of the function with the
 * inspector on (the stack's own hosts run without it), loads it directly with autocannon and
 * samples it through the Chrome DevTools protocol. The attached inspector makes Deno emit network
 * events for every outgoing fetch (`op_inspector_emit_protocol_event`, `requestWillBeSent`, ...):
 * that share is the profiler's own cost, not the function's. The sampler counts wall-clock time
 * on the main thread, so on a busy machine native calls look longer than they are.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { fillFixture, SMALL_SIZE } from "./fixture.ts";
import { type LoadSpec, runLoad } from "./load.ts";
import { platformEnvironment } from "../scripts/stack/function_environment.ts";
import { mintUserToken } from "../scripts/stack/keys.ts";
import { freePort, isPortOpen, waitFor } from "../scripts/stack/processes.ts";
import { projectRootFromHere } from "../scripts/stack/project_config.ts";
import { startThrowawayStack } from "../scripts/stack/throwaway_stack.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A package name (npm), a Deno extension, or a project folder, for a script URL. */
function origin(url: string): string {
  const npm = /registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) return npm[1]!;
  if (url.startsWith("ext:")) return url.split("/")[0]!;
  const project = /\/((?:functions|shared|scripts)\/[^/]+)\//.exec(url);
  if (project) return project[1]!;
  return url === "" ? "(native)" : url;
}

/** A DevTools protocol session over the inspector's WebSocket. */
async function inspect(port: number) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  const pending = new Map<number, (result: unknown) => void>();
  let next = 1;
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  return {
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve) => {
        pending.set(id, (result) => resolve(result as T));
        socket.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => socket.close(),
  };
}

/** Inclusive sampled microseconds per key (each sample counted once per key on its stack). */
function inclusive(profile: Profile, key: (node: ProfileNode) => string): Map<string, number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const totals = new Map<string, number>();
  profile.samples.forEach((sample, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = sample; id !== undefined; id = parent.get(id)) {
      const name = key(byId.get(id)!);
      if (seen.has(name)) continue;
      seen.add(name);
      totals.set(name, (totals.get(name) ?? 0) + delta);
    }
  });
  return totals;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      route: { type: "string", default: "usage" },
      requests: { type: "string", default: "3000" },
      top: { type: "string", default: "40" },
    },
  });
  const requests = Number(values.requests);
  const root = projectRootFromHere();
  const stack = await startThrowawayStack("bench-profile-");
  const port = freePort();
  const inspectorPort = freePort();
  let host: Deno.ChildProcess | null = null;
  // deno-lint-ignore no-console
  const say = (line: string) => console.log(line);
  try {
    const sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
    const fixture = await fillFixture(sql, SMALL_SIZE).finally(() => sql.end());
    const keys = stack.keys;
    const functionEnv = platformEnvironment(stack);
    host = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--inspect=127.0.0.1:${inspectorPort}`,
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        "--no-prompt",
        // As the stack runs a function (scripts/stack/stack.ts, functionWorkerSpawner).
        "--no-config",
        "--import-map",
        `${root}/supabase/functions/import_map.json`,
        "--lock",
        `${root}/deno.lock`,
        "--frozen",
        `${root}/scripts/stack/function_host.ts`,
      ],
      env: {
        ...functionEnv,
        FUNCTION_HOST_PORT: String(port),
        FUNCTION_ENTRYPOINT: `${root}/functions/mcp-connections/index.ts`,
        FUNCTION_ENV_NAMES: Object.keys(functionEnv).join(","),
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor("profiled function host", () => isPortOpen(port), { timeoutMs: 60_000 });

    const token = await mintUserToken({ sub: fixture.typical.id, secret: keys.jwtSecret });
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const base = `http://127.0.0.1:${port}/mcp-connections`;
    const spec: Omit<LoadSpec, "amount"> = values.route === "list"
      ? {
        url: `${base}/connections`,
        method: "GET",
        headers,
        connections: 10,
        maxSeconds: 120,
        timeoutSeconds: 30,
      }
      : {
        url: `${base}/connections/${fixture.hotConnectionId}/usage`,
        method: "POST",
        headers,
        body: JSON.stringify({ success: true, responseTimeMs: 42, bytesTransferred: 1024 }),
        connections: 10,
        maxSeconds: 120,
        timeoutSeconds: 30,
      };
    await runLoad({ ...spec, amount: 500 });
    const session = await inspect(inspectorPort);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 200 });
    await session.send("Profiler.start");
    const outcome = await runLoad({ ...spec, amount: requests });
    const { profile } = await session.send<{ profile: Profile }>("Profiler.stop");
    session.close();

    const perRequest = (us: number) =>
      `${(us / Math.max(1, outcome.ok)).toFixed(0).padStart(6)} µs`;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    let idleUs = 0;
    let busyUs = 0;
    profile.samples.forEach((sample, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      if (byId.get(sample)?.callFrame.functionName === "(idle)") idleUs += delta;
      else busyUs += delta;
    });
    say(
      `${values.route}: ${outcome.ok} requests at ${outcome.requestsPerSecond.toFixed(0)} req/s ` +
        `(direct to the host); main thread busy ${perRequest(busyUs)} per request, ` +
        `idle ${perRequest(idleUs)}`,
    );
    const top = Number(values.top);
    say("\ninclusive, by origin (per request):");
    for (
      const [name, us] of [...inclusive(profile, (n) => origin(n.callFrame.url))]
        .filter(([name]) => name !== "(native)").sort((a, b) => b[1] - a[1]).slice(0, 20)
    ) say(`${perRequest(us)}  ${name}`);
    say("\ninclusive, by function (per request):");
    for (
      const [name, us] of [
        ...inclusive(
          profile,
          (n) =>
            `${n.callFrame.functionName || "(anonymous)"}  ${origin(n.callFrame.url)}:${
              n.callFrame.lineNumber + 1
            }`,
        ),
      ].sort((a, b) => b[1] - a[1]).slice(0, top)
    ) say(`${perRequest(us)}  ${name}`);
  } finally {
    host?.kill("SIGTERM");
    await host?.status;
    await stack.stop();
  }
}

if (import.meta.main) await main();
