/**
 * Migrations and seeds of the local stack, applied by the real Supabase CLI
 * (`supabase db push --db-url ... [--include-seed]`, see supabase_cli.ts), which
 * records them as on a hosted project:
 *
 *   supabase_migrations.schema_migrations   version, name, statements: each
 *                                           migration runs once, in version order
 *   supabase_migrations.seed_files          path, hash: each seed runs once; a
 *                                           changed seed only gets its new hash
 *
 * Starting the CLI costs 1–3 s (a large JavaScript bundle), so a start first
 * compares the files with those two tables (a few milliseconds) and calls the CLI
 * only when something is new: a warm start stays well under its 5 s target.
 *
 * The platform bootstrap (roles, auth schema), which must exist before `db push`,
 * is a plain script applied once by `applyScript`.
 */
import { basename, join } from "node:path";
import type postgres from "postgres";
import { dbPush } from "./supabase_cli.ts";
import { splitSqlStatements } from "./sql_statements.ts";

type Sql = postgres.Sql;

export interface MigrationFile {
  version: string;
  name: string;
  path: string;
}

const MIGRATION_NAME = /^([0-9]+)_(.*)\.sql$/;

/** The migration files of a folder, in version order. */
export async function listMigrations(folder: string): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for await (const entry of Deno.readDir(folder)) {
    const match = entry.isFile ? MIGRATION_NAME.exec(entry.name) : null;
    if (match) files.push({ version: match[1]!, name: match[2]!, path: join(folder, entry.name) });
  }
  return files.sort((a, b) => a.version.localeCompare(b.version));
}

/** Applies a script that is not tracked (the platform bootstrap), in one transaction. */
export async function applyScript(sql: Sql, path: string): Promise<void> {
  const statements = splitSqlStatements(await Deno.readTextFile(path));
  await sql.begin(async (tx) => {
    for (const [index, statement] of statements.entries()) {
      try {
        await tx.unsafe(statement);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(
          `${basename(path)}: statement ${
            index + 1
          } failed: ${message}\n--- statement ---\n${statement}`,
        );
      }
    }
  });
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The migration versions recorded by the CLI (none before its first push). */
export async function recordedMigrations(sql: Sql): Promise<string[]> {
  const [{ exists }] = await sql<[{ exists: boolean }]>`
    select to_regclass('supabase_migrations.schema_migrations') is not null as exists
  `;
  if (!exists) return [];
  const rows = await sql<{ version: string }[]>`
    select version from supabase_migrations.schema_migrations order by version
  `;
  return rows.map((row) => row.version);
}

/** Seed files whose content the CLI has not recorded (never run, or changed). */
async function unrecordedSeeds(
  sql: Sql,
  seeds: { path: string; relativePath: string }[],
): Promise<string[]> {
  if (seeds.length === 0) return [];
  const [{ exists }] = await sql<[{ exists: boolean }]>`
    select to_regclass('supabase_migrations.seed_files') is not null as exists
  `;
  const recorded = new Map(
    exists
      ? (await sql<{ path: string; hash: string }[]>`
          select path, hash from supabase_migrations.seed_files
        `).map((row) => [row.path, row.hash])
      : [],
  );
  const pending: string[] = [];
  for (const seed of seeds) {
    const hash = await sha256Hex(await Deno.readTextFile(seed.path));
    if (recorded.get(seed.relativePath) !== hash) pending.push(seed.relativePath);
  }
  return pending;
}

export interface PushOptions {
  /** The folder holding `supabase/` (config.toml, migrations/, seeds), the CLI's workdir. */
  projectDir: string;
  /** Seed files (from config.toml); when given, `--include-seed`. */
  seeds?: { path: string; relativePath: string }[];
}

/**
 * Applies what is new with `supabase db push` (and `--include-seed` when seeds are
 * given), or nothing when the database already records every migration and seed.
 * Returns the migration versions this call applied.
 */
export async function pushMigrations(
  sql: Sql,
  dbUrl: string,
  options: PushOptions,
): Promise<string[]> {
  const before = new Set(await recordedMigrations(sql));
  const files = await listMigrations(join(options.projectDir, "supabase", "migrations"));
  const newMigrations = files.some((file) => !before.has(file.version));
  const seeds = options.seeds ?? [];
  const newSeeds = (await unrecordedSeeds(sql, seeds)).length > 0;
  if (!newMigrations && !newSeeds) return [];
  await dbPush(dbUrl, { workdir: options.projectDir, includeSeed: seeds.length > 0 });
  return (await recordedMigrations(sql)).filter((version) => !before.has(version));
}
