/**
 * The real Supabase CLI, where a user would use it: the npm package `supabase`,
 * pinned in deno.json (`"supabase": "npm:supabase@2.117.0"`) and deno.lock, run
 * with Deno (`deno task supabase <command>` from a shell).
 *
 * Why Deno and not `npm ci`: the project's toolchain already resolves and locks
 * npm packages (PostgREST comes the same way), so a fresh clone needs no second
 * package manager; and a package.json at the root switches Deno to a
 * `node_modules` it then requires for every npm import (`Could not find a
 * matching package for 'npm:postgres@3.4.9' in the node_modules directory`) and
 * makes `deno install --frozen` refuse the lock.
 *
 * Without Docker the CLI can apply migrations and seeds (`db push --db-url`),
 * list them (`migration list --db-url`) and lint functions with plpgsql_check
 * (`db lint --db-url`); `start`, `test db` and `functions serve` need Docker.
 */
import { z } from "zod";
import { run, type RunResult } from "./processes.ts";
import { projectRootFromHere } from "./project_config.ts";

/** A database URL as the CLI takes it: the local cluster speaks no TLS. */
export function cliDbUrl(dbUrl: string): string {
  const url = new URL(dbUrl);
  url.searchParams.set("sslmode", "disable");
  return url.href;
}

/**
 * Runs `supabase <args>` in the project (or `workdir`, a folder holding
 * `supabase/`). Never prompts. Returns the exit code and output.
 */
export function supabaseCli(
  args: string[],
  options: { workdir?: string } = {},
): Promise<RunResult> {
  const root = projectRootFromHere();
  return run([
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-prompt",
    "supabase",
    ...args,
    "--workdir",
    options.workdir ?? root,
    "--agent",
    "no",
  ], {
    cwd: root,
    // Runs made by the stack and the tests: no telemetry, no update check.
    env: { SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1", SUPABASE_NO_UPDATE_NOTIFIER: "1" },
  });
}

async function cliOrThrow(args: string[], options: { workdir?: string } = {}): Promise<RunResult> {
  const result = await supabaseCli(args, options);
  if (result.code !== 0) {
    throw new Error(
      `\`supabase ${args[0]} ${
        args[1]
      }\` exited with ${result.code}\n${result.stderr}${result.stdout}`
        .trim(),
    );
  }
  return result;
}

/**
 * `supabase db push --db-url <url> --yes [--include-seed]`: applies the pending
 * migrations of `<workdir>/supabase/migrations`, each once, in a transaction,
 * recorded in supabase_migrations.schema_migrations; with `includeSeed`, runs
 * each seed file never run before (a changed one only gets its hash updated, in
 * supabase_migrations.seed_files).
 */
export async function dbPush(
  dbUrl: string,
  options: { workdir?: string; includeSeed?: boolean } = {},
): Promise<void> {
  await cliOrThrow([
    "db",
    "push",
    "--db-url",
    cliDbUrl(dbUrl),
    "--yes",
    ...(options.includeSeed ? ["--include-seed"] : []),
  ], options);
}

/** One finding of `supabase db lint` (plpgsql_check). */
export interface LintIssue {
  function: string;
  level: string;
  message: string;
}

/** What `supabase db lint` prints on stdout when it finds something. */
const LintReport = z.array(z.object({
  function: z.string(),
  issues: z.array(z.object({ level: z.string(), message: z.string() })),
}));

/**
 * `supabase db lint --db-url <url> --level warning [--schema ...]`: every warning
 * and error plpgsql_check reports on the database's functions, in every schema
 * unless some are given (needs the plpgsql_check extension available on the
 * server; the CLI creates and drops it).
 */
export async function dbLint(
  dbUrl: string,
  options: { schemas?: string[] } = {},
): Promise<LintIssue[]> {
  const result = await cliOrThrow([
    "db",
    "lint",
    "--db-url",
    cliDbUrl(dbUrl),
    "--level",
    "warning",
    "--fail-on",
    "none",
    ...(options.schemas ? ["--schema", options.schemas.join(",")] : []),
  ]);
  const out = result.stdout.trim();
  if (out === "") return [];
  const reports = LintReport.parse(JSON.parse(out));
  return reports.flatMap((report) =>
    report.issues.map((issue) => ({
      function: report.function,
      level: issue.level,
      message: issue.message,
    }))
  );
}
