/**
 * The parts of supabase/config.toml the local stack uses: ports, seed files and
 * the per-function settings (verify_jwt, entrypoint, import_map). Paths in the
 * file are relative to the supabase/ folder, as the CLI reads them.
 */
import { dirname, join, relative, resolve } from "node:path";
import { parse } from "smol-toml";
import { z } from "zod";

const FunctionSettings = z.object({
  enabled: z.boolean().default(true),
  verify_jwt: z.boolean().default(true),
  import_map: z.string().optional(),
  entrypoint: z.string().optional(),
});

const ConfigFile = z.object({
  project_id: z.string(),
  api: z.object({ port: z.number().int().default(54321) }).default({ port: 54321 }),
  db: z.object({
    port: z.number().int().default(54322),
    major_version: z.number().int().optional(),
    seed: z.object({
      enabled: z.boolean().default(true),
      sql_paths: z.array(z.string()).default(["./seed.sql"]),
    }).optional(),
  }).default({ port: 54322 }),
  functions: z.record(z.string(), FunctionSettings).default({}),
});

export interface FunctionConfig {
  name: string;
  verifyJwt: boolean;
  /** Absolute path of the entrypoint (index.ts). */
  entrypoint: string;
  /** Absolute path of the import map / deno.json, if set. */
  importMap?: string;
}

export interface ProjectConfig {
  projectRoot: string;
  supabaseDir: string;
  projectId: string;
  apiPort: number;
  dbPort: number;
  migrationsDir: string;
  seeds: { path: string; relativePath: string }[];
  functions: FunctionConfig[];
}

/** Reads `<projectRoot>/supabase/config.toml`. */
export async function readProjectConfig(projectRoot: string): Promise<ProjectConfig> {
  const supabaseDir = join(projectRoot, "supabase");
  const path = join(supabaseDir, "config.toml");
  const parsed = ConfigFile.safeParse(parse(await Deno.readTextFile(path)));
  if (!parsed.success) {
    throw new Error(`${path} is not a valid Supabase config: ${z.prettifyError(parsed.error)}`);
  }
  const config = parsed.data;
  const fromSupabaseDir = (p: string) => resolve(supabaseDir, p);
  const seedSettings = config.db.seed ?? { enabled: true, sql_paths: ["./seed.sql"] };
  const seeds = seedSettings.enabled
    ? seedSettings.sql_paths.map((p) => {
      const absolute = fromSupabaseDir(p);
      return { path: absolute, relativePath: relative(projectRoot, absolute) };
    })
    : [];
  const functions = Object.entries(config.functions)
    .filter(([, settings]) => settings.enabled)
    .map(([name, settings]): FunctionConfig => ({
      name,
      verifyJwt: settings.verify_jwt,
      entrypoint: settings.entrypoint
        ? fromSupabaseDir(settings.entrypoint)
        : join(supabaseDir, "functions", name, "index.ts"),
      importMap: settings.import_map ? fromSupabaseDir(settings.import_map) : undefined,
    }));
  return {
    projectRoot,
    supabaseDir,
    projectId: config.project_id,
    apiPort: config.api.port,
    dbPort: config.db.port,
    migrationsDir: join(supabaseDir, "migrations"),
    seeds,
    functions,
  };
}

/** The repository root: the folder above scripts/. */
export function projectRootFromHere(): string {
  return resolve(dirname(new URL(import.meta.url).pathname), "..", "..");
}
