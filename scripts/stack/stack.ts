/**
 * The local stack: a Supabase-like project on localhost without Docker.
 *
 *   PostgreSQL (private cluster) <- PostgREST <- gateway -> edge functions (Deno)
 *
 * `startStack()` brings everything up, applies the platform bootstrap once, the
 * pending migrations and changed seeds, and returns a handle that stops it all.
 * `deno task dev` and the test runner both use it; tests pass `ephemeral: true`
 * and free ports.
 */
import { join } from "node:path";
import postgres from "postgres";
import { createGatewayHandler, type GatewayRoutes } from "./gateway.ts";
import { type ApiKeys, LOCAL_API_KEYS, localJwks } from "./keys.ts";
import { applyPendingMigrations, applyScript, applySeeds } from "./migrations.ts";
import {
  checkCanRunPostgres,
  clusterRootFor,
  findPostgresBinaries,
  PostgresCluster,
  postgresMajorVersion,
} from "./postgres_cluster.ts";
import { findPostgrest, startPostgrest } from "./postgrest.ts";
import { freePort, isPortOpen, type LogTarget, Service, waitFor } from "./processes.ts";
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
  /** Run supabase/seed.sql (default true; benchmarks fill their own data). */
  seed?: boolean;
  /** Function and PostgREST output: to the terminal (dev) or to files in stateDir/logs. */
  logs?: "terminal" | "files";
  /** Restart a function when its code changes (dev). */
  watch?: boolean;
  /** Extra environment for every function (like supabase/functions/.env). */
  functionEnv?: Record<string, string>;
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
  /** The environment every function got, beyond what Supabase injects (e.g. HEALTH_CHECK_SECRET). */
  functionEnv: Record<string, string>;
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

function functionEnvironment(
  fn: FunctionConfig,
  base: Record<string, string>,
  port: number,
): Record<string, string> {
  return { ...base, FUNCTION_HOST_PORT: String(port), FUNCTION_ENTRYPOINT: fn.entrypoint };
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
  let gateway: Deno.HttpServer | null = null;
  let demo: DemoMcpServer | null = null;
  let sql: postgres.Sql | null = null;
  let cluster: PostgresCluster | null = null;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await gateway?.shutdown().catch(() => {});
    await Promise.all(services.map((service) => service.stop("SIGTERM")));
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
    const appliedMigrations = await applyPendingMigrations(sql, config.migrationsDir);
    progress(
      appliedMigrations.length
        ? `applied ${appliedMigrations.length} migration(s): ${appliedMigrations.join(", ")}`
        : "migrations up to date",
    );
    const seeded = options.seed === false ? [] : await applySeeds(sql, config.seeds);
    if (seeded.length) progress(`seeded ${seeded.join(", ")}`);

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
    const baseEnv: Record<string, string> = {
      SUPABASE_URL: url,
      SUPABASE_ANON_KEY: keys.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
      SUPABASE_DB_URL: dbUrl,
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
      SUPABASE_JWKS: localJwks(keys.jwtSecret),
      // The demo and test MCP servers run on this machine: let the probe reach loopback.
      MCP_PROBE_ALLOWED_NETWORKS: "127.0.0.0/8,::1/128",
      ...options.functionEnv,
    };
    const routes: GatewayRoutes = { rest: restUrl, functions: new Map() };
    const starting: Promise<void>[] = [];
    for (const fn of config.functions) {
      if (!(await exists(fn.entrypoint))) {
        progress(`function ${fn.name}: entrypoint ${fn.entrypoint} is missing; it answers 503`);
        routes.functions.set(fn.name, { origin: null, verifyJwt: fn.verifyJwt });
        continue;
      }
      const port = freePort();
      const service = new Service(fn.name, [
        Deno.execPath(),
        "run",
        ...(options.watch ? ["--watch", "--no-clear-screen"] : []),
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        "--no-prompt",
        "--config",
        fn.importMap ?? join(projectRoot, "deno.json"),
        join(projectRoot, "scripts/stack/function_host.ts"),
      ], {
        cwd: projectRoot,
        env: functionEnvironment(fn, baseEnv, port),
        log: logTarget(fn.name),
      });
      services.push(service);
      routes.functions.set(fn.name, {
        origin: `http://127.0.0.1:${port}`,
        verifyJwt: fn.verifyJwt,
      });
      starting.push(waitFor(`function ${fn.name}`, () => isPortOpen(port), {
        service,
        timeoutMs: 60_000,
      }));
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
      functionEnv: { ...options.functionEnv },
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
