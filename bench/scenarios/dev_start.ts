/**
 * `deno task dev` cold and warm start. Cold: a fresh `git clone` of this checkout into a temp
 * folder (no .stack/ data: initdb, the platform bootstrap, every migration and the seed);
 * warm: the second start on the same data. Each start runs
 * `deno task dev --no-watch --no-health-check` in a process group of its own until it prints
 * "is ready", then gets SIGINT (as Ctrl-C sends it to the group); afterwards nothing may be
 * left: the fixed ports are closed and no process runs from the clone.
 *
 * The stack uses the fixed ports 54321, 54322 and 54330: when one is taken the scenario does
 * not run and says so. Deno's module cache is this machine's (warm): a cold start here is a
 * new checkout's first start, not a new machine's.
 */
import { join } from "node:path";
import { isPortOpen } from "../../scripts/stack/processes.ts";
import type { Figure, ScenarioResult } from "../figures.ts";
import { summarize } from "../stats.ts";

const PORTS = [54321, 54322, 54330];
const COLD_TARGET_S = 15;
const WARM_TARGET_S = 5;
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

interface Start {
  /** Spawn to "is ready", seconds. */
  readySeconds: number;
  /** The "(x s)" dev.ts prints: from its first line of code to ready. */
  reportedSeconds: number | null;
  /** SIGINT to exit, seconds. */
  stopSeconds: number;
  /** Anything left running or listening afterwards (killed by the benchmark). */
  leftovers: string[];
  /** What the start said it did: created the cluster, applied migrations. */
  createdCluster: boolean;
  appliedMigrations: boolean;
}

async function run(cmd: string[], cwd?: string): Promise<string> {
  const output = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`${cmd.join(" ")}: ${decoder.decode(output.stderr)}`);
  }
  return decoder.decode(output.stdout);
}

/** Pids of processes whose command line or working folder is inside `folder`. */
async function processesIn(folder: string): Promise<{ pid: number; command: string }[]> {
  const found: { pid: number; command: string }[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const command = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).replaceAll("\0", " ");
      const cwd = await Deno.readLink(`/proc/${pid}/cwd`).catch(() => "");
      if (command.includes(folder) || cwd.startsWith(folder)) {
        found.push({ pid, command: command.trim() });
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Fixed ports held by any TCP socket, listening or not: a client socket whose ephemeral port
 * happens to be one of them (Linux's default range, 32768-60999, contains all three) keeps it
 * for up to 60 s in TIME_WAIT, and PostgreSQL then cannot bind it.
 */
async function heldPorts(): Promise<number[]> {
  const held = new Set<number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await Deno.readTextFile(file).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local ? parseInt(local.split(":")[1] ?? "", 16) : NaN;
      if (PORTS.includes(port)) held.add(port);
    }
  }
  return [...held];
}

/** Waits (up to 90 s) until no socket holds a fixed port; returns how long it waited. */
async function waitForPortsReleased(): Promise<number> {
  const started = performance.now();
  while ((await heldPorts()).length > 0 && performance.now() - started < 90_000) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return (performance.now() - started) / 1000;
}

async function openPorts(): Promise<number[]> {
  const open: number[] = [];
  for (const port of PORTS) if (await isPortOpen(port)) open.push(port);
  return open;
}

/** Collects a stream's text; resolves `ready` when a line contains "is ready". */
function watchOutput(stream: ReadableStream<Uint8Array>, sink: string[], onReady: () => void) {
  return (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      sink.push(chunk);
      if (sink.join("").includes("is ready")) onReady();
    }
  })().catch(() => {});
}

async function startOnce(repo: string): Promise<Start> {
  const output: string[] = [];
  const started = performance.now();
  let readyAt = 0;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = () => {
      if (!readyAt) readyAt = performance.now();
      resolve();
    };
  });
  // setsid: a process group of its own, so SIGINT reaches every process as Ctrl-C would.
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "task", "dev", "--no-watch", "--no-health-check"],
    cwd: repo,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const drained = Promise.all([
    watchOutput(child.stdout, output, markReady),
    watchOutput(child.stderr, output, () => {}),
  ]);
  const exited = child.status;
  const timeout = new Promise<"timeout">((resolve) => {
    const id = setTimeout(() => resolve("timeout"), READY_TIMEOUT_MS);
    ready.finally(() => clearTimeout(id));
    exited.finally(() => clearTimeout(id));
  });
  const first = await Promise.race([ready.then(() => "ready" as const), exited, timeout]);
  const signalGroup = (signal: string) =>
    new Deno.Command("kill", { args: [`-${signal}`, "--", `-${child.pid}`] }).output();
  if (first !== "ready") {
    await signalGroup("KILL");
    await exited;
    for (const process of await processesIn(repo)) {
      try {
        Deno.kill(process.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    const postgresLog = await Deno.readTextFile(join(repo, ".stack/db/postgres.log"))
      .catch(() => "");
    throw new Error(
      `deno task dev did not get ready (${first === "timeout" ? "timeout" : "exited"}):\n` +
        output.join("").slice(-3000) +
        (postgresLog ? `\npostgres.log:\n${postgresLog.slice(-2000)}` : ""),
    );
  }
  const readySeconds = (readyAt - started) / 1000;
  const reported = /is ready \(([\d.]+) s\)/.exec(output.join(""));

  const stopping = performance.now();
  await signalGroup("INT");
  const stopped = await Promise.race([
    exited.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), STOP_TIMEOUT_MS)),
  ]);
  const stopSeconds = (performance.now() - stopping) / 1000;
  const leftovers: string[] = [];
  if (!stopped) {
    leftovers.push(`still running ${STOP_TIMEOUT_MS / 1000} s after SIGINT`);
    await signalGroup("KILL");
    await exited;
  }
  await drained;
  for (const process of await processesIn(repo)) {
    leftovers.push(`pid ${process.pid}: ${process.command.slice(0, 120)}`);
    try {
      Deno.kill(process.pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  for (const port of await openPorts()) leftovers.push(`port ${port} still open`);
  const text = output.join("");
  return {
    readySeconds,
    reportedSeconds: reported ? Number(reported[1]) : null,
    stopSeconds,
    leftovers,
    createdCluster: text.includes("created a database cluster"),
    appliedMigrations: /applied \d+ migration/.test(text),
  };
}

/** A fresh clone's cold start, then its warm start; the clone is removed afterwards. */
async function coldAndWarm(projectRoot: string): Promise<[Start, Start]> {
  const folder = await Deno.makeTempDir({ prefix: "bench-dev-start-" });
  try {
    // PostgreSQL runs as the postgres OS user when started as root: it must reach the clone.
    await Deno.chmod(folder, 0o755);
    const repo = join(folder, "repo");
    await run(["git", "clone", "--quiet", "--no-hardlinks", projectRoot, repo]);
    await waitForPortsReleased();
    const cold = await startOnce(repo);
    await waitForPortsReleased();
    const warm = await startOnce(repo);
    return [cold, warm];
  } finally {
    await Deno.remove(folder, { recursive: true }).catch(() => {});
  }
}

export async function runDevStartScenario(
  projectRoot: string,
  trials: number,
  progress: (message: string) => void = () => {},
): Promise<ScenarioResult> {
  const started = performance.now();
  const busy = await openPorts();
  if (busy.length > 0) {
    throw new Error(
      `port(s) ${busy.join(", ")} in use (another \`deno task dev\`?): dev start not measured`,
    );
  }
  const cold: Start[] = [];
  const warm: Start[] = [];
  const conflicts: string[] = [];
  for (let trial = 0; trial < trials; trial++) {
    // Other work on the machine may take a fixed port between the check and the start: a trial
    // that fails to bind is started again from a fresh clone (and the conflict reported).
    for (let attempt = 1;; attempt++) {
      try {
        const [c, w] = await coldAndWarm(projectRoot);
        cold.push(c);
        warm.push(w);
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (attempt >= 3 || !/already in use|could not bind/i.test(message)) throw error;
        conflicts.push(`trial ${trial + 1}: a fixed port was taken by other work; started again`);
        await new Promise((resolve) => setTimeout(resolve, 10_000));
      }
    }
    progress(
      `trial ${trial + 1}/${trials}: cold ${cold.at(-1)!.readySeconds.toFixed(1)} s, ` +
        `warm ${warm.at(-1)!.readySeconds.toFixed(1)} s`,
    );
  }
  const leftovers = [...cold, ...warm].flatMap((s) => s.leftovers);
  // A cold start creates the cluster and applies every migration; a warm one does neither.
  const wrongKind = [
    ...cold.filter((s) => !s.createdCluster || !s.appliedMigrations).map(() =>
      "a cold start did not create the cluster and apply the migrations"
    ),
    ...warm.filter((s) => s.createdCluster || s.appliedMigrations).map(() =>
      "a warm start created the cluster or applied migrations"
    ),
  ];
  const figure = (name: string, starts: Start[], targetS: number): Figure => {
    const ready = summarize(starts.map((s) => s.readySeconds));
    return {
      name,
      unit: "s",
      project: { label: "deno task dev --no-watch --no-health-check", summary: ready },
      reference: null,
      ratio: null,
      ratioMeaning: "",
      target: `≤ ${targetS} s`,
      met: ready.max <= targetS && leftovers.length === 0 && wrongKind.length === 0,
      notes: [
        `dev.ts reports ${
          starts.map((s) => s.reportedSeconds?.toFixed(1) ?? "?").join(", ")
        } s (after module loading)`,
        `SIGINT to exit ${summarize(starts.map((s) => s.stopSeconds)).median.toFixed(1)} s`,
        leftovers.length ? `LEFT RUNNING: ${leftovers.join("; ")}` : "nothing left running",
        ...wrongKind,
        ...conflicts,
      ],
    };
  };
  return {
    id: "dev",
    title: "deno task dev: cold and warm start",
    figures: [
      figure("dev start, cold (fresh clone, no .stack/)", cold, COLD_TARGET_S),
      figure("dev start, warm (second start, same data)", warm, WARM_TARGET_S),
    ],
    details: [
      `${trials} trial(s); each a fresh \`git clone\` of this checkout's HEAD into a temp folder, ` +
      "a cold start, SIGINT, a warm start, SIGINT. Time from spawning `deno task dev` to its " +
      "\"is ready\" line. Deno's module cache is warm (this machine's), so the cold start " +
      "includes initdb, the platform bootstrap, every migration and the seed, but no downloads; " +
      "each cold start said it created the cluster and applied the migrations, each warm one " +
      `neither${wrongKind.length ? " EXCEPT: " + wrongKind.join("; ") : ""}. ` +
      `Ports ${PORTS.join(", ")} were free before (no socket held them, not even in ` +
      "TIME_WAIT); after each SIGINT no process ran from the clone and the ports were closed" +
      (leftovers.length ? " EXCEPT: " + leftovers.join("; ") : "") +
      "." + (conflicts.length ? ` ${conflicts.join("; ")}.` : ""),
    ].join("\n"),
    data: { cold, warm, conflicts },
    durationSeconds: (performance.now() - started) / 1000,
  };
}
