/**
 * The environment an edge function runs with, read and validated once at boot.
 * Supabase injects SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY,
 * SUPABASE_PUBLISHABLE_KEYS / SUPABASE_SECRET_KEYS (JSON maps) and SUPABASE_JWKS;
 * the rest are this module's settings (`supabase secrets set NAME=value`).
 */
import type { JSONWebKeySet } from "jose";
import { z } from "zod";

const JsonKeyMap = z.string().transform((text, ctx) => {
  try {
    return z.record(z.string(), z.string()).parse(JSON.parse(text));
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a JSON object of key names to keys" });
    return z.NEVER;
  }
});

const Jwks = z.string().transform((text, ctx): JSONWebKeySet | undefined => {
  if (text.trim() === "") return undefined;
  try {
    const parsed = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).parse(
      JSON.parse(text),
    );
    return parsed as JSONWebKeySet;
  } catch {
    ctx.addIssue({ code: "custom", message: 'must be a JWKS document ({"keys": [...]})' });
    return z.NEVER;
  }
});

const FunctionEnvSchema = z.object({
  SUPABASE_URL: z.url(),
  SUPABASE_ANON_KEY: z.string().min(1).optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1).optional(),
  SUPABASE_PUBLISHABLE_KEYS: JsonKeyMap.optional(),
  SUPABASE_SECRET_KEYS: JsonKeyMap.optional(),
  SUPABASE_JWKS: Jwks.optional(),
  /** Legacy HS256 JWT secret, for projects that still sign with it (not injected by Supabase). */
  JWT_SECRET: z.string().min(16).optional(),
  /** When set, users' tokens must carry this `iss` (e.g. `https://<ref>.supabase.co/auth/v1`). */
  JWT_ISSUER: z.url().optional(),
  /** Comma-separated origins allowed by CORS; `*` (default) allows any. */
  CORS_ALLOWED_ORIGINS: z.string().default("*"),
  /** Shared secret the scheduler may send instead of the service role key (health check). */
  HEALTH_CHECK_SECRET: z.string().min(32).optional(),
});

export interface FunctionEnv {
  supabaseUrl: string;
  /** The key PostgREST needs in `apikey` (anon or publishable). */
  publicApiKey: string;
  /** The service role key or the default secret key, when the function has one. */
  serviceApiKey?: string;
  /** Every key that grants service access: the service role key and all secret keys. */
  serviceKeys: string[];
  jwks?: JSONWebKeySet;
  jwtSecret?: string;
  /** The issuer users' tokens must name, when the deployment set one. */
  jwtIssuer?: string;
  corsOrigins: string[] | "*";
  healthCheckSecret?: string;
}

/** Reads the environment; throws one readable error listing every problem. */
export function loadFunctionEnv(env: Record<string, string> = Deno.env.toObject()): FunctionEnv {
  const parsed = FunctionEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid function environment:\n${z.prettifyError(parsed.error)}`);
  }
  const e = parsed.data;
  const publicApiKey = e.SUPABASE_ANON_KEY ?? e.SUPABASE_PUBLISHABLE_KEYS?.["default"];
  if (!publicApiKey) {
    throw new Error(
      "Invalid function environment: SUPABASE_ANON_KEY or SUPABASE_PUBLISHABLE_KEYS is required",
    );
  }
  const origins = e.CORS_ALLOWED_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean);
  return {
    supabaseUrl: e.SUPABASE_URL.replace(/\/+$/, ""),
    publicApiKey,
    serviceApiKey: e.SUPABASE_SERVICE_ROLE_KEY ?? e.SUPABASE_SECRET_KEYS?.["default"],
    serviceKeys: [
      ...(e.SUPABASE_SERVICE_ROLE_KEY ? [e.SUPABASE_SERVICE_ROLE_KEY] : []),
      ...Object.values(e.SUPABASE_SECRET_KEYS ?? {}),
    ],
    jwks: e.SUPABASE_JWKS,
    jwtSecret: e.JWT_SECRET,
    jwtIssuer: e.JWT_ISSUER,
    corsOrigins: origins.length === 0 || origins.includes("*") ? "*" : origins,
    healthCheckSecret: e.HEALTH_CHECK_SECRET,
  };
}
