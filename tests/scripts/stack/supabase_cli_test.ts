/**
 * The real Supabase CLI against the test stack, as a user runs it without Docker:
 * the pinned version, `migration list`, `db lint` (clean, and a positive control
 * that a broken function is reported), and the stack's schema as `db push` left it
 * on a database with today's hosted defaults.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { listMigrations } from "../../../scripts/stack/migrations.ts";
import { projectRootFromHere } from "../../../scripts/stack/project_config.ts";
import { cliDbUrl, dbLint, supabaseCli } from "../../../scripts/stack/supabase_cli.ts";
import { stack } from "../../_support/stack.ts";

const root = projectRootFromHere();

Deno.test("the Supabase CLI is the npm package pinned in deno.json and deno.lock", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  assert.equal(config.imports.supabase, "npm:supabase@2.117.0");
  const lock = JSON.parse(await Deno.readTextFile(join(root, "deno.lock")));
  assert.equal(lock.specifiers["npm:supabase@2.117.0"], "2.117.0");
  const version = await supabaseCli(["--version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), "2.117.0");
});

Deno.test("supabase migration list --db-url: every migration is applied on the stack", async () => {
  const result = await supabaseCli(["migration", "list", "--db-url", cliDbUrl(stack.dbUrl)]);
  assert.equal(result.code, 0, result.stderr);
  // Rows of the table: Local | Remote | Time, versions in backticks.
  const rows = result.stdout.split("\n")
    .map((line) => line.split("|").map((cell) => cell.replaceAll("`", "").trim()))
    .filter((cells) => cells.length === 3 && /^[0-9]+$/.test(cells[0] || cells[1] || ""));
  const files = await listMigrations(join(root, "supabase", "migrations"));
  assert.deepEqual(
    rows.map(([local, remote]) => [local, remote]),
    files.map((file) => [file.version, file.version]),
  );
});

Deno.test("supabase db lint --level warning finds no error in the migrated schema", async () => {
  // The module's schema (the runner lints every schema before pgTAP is installed;
  // pgTAP's own functions, in `extensions` by then, do not pass plpgsql_check).
  const issues = await dbLint(stack.dbUrl, { schemas: ["public", "auth"] });
  assert.deepEqual(issues.filter((issue) => issue.level === "error"), []);
});

Deno.test("supabase db lint reports a broken function (positive control)", async () => {
  const admin = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const database = `lint_control_${crypto.randomUUID().replaceAll("-", "")}`;
  try {
    await admin.unsafe(`create database ${database}`);
    const url = new URL(stack.dbUrl);
    url.pathname = `/${database}`;
    const sql = postgres(url.href, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`
        create function public.lint_control() returns bigint
        language plpgsql set search_path = '' as $$
        begin
            return (select count(*) from public.no_such_table);
        end;
        $$;
      `);
    } finally {
      await sql.end();
    }
    const issues = await dbLint(url.href);
    assert.deepEqual(issues.map(({ function: fn, level, message }) => ({ fn, level, message })), [
      {
        fn: "public.lint_control",
        level: "error",
        message: 'relation "public.no_such_table" does not exist',
      },
    ]);
  } finally {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
  }
});

Deno.test("after db push on hosted defaults, service_role runs the health check's reads", async () => {
  // The issue's reproduction: this failed with `permission denied for table
  // account_tool_instances` while the migrations relied on default privileges.
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    const targets = (tx: postgres.TransactionSql) =>
      tx`select count(*)::int as n from public.mcp_health_check_targets(null, null)`;
    const asOwner = await sql.begin(targets);
    const asServiceRole = await sql.begin(async (tx) => {
      await tx`set local role service_role`;
      return await targets(tx);
    });
    assert.deepEqual([...asServiceRole], [...asOwner]);
    const [defaults] = await sql`
      select count(*)::int as n from pg_default_acl
      where defaclnamespace in (0, 'public'::regnamespace)
    `;
    assert.equal(defaults!.n, 0, "the stack grants nothing by default, as a hosted project");
  } finally {
    await sql.end();
  }
});
