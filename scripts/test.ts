/**
 * `deno task test`: every test of the project against a throw-away local stack.
 *
 *   1. starts a private stack (own cluster in a temp folder, free ports, no fsync);
 *   2. lints the migrated schema with the real Supabase CLI (`supabase db lint --level
 *      warning`, plpgsql_check) and fails on any error;
 *   3. runs the pgTAP files in supabase/tests with pg_prove, as `supabase test db` does;
 *   4. runs the Deno tests in tests/ with the stack's URL and keys in the environment;
 *   5. always stops the stack and removes its folder.
 *
 * Flags: --only=db | --only=deno, and anything after `--` goes to `deno test`
 * (e.g. `deno task test -- --filter "POST /connections"`).
 * pgTAP, plpgsql_check and Chromium come from the distribution (postgresql-<major>-pgtap,
 * postgresql-<major>-plpgsql-check, chromium); when missing and we run as root they are
 * installed, otherwise the exact command is printed. The CLI is the npm package
 * pinned in deno.json, fetched by Deno on first use.
 */
import { join } from "node:path";
import { findPostgresBinaries, postgresMajorVersion } from "./stack/postgres_cluster.ts";
import { run } from "./stack/processes.ts";
import { projectRootFromHere } from "./stack/project_config.ts";
import { type RunningStack, startStack } from "./stack/stack.ts";
import { stackEnvironment } from "./stack/stack_environment.ts";
import { dbLint } from "./stack/supabase_cli.ts";

// deno-lint-ignore no-console
const say = (line: string) => console.error(line);

const separator = Deno.args.indexOf("--");
const ownArgs = separator === -1 ? Deno.args : Deno.args.slice(0, separator);
const denoTestArgs = separator === -1 ? [] : Deno.args.slice(separator + 1);
const only = ownArgs.find((arg) => arg.startsWith("--only="))?.slice("--only=".length);
if (only !== undefined && only !== "db" && only !== "deno") {
  say(`unknown --only=${only} (use --only=db or --only=deno)`);
  Deno.exit(2);
}

const projectRoot = projectRootFromHere();

/**
 * Makes sure the database tools of the suite exist: pgTAP and pg_prove (the pgTAP
 * files), plpgsql_check (`supabase db lint`). Installs what is missing with apt
 * when we are root; otherwise throws with the exact command to run.
 */
async function ensureDatabaseTools(): Promise<void> {
  const bin = await findPostgresBinaries();
  const major = await postgresMajorVersion(bin);
  const sharedir = (await run([join(bin, "pg_config"), "--sharedir"])).stdout.trim();
  const hasFile = async (path: string) => {
    try {
      await Deno.stat(path);
      return true;
    } catch {
      return false;
    }
  };
  const hasExtension = (name: string) => hasFile(join(sharedir, "extension", `${name}.control`));
  const hasProve = async () => (await run(["sh", "-c", "command -v pg_prove"])).code === 0;
  const missing = async () => [
    ...((await hasExtension("pgtap")) ? [] : [`postgresql-${major}-pgtap`]),
    ...((await hasProve()) ? [] : ["libtap-parser-sourcehandler-pgtap-perl"]),
    ...((await hasExtension("plpgsql_check")) ? [] : [`postgresql-${major}-plpgsql-check`]),
  ];
  await aptInstall(await missing(), "pgTAP, pg_prove or plpgsql_check", missing);
}

/**
 * Debian's Chromium for the web console's browser test (Playwright drives it; it
 * downloads no browser of its own). CHROMIUM_PATH names another one.
 */
async function ensureChromium(): Promise<void> {
  const missing = async () =>
    Deno.env.get("CHROMIUM_PATH") || (await run(["sh", "-c", "command -v chromium"])).code === 0
      ? []
      : ["chromium"];
  await aptInstall(await missing(), "Chromium", missing);
}

/**
 * Installs Debian packages with apt when we are root (after an `apt-get update` if the
 * first try fails); otherwise throws with the exact command to run. `stillMissing`
 * checks the result.
 */
async function aptInstall(
  packages: string[],
  what: string,
  stillMissing: () => Promise<string[]>,
): Promise<void> {
  if (packages.length === 0) return;
  const command = `apt-get install -y ${packages.join(" ")}`;
  if (Deno.uid() !== 0) {
    throw new Error(`${what} is not installed. Install it with:\n  sudo ${command}`);
  }
  say(`installing ${what}: ${command}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  let result = await run(["apt-get", "install", "-y", ...packages], { env });
  if (result.code !== 0) {
    await run(["apt-get", "update"], { env });
    result = await run(["apt-get", "install", "-y", ...packages], { env });
  }
  if (result.code !== 0 || (await stillMissing()).length > 0) {
    throw new Error(`could not install ${what} (${command}):\n${result.stderr}`);
  }
}

/**
 * `supabase db lint --level warning` (the real CLI, plpgsql_check) over the migrated
 * schema: prints every finding and fails on any error.
 */
async function runDbLint(stack: RunningStack): Promise<boolean> {
  say("\n== supabase db lint --level warning (every schema, before pgTAP is installed) ==");
  const issues = await dbLint(stack.dbUrl);
  for (const issue of issues) say(`${issue.level}: ${issue.function}: ${issue.message}`);
  const errors = issues.filter((issue) => issue.level === "error").length;
  say(errors ? `${errors} lint error(s)` : `no lint errors (${issues.length} warning(s))`);
  return errors === 0;
}

async function runPgTap(stack: RunningStack): Promise<boolean> {
  const setup = await run([
    "psql",
    stack.dbUrl,
    "-v",
    "ON_ERROR_STOP=1",
    "-qc",
    "create extension if not exists pgtap with schema extensions",
  ]);
  if (setup.code !== 0) throw new Error(`could not enable pgtap: ${setup.stderr}`);
  say("\n== pgTAP (supabase/tests) ==");
  const url = new URL(stack.dbUrl);
  const prove = new Deno.Command("pg_prove", {
    args: ["--ext", ".sql", "-r", join(projectRoot, "supabase", "tests")],
    env: {
      PGHOST: url.hostname,
      PGPORT: url.port,
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: url.pathname.slice(1),
    },
    stdout: "inherit",
    stderr: "inherit",
  });
  return (await prove.output()).success;
}

async function runDenoTests(stack: RunningStack): Promise<boolean> {
  const testPathsGiven = denoTestArgs.some((arg) => arg.startsWith("tests/"));
  say("\n== Deno tests (tests/) ==");
  const test = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", ...denoTestArgs, ...(testPathsGiven ? [] : ["tests/"])],
    cwd: projectRoot,
    env: stackEnvironment(stack),
    stdout: "inherit",
    stderr: "inherit",
  });
  return (await test.output()).success;
}

async function printLogTails(stateDir: string): Promise<void> {
  const logDir = join(stateDir, "logs");
  try {
    for await (const entry of Deno.readDir(logDir)) {
      const text = await Deno.readTextFile(join(logDir, entry.name));
      const tail = text.trimEnd().split("\n").slice(-30).join("\n");
      if (tail) say(`\n--- last lines of ${entry.name} ---\n${tail}`);
    }
  } catch {
    // no logs
  }
}

const stateDir = await Deno.makeTempDir({ prefix: "agent-mcp-connections-test-" });
if (Deno.uid() === 0) await run(["chmod", "755", stateDir]);
let ok = false;
let stack: RunningStack | null = null;
try {
  if (only !== "deno") await ensureDatabaseTools();
  if (only !== "db") await ensureChromium();
  const started = performance.now();
  stack = await startStack({
    stateDir,
    apiPort: 0,
    dbPort: 0,
    demoMcpPort: 0,
    ephemeral: true,
    logs: "files",
    functionEnv: { HEALTH_CHECK_SECRET: crypto.randomUUID() + crypto.randomUUID() },
  });
  say(`test stack ready in ${((performance.now() - started) / 1000).toFixed(1)} s at ${stack.url}`);
  const lintOk = only === "deno" ? true : await runDbLint(stack);
  const dbOk = only === "deno" ? true : await runPgTap(stack);
  const denoOk = only === "db" ? true : await runDenoTests(stack);
  ok = lintOk && dbOk && denoOk;
  if (!ok) await printLogTails(stateDir);
} catch (error) {
  say(error instanceof Error ? error.stack ?? error.message : String(error));
  await printLogTails(stateDir);
} finally {
  await stack?.stop();
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
}
say(ok ? "\nall tests passed" : "\ntests FAILED");
Deno.exit(ok ? 0 : 1);
