/**
 * The environment a local function gets, as the hosted platform injects it: exactly the
 * platform's variables, plus the user's secrets as a separate, explicit layer (what
 * `supabase secrets set NAME=value` or `supabase/functions/.env` holds on a real project).
 * Nothing of the stack's own process leaks in: function_host.ts removes every other
 * variable before it loads the function.
 *
 * The platform's variables (Supabase docs, "Environment variables" / "Default secrets", and
 * the Supabase CLI's `functions serve`): SUPABASE_URL, SUPABASE_ANON_KEY,
 * SUPABASE_SERVICE_ROLE_KEY, SUPABASE_DB_URL, and the newer SUPABASE_PUBLISHABLE_KEYS,
 * SUPABASE_SECRET_KEYS (JSON maps, locally `{"default": key}`) and SUPABASE_JWKS. The legacy
 * JWT secret is not among them: a function sees `JWT_SECRET` only when the user sets it as a
 * secret, as on hosted. Secrets may not start with `SUPABASE_` (reserved, as on hosted).
 */
import type { ApiKeys } from "./keys.ts";
import { localJwks } from "./keys.ts";

export const PLATFORM_VARIABLES = [
  "SUPABASE_URL",
  "SUPABASE_ANON_KEY",
  "SUPABASE_SERVICE_ROLE_KEY",
  "SUPABASE_DB_URL",
  "SUPABASE_PUBLISHABLE_KEYS",
  "SUPABASE_SECRET_KEYS",
  "SUPABASE_JWKS",
] as const;

export type PlatformEnvironment = Record<typeof PLATFORM_VARIABLES[number], string>;

/** What the platform injects into every function of a project. */
export function platformEnvironment(
  project: { url: string; dbUrl: string; keys: ApiKeys },
): PlatformEnvironment {
  const { keys } = project;
  return {
    SUPABASE_URL: project.url,
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    SUPABASE_DB_URL: project.dbUrl,
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
    SUPABASE_JWKS: localJwks(keys.jwtSecret),
  };
}

/** The platform's variables and the user's secrets; throws on a reserved or invalid name. */
export function functionEnvironment(
  platform: PlatformEnvironment,
  secrets: Record<string, string>,
): Record<string, string> {
  for (const name of Object.keys(secrets)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new Error(`function secret "${name}": not a valid environment variable name`);
    }
    if (name.toUpperCase().startsWith("SUPABASE_")) {
      throw new Error(`function secret "${name}": names starting with SUPABASE_ are reserved`);
    }
  }
  return { ...secrets, ...platform };
}

/** Reads a dotenv file (`NAME=value`, `#` comments, optional quotes); {} when it is missing. */
export async function readSecretsFile(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw error;
  }
  const secrets: Record<string, string> = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new Error(`${path}:${index + 1}: expected NAME=value`);
    let value = match[2]!;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2]!;
    secrets[match[1]!] = value;
  }
  return secrets;
}
