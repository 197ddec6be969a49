/**
 * `deno task test`: every test of the project against a throw-away local stack.
 *
 *   1. starts a private stack (own cluster in a temp folder, free ports, no fsync);
 *   2. runs the pgTAP files in supabase/tests with pg_prove, as `supabase test db` does;
 *   3. runs the Deno tests in tests/ with the stack's URL and keys in the environment;
 *   4. always stops the stack and removes its folder.
 *
 * Flags: --only=db | --only=deno, and anything after `--` goes to `deno test`
 * (e.g. `deno task test -- --filter "POST /connections"`).
 * pgTAP comes from the distribution (postgresql-<major>-pgtap); when it is missing
 * and we run as root it is installed, otherwise the exact command is printed.
 */
import { join } from "node:path";
import { findPostgresBinaries, postgresMajorVersion } from "./stack/postgres_cluster.ts";
import { run } from "./stack/processes.ts";
import { projectRootFromHere } from "./stack/project_config.ts";
import { type RunningStack, startStack } from "./stack/stack.ts";
import { stackEnvironment } from "./stack/stack_environment.ts";

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

/** Makes sure pgTAP and pg_prove exist; installs them with apt when we are root. */
async function ensurePgTap(): Promise<void> {
  const bin = await findPostgresBinaries();
  const major = await postgresMajorVersion(bin);
  const sharedir = (await run([join(bin, "pg_config"), "--sharedir"])).stdout.trim();
  const hasExtension = async () => {
    try {
      await Deno.stat(join(sharedir, "extension", "pgtap.control"));
      return true;
    } catch {
      return false;
    }
  };
  const hasProve = async () => (await run(["sh", "-c", "command -v pg_prove"])).code === 0;
  if ((await hasExtension()) && (await hasProve())) return;

  const packages = [`postgresql-${major}-pgtap`, "libtap-parser-sourcehandler-pgtap-perl"];
  const command = `apt-get install -y ${packages.join(" ")}`;
  if (Deno.uid() !== 0) {
    throw new Error(`pgTAP is not installed. Install it with:\n  sudo ${command}`);
  }
  say(`installing pgTAP: ${command}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  let result = await run(["apt-get", "install", "-y", ...packages], { env });
  if (result.code !== 0) {
    await run(["apt-get", "update"], { env });
    result = await run(["apt-get", "install", "-y", ...packages], { env });
  }
  if (result.code !== 0 || !(await hasExtension()) || !(await hasProve())) {
    throw new Error(`could not install pgTAP (${command}):\n${result.stderr}`);
  }
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
  if (only !== "deno") await ensurePgTap();
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
  const dbOk = only === "deno" ? true : await runPgTap(stack);
  const denoOk = only === "db" ? true : await runDenoTests(stack);
  ok = dbOk && denoOk;
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
