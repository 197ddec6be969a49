/**
 * Applies supabase/migrations and the seed files the way the Supabase CLI does:
 * each migration `<version>_<name>.sql` once, in version order, in a transaction,
 * recorded in supabase_migrations.schema_migrations (version, name, statements);
 * seed files recorded by hash in supabase_migrations.seed_files and run again
 * only when they change.
 */
import { basename, join } from "node:path";
import type postgres from "postgres";
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

/** Runs a whole SQL script statement by statement inside the given transaction. */
async function runStatements(tx: postgres.TransactionSql, statements: string[], source: string) {
  for (const [index, statement] of statements.entries()) {
    try {
      await tx.unsafe(statement);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${source}: statement ${index + 1} failed: ${message}\n--- statement ---\n${statement}`,
      );
    }
  }
}

/** Applies a script that is not tracked (the platform bootstrap). */
export async function applyScript(sql: Sql, path: string): Promise<void> {
  const statements = splitSqlStatements(await Deno.readTextFile(path));
  await sql.begin((tx) => runStatements(tx, statements, basename(path)));
}

/** Applies every migration not yet recorded. Returns the versions it applied. */
export async function applyPendingMigrations(sql: Sql, folder: string): Promise<string[]> {
  const applied = new Set(
    (await sql<{ version: string }[]>`select version from supabase_migrations.schema_migrations`)
      .map((row) => row.version),
  );
  const done: string[] = [];
  for (const migration of await listMigrations(folder)) {
    if (applied.has(migration.version)) continue;
    const statements = splitSqlStatements(await Deno.readTextFile(migration.path));
    await sql.begin(async (tx) => {
      await tx`set local lock_timeout = '4s'`;
      await runStatements(tx, statements, basename(migration.path));
      await tx`
        insert into supabase_migrations.schema_migrations (version, name, statements)
        values (${migration.version}, ${migration.name}, ${statements})
      `;
    });
    done.push(migration.version);
  }
  return done;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Runs each seed file whose content changed since it last ran (or never ran).
 * `relativePath` is how the file is recorded (the CLI records paths relative to
 * the project folder). Returns the files it ran.
 */
export async function applySeeds(
  sql: Sql,
  seeds: { path: string; relativePath: string }[],
): Promise<string[]> {
  const recorded = new Map(
    (await sql<
      { path: string; hash: string }[]
    >`select path, hash from supabase_migrations.seed_files`)
      .map((row) => [row.path, row.hash]),
  );
  const ran: string[] = [];
  for (const seed of seeds) {
    const content = await Deno.readTextFile(seed.path);
    const hash = await sha256Hex(content);
    if (recorded.get(seed.relativePath) === hash) continue;
    await sql.begin(async (tx) => {
      await runStatements(tx, splitSqlStatements(content), seed.relativePath);
      await tx`
        insert into supabase_migrations.seed_files (path, hash) values (${seed.relativePath}, ${hash})
        on conflict (path) do update set hash = excluded.hash
      `;
    });
    ran.push(seed.relativePath);
  }
  return ran;
}
