/**
 * The local stack: a Supabase-like project on localhost without Docker.
 *
 *   PostgreSQL (private cluster) <- PostgREST <- gateway -> edge functions (Deno)
 *
 * `startStack()` brings everything up, applies the platform bootstrap once, then
 * the pending migrations and new seeds with the real Supabase CLI (`supabase db
 * push`), and returns a handle that stops it all.
 * `deno task dev` and the test runner both use it; tests pass `ephemeral: true`
 * and free ports.
 */
import { join } from "node:path";
import postgres from "postgres";
import { createGatewayHandler, type GatewayRoutes } from "./gateway.ts";
import { type ApiKeys, LOCAL_API_KEYS } from "./keys.ts";
import { applyScript, pushMigrations } from "./migrations.ts";
import {
  checkCanRunPostgres,
  clusterRootFor,
  findPostgresBinaries,
  PostgresCluster,
  postgresMajorVersion,
} from "./postgres_cluster.ts";
import { findPostgrest, startPostgrest } from "./postgrest.ts";
import { freePort, isPortOpen, type LogTarget, Service, waitFor } from "./processes.ts";
import {
  type EdgeRuntimeLimits,
  FunctionWorkers,
  limitsFromEnvironment,
} from "./function_workers.ts";
import {
  functionEnvironment,
  platformEnvironment,
  readSecretsFile,
} from "./function_environment.ts";
import { type FunctionConfig, projectRootFromHere, readProjectConfig } from "./project_config.ts";
import { type DemoMcpServer, startDemoMcpServer } from "./demo_mcp_server.ts";

/** The seeded demo MCP server row the stack points at its running demo server. */
export const DEMO_MCP_SERVER_ID = "33333333-3333-4333-8333-333333333333";
/** Password of the `postgres` and `authenticator` roles, as in the Supabase CLI. */
const DB_PASSWORD = "postgres";

export interface StackOptions {
  /**
   * Folder for the cluster and logs (default `<project>/.stack`). Kept across restarts. The
   * cluster lives in `<stateDir>/db`, or, when run as root and the postgres OS user cannot
   * enter stateDir, in `/var/tmp/agent-mcp-connections-<hash>/db` (see clusterRootFor).
   */
  stateDir?: string;
  /** Gateway port; 0 picks a free one (default: api.port of config.toml). */
  apiPort?: number;
  /** Database port; 0 picks a free one (default: db.port of config.toml). */
  dbPort?: number;
  /** Demo MCP server port; 0 picks a free one (default 54330); null: no demo server. */
  demoMcpPort?: number | null;
  /** Throw-away cluster: no fsync. */
  ephemeral?: boolean;
  /** More PostgreSQL settings, `name=value`. */
  postgresSettings?: string[];
  /** Run the seed files of config.toml once (`db push --include-seed`; default true; benchmarks fill their own data). */
  seed?: boolean;
  /** Function and PostgREST output: to the terminal (dev) or to files in stateDir/logs. */
  logs?: "terminal" | "files";
  /** Restart a function when its code changes (dev). */
  watch?: boolean;
  /** Secrets for every function (like `supabase secrets set`); beside the platform's variables. */
  functionEnv?: Record<string, string>;
  /** A dotenv file of secrets (dev: supabase/functions/.env, as `supabase functions serve`). */
  secretsFile?: string;
  /**
   * The Edge Runtime's limits (default: the hosted ones, function_workers.ts; the stack's
   * EDGE_RUNTIME_* environment variables override them, these options override both).
   */
  edgeRuntimeLimits?: Partial<EdgeRuntimeLimits>;
  /** Progress messages. */
  onProgress?: (message: string) => void;
}

export interface RunningStack {
  /** The project URL (gateway): /rest/v1, /functions/v1/<name>. */
  url: string;
  /** PostgREST itself, without the gateway. */
  restUrl: string;
  /** postgresql://postgres:postgres@127.0.0.1:<port>/postgres */
  dbUrl: string;
  keys: ApiKeys;
  demoMcpServerUrl: string | null;
  /** Where function and PostgREST output goes when the stack logs to files. */
  logDir: string;
  /** The secrets every function got, beyond what Supabase injects (e.g. HEALTH_CHECK_SECRET). */
  functionEnv: Record<string, string>;
  /** Each function's workers: limits, counters (CPU, requests, terminations). */
  functions: Map<string, FunctionWorkers>;
  /** Migration versions this start applied. */
  appliedMigrations: string[];
  /** Whether this start created the database cluster. */
  createdCluster: boolean;
  cluster: PostgresCluster;
  /** Stops PostgreSQL only (outage tests). */
  stopDatabase(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts PostgreSQL again after stopDatabase(). */
  startDatabase(): Promise<void>;
  /** Stops every process the stack started. Safe to call twice. */
  stop(): Promise<void>;
}

function pick(port: number | undefined, fallback: number): number {
  if (port === 0) return freePort();
  return port ?? fallback;
}

async function assertPortFree(port: number, what: string): Promise<void> {
  if (await isPortOpen(port)) {
    throw new Error(
      `${what} port ${port} is already in use (is another stack or \`supabase start\` running?)`,
    );
  }
}

/** Refuses to start twice on the same state folder; clears a lock left by a killed stack. */
async function takeLock(stateDir: string): Promise<() => Promise<void>> {
  const lockFile = join(stateDir, "stack.pid");
  try {
    const pid = Number(await Deno.readTextFile(lockFile));
    if (pid && pid !== Deno.pid) {
      try {
        await Deno.stat(`/proc/${pid}`);
        throw new Error(`a local stack (pid ${pid}) is already running on ${stateDir}`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.writeTextFile(lockFile, String(Deno.pid));
  return () => Deno.remove(lockFile).catch(() => {});
}

/** The worker's environment: the function's, and what function_host.ts needs (then removes). */
function workerEnvironment(
  fn: FunctionConfig,
  functionEnv: Record<string, string>,
  port: number,
): Record<string, string> {
  return {
    ...functionEnv,
    FUNCTION_HOST_PORT: String(port),
    FUNCTION_ENTRYPOINT: fn.entrypoint,
    FUNCTION_ENV_NAMES: Object.keys(functionEnv).join(","),
  };
}

/** How the stack starts a worker of a function: `deno run` of function_host.ts. */
export function functionWorkerSpawner(
  options: {
    projectRoot: string;
    fn: FunctionConfig;
    functionEnv: Record<string, string>;
    watch?: boolean;
    log: LogTarget;
  },
): (port: number, v8Flags: string[]) => Service {
  const { projectRoot, fn } = options;
  return (port, v8Flags) =>
    new Service(fn.name, [
      Deno.execPath(),
      "run",
      ...(options.watch ? ["--watch", "--no-clear-screen"] : []),
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "--no-prompt",
      `--v8-flags=${v8Flags.join(",")}`,
      // As deployed: the function's import map only (config.toml `import_map`), none of the
      // project's deno.json (dev packages, unstable flags); the versions the tests ran, from
      // deno.lock, read only (--frozen: a resolution it does not hold is an error).
      "--no-config",
      "--import-map",
      fn.importMap ?? join(projectRoot, "supabase/functions/import_map.json"),
      "--lock",
      join(projectRoot, "deno.lock"),
      "--frozen",
      join(projectRoot, "scripts/stack/function_host.ts"),
    ], {
      cwd: projectRoot,
      env: workerEnvironment(fn, options.functionEnv, port),
      log: options.log,
    });
}

/** One line into a service's log (the terminal or its file). */
function writeLogLine(log: LogTarget, line: string): void {
  const bytes = new TextEncoder().encode(
    "terminal" in log ? `${log.terminal} ${line}\n` : `${line}\n`,
  );
  if ("terminal" in log) Deno.stderr.writeSync(bytes);
  else Deno.writeFileSync(log.file, bytes, { append: true, create: true });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const progress = options.onProgress ?? (() => {});
  const projectRoot = projectRootFromHere();
  const config = await readProjectConfig(projectRoot);
  const stateDir = options.stateDir ?? join(projectRoot, ".stack");
  const logDir = join(stateDir, "logs");
  await Deno.mkdir(logDir, { recursive: true });
  const releaseLock = await takeLock(stateDir);

  const services: Service[] = [];
  const functionWorkers = new Map<string, FunctionWorkers>();
  let gateway: Deno.HttpServer | null = null;
  let demo: DemoMcpServer | null = null;
  let sql: postgres.Sql | null = null;
  let cluster: PostgresCluster | null = null;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await gateway?.shutdown().catch(() => {});
    await Promise.all([
      ...services.map((service) => service.stop("SIGTERM")),
      ...[...functionWorkers.values()].map((workers) => workers.stop()),
    ]);
    await demo?.close().catch(() => {});
    await sql?.end({ timeout: 1 }).catch(() => {});
    await cluster?.stop("fast").catch(() => {});
    await releaseLock();
  };

  try {
    const apiPort = pick(options.apiPort, config.apiPort);
    const dbPort = pick(options.dbPort, config.dbPort);
    await assertPortFree(apiPort, "API");
    await assertPortFree(dbPort, "Database");
    const keys = LOCAL_API_KEYS;
    const logTarget = (name: string): LogTarget =>
      options.logs === "terminal"
        ? { terminal: `[${name}]` }
        : { file: join(logDir, `${name}.log`) };

    // --- PostgreSQL -----------------------------------------------------------
    await checkCanRunPostgres();
    const bin = await findPostgresBinaries();
    const major = await postgresMajorVersion(bin);
    progress(`PostgreSQL ${major} from ${bin}`);
    cluster = new PostgresCluster(bin, {
      root: await clusterRootFor(stateDir),
      port: dbPort,
      password: DB_PASSWORD,
      ephemeral: options.ephemeral,
      settings: options.postgresSettings,
    });
    const createdCluster = await cluster.ensureCreated();
    if (createdCluster) progress(`created a database cluster in ${cluster.dataDir}`);
    await cluster.start();
    const dbUrl = cluster.url;
    sql = postgres(dbUrl, { max: 2, onnotice: () => {} });

    // --- Schema: platform bootstrap, migrations, seeds ------------------------
    const [{ bootstrapped }] = await sql<[{ bootstrapped: boolean }]>`
      select to_regnamespace('auth') is not null as bootstrapped
    `;
    if (!bootstrapped) {
      await applyScript(sql, join(projectRoot, "scripts/stack/sql/supabase_platform.sql"));
      await sql.unsafe(`alter role authenticator with password '${DB_PASSWORD}'`);
      progress("applied the Supabase platform bootstrap (roles, auth schema)");
    }
    // The real Supabase CLI applies migrations and seeds (`supabase db push`), only
    // when the database does not record them all yet.
    const appliedMigrations = await pushMigrations(sql, dbUrl, {
      projectDir: projectRoot,
      seeds: options.seed === false ? [] : config.seeds,
    });
    progress(
      appliedMigrations.length
        ? `supabase db push applied ${appliedMigrations.length} migration(s): ${
          appliedMigrations.join(", ")
        }`
        : "migrations up to date",
    );

    // --- Demo MCP server ------------------------------------------------------
    if (options.demoMcpPort !== null) {
      demo = startDemoMcpServer(pick(options.demoMcpPort, 54330));
      await sql`
        update public.account_tool_instances set mcp_server_url = ${demo.url}
        where id = ${DEMO_MCP_SERVER_ID} and mcp_server_url is distinct from ${demo.url}
      `;
    }
    await sql.end();
    sql = null;

    // --- PostgREST --------------------------------------------------------------
    const restPort = freePort();
    const rest = await startPostgrest({
      binary: await findPostgrest(),
      dbUri: `postgresql://authenticator:${DB_PASSWORD}@127.0.0.1:${dbPort}/postgres`,
      jwtSecret: keys.jwtSecret,
      port: restPort,
      adminPort: freePort(),
      maxRows: 1000,
      log: logTarget("postgrest"),
    });
    services.push(rest);
    const restUrl = `http://127.0.0.1:${restPort}`;

    // --- Edge functions -----------------------------------------------------------
    const url = `http://127.0.0.1:${apiPort}`;
    // Exactly what the platform injects, and the user's secrets as their own layer.
    const secrets: Record<string, string> = {
      // The demo and test MCP servers run on this machine: let the probe reach loopback.
      MCP_PROBE_ALLOWED_NETWORKS: "127.0.0.0/8,::1/128",
      ...(options.secretsFile ? await readSecretsFile(options.secretsFile) : {}),
      ...options.functionEnv,
    };
    const functionEnv = functionEnvironment(platformEnvironment({ url, dbUrl, keys }), secrets);
    const limits = {
      ...limitsFromEnvironment(Deno.env.toObject()),
      ...options.edgeRuntimeLimits,
    };
    const routes: GatewayRoutes = { rest: restUrl, functions: new Map() };
    const starting: Promise<void>[] = [];
    for (const fn of config.functions) {
      if (!(await exists(fn.entrypoint))) {
        progress(`function ${fn.name}: entrypoint ${fn.entrypoint} is missing; it answers 503`);
        routes.functions.set(fn.name, { upstream: null, verifyJwt: fn.verifyJwt });
        continue;
      }
      const log = logTarget(fn.name);
      const workers = new FunctionWorkers({
        name: fn.name,
        limits,
        log: (line) => writeLogLine(log, line),
        spawn: functionWorkerSpawner({ projectRoot, fn, functionEnv, watch: options.watch, log }),
      });
      functionWorkers.set(fn.name, workers);
      routes.functions.set(fn.name, { upstream: workers, verifyJwt: fn.verifyJwt });
      starting.push(workers.start());
    }
    await Promise.all(starting);

    // --- Gateway ------------------------------------------------------------------
    gateway = Deno.serve(
      { hostname: "127.0.0.1", port: apiPort, onListen: () => {} },
      createGatewayHandler(routes, keys),
    );
    await waitFor("gateway", () => isPortOpen(apiPort));

    const runningCluster = cluster;
    return {
      url,
      restUrl,
      dbUrl,
      keys,
      demoMcpServerUrl: demo?.url ?? null,
      logDir,
      functionEnv: secrets,
      functions: functionWorkers,
      appliedMigrations,
      createdCluster,
      cluster: runningCluster,
      stopDatabase: (mode = "fast") => runningCluster.stop(mode),
      startDatabase: () => runningCluster.start(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
