/**
 * A private PostgreSQL cluster run from the machine's own PostgreSQL binaries:
 * created with initdb on first use, started and stopped with pg_ctl. When the
 * stack runs as root, the server runs as the `postgres` OS user (PostgreSQL
 * refuses to run as root), and owns its data folder.
 */
import { join, resolve } from "node:path";
import { run, runOrThrow } from "./processes.ts";

export interface ClusterOptions {
  /** Folder that holds the data directory, the socket and the log. */
  root: string;
  port: number;
  /** Password of the `postgres` superuser for TCP logins. */
  password: string;
  /** Trade durability for speed (throw-away test clusters). */
  ephemeral?: boolean;
  /** More server settings, `name=value` (e.g. for benchmarks: pg_stat_statements). */
  settings?: string[];
}

/** Finds the folder of initdb/pg_ctl/postgres: $PG_BIN, PATH, then the newest of /usr/lib/postgresql/<n>/bin. */
export async function findPostgresBinaries(): Promise<string> {
  const fromEnv = Deno.env.get("PG_BIN");
  if (fromEnv) return fromEnv;
  const onPath = await run(["sh", "-c", "command -v initdb"]);
  if (onPath.code === 0 && onPath.stdout.trim() !== "") {
    // Debian links single binaries into /usr/local/bin: use the real folder.
    return resolve(await Deno.realPath(onPath.stdout.trim()), "..");
  }
  const versions: number[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (entry.isDirectory && /^\d+$/.test(entry.name)) versions.push(Number(entry.name));
    }
  } catch {
    // no Debian-style installation
  }
  versions.sort((a, b) => b - a);
  for (const version of versions) {
    const bin = `/usr/lib/postgresql/${version}/bin`;
    try {
      await Deno.stat(join(bin, "initdb"));
      return bin;
    } catch {
      // try the next version
    }
  }
  throw new Error(
    "PostgreSQL server binaries not found. Install PostgreSQL (Debian: apt-get install -y postgresql) " +
      "or set PG_BIN to the folder holding initdb, pg_ctl and postgres.",
  );
}

/** The major version of the server binaries in a folder. */
export async function postgresMajorVersion(bin: string): Promise<number> {
  const out = await runOrThrow([join(bin, "postgres"), "--version"]);
  const match = /(\d+)(?:\.\d+)?/.exec(out.stdout);
  if (!match) throw new Error(`cannot read the PostgreSQL version from: ${out.stdout}`);
  return Number(match[1]);
}

export class PostgresCluster {
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  #asPostgresUser = Deno.uid() === 0;

  constructor(readonly bin: string, readonly options: ClusterOptions) {
    this.dataDir = join(options.root, "data");
    this.socketDir = join(options.root, "run");
    this.logFile = join(options.root, "postgres.log");
  }

  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  get url(): string {
    return `postgresql://postgres:${this.options.password}@127.0.0.1:${this.options.port}/postgres`;
  }

  /** Whether initdb has already run in the data folder. */
  async exists(): Promise<boolean> {
    try {
      await Deno.stat(join(this.dataDir, "PG_VERSION"));
      return true;
    } catch {
      return false;
    }
  }

  /** Creates the cluster (initdb) if it does not exist yet. Returns true when it did. */
  async ensureCreated(): Promise<boolean> {
    if (await this.exists()) return false;
    await Deno.mkdir(this.options.root, { recursive: true });
    await Deno.mkdir(this.socketDir, { recursive: true });
    const pwFile = join(this.options.root, ".pwfile");
    await Deno.writeTextFile(pwFile, this.options.password + "\n", { mode: 0o600 });
    await this.#chownToPostgres(this.options.root, pwFile, this.socketDir);
    try {
      await this.#pg([
        join(this.bin, "initdb"),
        "--pgdata",
        this.dataDir,
        "--username",
        "postgres",
        "--pwfile",
        pwFile,
        "--auth-local",
        "trust",
        "--auth-host",
        "scram-sha-256",
        "--encoding",
        "UTF8",
        "--locale",
        "C",
        "--no-instructions",
        ...(this.options.ephemeral ? ["--no-sync"] : []),
      ]);
    } finally {
      await Deno.remove(pwFile).catch(() => {});
    }
    return true;
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    await this.stopStale();
    const settings = [
      `-c listen_addresses=127.0.0.1`,
      `-c port=${this.options.port}`,
      `-c unix_socket_directories=${this.socketDir}`,
      `-c max_connections=200`,
      `-c shared_buffers=256MB`,
      `-c log_min_messages=warning`,
      `-c log_line_prefix='%m [%p] %q%u@%d '`,
      ...(this.options.ephemeral
        ? [`-c fsync=off`, `-c synchronous_commit=off`, `-c full_page_writes=off`]
        : []),
      ...(this.options.settings ?? []).map((setting) => `-c ${setting}`),
    ].join(" ");
    await this.#pg([
      join(this.bin, "pg_ctl"),
      "start",
      "--pgdata",
      this.dataDir,
      "--log",
      this.logFile,
      "--wait",
      "--timeout",
      "60",
      "--options",
      settings,
    ]);
  }

  /** Stops the server (fast shutdown: open sessions are ended). No-op when stopped. */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    if (!(await this.isRunning())) return;
    await this.#pg([
      join(this.bin, "pg_ctl"),
      "stop",
      "--pgdata",
      this.dataDir,
      "--mode",
      mode,
      "--wait",
      "--timeout",
      "60",
    ]);
  }

  async isRunning(): Promise<boolean> {
    if (!(await this.exists())) return false;
    const status = await this.#pgRun([
      join(this.bin, "pg_ctl"),
      "status",
      "--pgdata",
      this.dataDir,
    ]);
    return status.code === 0;
  }

  /** A server left running by a stack that was killed is stopped before a new start. */
  async stopStale(): Promise<void> {
    if (await this.isRunning()) await this.stop("fast");
  }

  async #chownToPostgres(...paths: string[]): Promise<void> {
    if (!this.#asPostgresUser) return;
    await runOrThrow(["chown", "-R", "postgres:postgres", ...paths]);
  }

  #wrap(cmd: string[]): string[] {
    if (!this.#asPostgresUser) return cmd;
    return ["runuser", "-u", "postgres", "--", ...cmd];
  }

  // From "/": initdb and pg_ctl change back to the working directory, which the postgres
  // user may not be allowed to enter (a checkout in root's home or under `mktemp -d`).
  #pg(cmd: string[]) {
    return runOrThrow(this.#wrap(cmd), { cwd: "/" });
  }

  #pgRun(cmd: string[]) {
    return run(this.#wrap(cmd), { cwd: "/" });
  }
}

/**
 * Where the cluster of a state folder lives: `<stateDir>/db`, unless the stack runs as root
 * and the `postgres` OS user cannot enter `stateDir` (a checkout in root's home, mode 700, or
 * under `mktemp -d`). Then it lives in `/var/tmp/agent-mcp-connections-<hash of stateDir>/db`:
 * one folder per checkout, owned by postgres, kept across restarts (and reboots: /var/tmp,
 * unlike /tmp, is not cleared at boot), found again from the same state folder.
 */
export async function clusterRootFor(stateDir: string): Promise<string> {
  const inside = join(stateDir, "db");
  if (Deno.uid() !== 0) return inside;
  const reachable = await run(["runuser", "-u", "postgres", "--", "test", "-x", stateDir], {
    cwd: "/",
  });
  if (reachable.code === 0) return inside;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(resolve(stateDir)));
  const hash = Array.from(new Uint8Array(digest).slice(0, 8))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const outside = join(CLUSTERS_OUTSIDE_CHECKOUT, `agent-mcp-connections-${hash}`);
  await Deno.mkdir(outside, { recursive: true, mode: 0o700 });
  await runOrThrow(["chown", "postgres:postgres", outside]);
  return join(outside, "db");
}

/** Parent of the clusters of checkouts the postgres user cannot enter (see clusterRootFor). */
export const CLUSTERS_OUTSIDE_CHECKOUT = "/var/tmp";

/** Fails early, with the fix, when root cannot hand the cluster to the postgres user. */
export async function checkCanRunPostgres(): Promise<void> {
  if (Deno.uid() !== 0) return;
  const user = await run(["id", "-u", "postgres"]);
  if (user.code !== 0) {
    throw new Error(
      "Running as root, but there is no `postgres` OS user to run PostgreSQL as. " +
        "Install the distribution's PostgreSQL package (apt-get install -y postgresql), " +
        "or run the stack as a normal user.",
    );
  }
}
