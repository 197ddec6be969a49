/**
 * The local stack's JWT secret and API keys: the Supabase CLI's well-known local
 * values, so code written against `supabase start` works unchanged.
 */
import { SignJWT } from "jose";

/** The Supabase CLI's default local JWT secret (HS256). */
export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
/** Expiry the CLI gives its anon and service_role keys. */
const LOCAL_API_KEY_EXPIRY = 1983812996;

/** The CLI's local anon key: `{"iss":"supabase-demo","role":"anon","exp":1983812996}`. */
export const LOCAL_ANON_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
/** The CLI's local service_role key. */
export const LOCAL_SERVICE_ROLE_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";
/** The CLI's local opaque keys (the newer API key scheme). */
export const LOCAL_PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH";
export const LOCAL_SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz";

export interface ApiKeys {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  publishableKey: string;
  secretKey: string;
}

export const LOCAL_API_KEYS: ApiKeys = {
  jwtSecret: LOCAL_JWT_SECRET,
  anonKey: LOCAL_ANON_KEY,
  serviceRoleKey: LOCAL_SERVICE_ROLE_KEY,
  publishableKey: LOCAL_PUBLISHABLE_KEY,
  secretKey: LOCAL_SECRET_KEY,
};

function secretKeyBytes(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** Signs an API key JWT the way the CLI does (same header, claims and claim order). */
export function signApiKey(role: "anon" | "service_role", secret: string): Promise<string> {
  return new SignJWT({ iss: "supabase-demo", role, exp: LOCAL_API_KEY_EXPIRY })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(secretKeyBytes(secret));
}

export interface UserTokenOptions {
  /** The user's id (auth.users.id). */
  sub: string;
  email?: string;
  /** Lifetime in seconds (default one hour, like GoTrue's jwt_expiry). */
  expiresIn?: number;
  /** Issuer; GoTrue uses `<SUPABASE_URL>/auth/v1`. */
  issuer?: string;
  secret?: string;
}

/**
 * Mints an access token shaped like the ones GoTrue issues to a signed-in user.
 * The local stack has no auth server, so tests and the demo use this instead.
 */
export function mintUserToken(options: UserTokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    role: "authenticated",
    aud: "authenticated",
    email: options.email ?? "",
    phone: "",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: {},
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: crypto.randomUUID(),
    is_anonymous: false,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.sub)
    .setIssuer(options.issuer ?? "http://127.0.0.1:54321/auth/v1")
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(secretKeyBytes(options.secret ?? LOCAL_JWT_SECRET));
}

/** The JWKS the CLI injects as SUPABASE_JWKS: the legacy secret as a symmetric key. */
export function localJwks(secret: string): string {
  const k = btoa(secret).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return JSON.stringify({ keys: [{ kty: "oct", k }] });
}
