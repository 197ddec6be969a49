/**
 * Who may run the health check: the scheduler, with the service role key (legacy
 * JWT), a secret key (`sb_secret_...`), a service_role JWT, or the configured cron
 * secret (`x-health-check-secret`). Keys are compared in constant time. Anything
 * else is refused before any work: 401 without (valid) credentials, 403 for a
 * signed-in user's token.
 */
import { AppError } from "../errors/app_error.ts";
import type { JwtVerifier } from "./jwt_verifier.ts";

export const CRON_SECRET_HEADER = "x-health-check-secret";

export interface ServiceCallerSettings {
  /** Keys that grant service access outright (service role key, secret keys). */
  serviceKeys: string[];
  /** The cron secret, if one is configured. */
  cronSecret?: string;
  verifyJwt: JwtVerifier;
}

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
}

/**
 * Constant-time equality of two strings: their SHA-256 digests are compared byte by byte, every
 * byte, so neither the length nor the first difference shows in the time taken. (Not
 * `node:crypto`'s `timingSafeEqual`: loading Deno's Node crypto costs each cold start ~10 ms.)
 */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= x[i]! ^ y[i]!;
  return difference === 0;
}

async function matchesAny(candidate: string, secrets: string[]): Promise<boolean> {
  let matched = false;
  for (const secret of secrets) {
    // Every key is compared, so the time taken does not tell which one matched.
    if (await secretsEqual(candidate, secret)) matched = true;
  }
  return matched;
}

export type ServiceCaller = "service_key" | "service_role_jwt" | "cron_secret";

/** Checks the caller; resolves with how they proved themselves, or throws 401/403. */
export async function authorizeServiceCaller(
  headers: Headers,
  settings: ServiceCallerSettings,
): Promise<ServiceCaller> {
  const cronSecret = headers.get(CRON_SECRET_HEADER);
  if (cronSecret !== null) {
    if (settings.cronSecret && await secretsEqual(cronSecret, settings.cronSecret)) {
      return "cron_secret";
    }
    throw new AppError("invalid_authorization", "The health check secret is not valid.");
  }

  const authorization = headers.get("authorization");
  const bearer = authorization ? /^Bearer +(\S+)\s*$/i.exec(authorization)?.[1] : undefined;
  const candidates = [bearer, headers.get("apikey") ?? undefined].filter((c): c is string => !!c);
  if (candidates.length === 0) {
    throw new AppError(
      "missing_authorization",
      "Call the health check with the service role key or the health check secret.",
    );
  }
  for (const candidate of candidates) {
    if (await matchesAny(candidate, settings.serviceKeys)) return "service_key";
  }
  if (bearer) {
    const claims = await settings.verifyJwt(bearer).catch(() => null);
    if (claims?.role === "service_role") return "service_role_jwt";
    if (claims) {
      throw new AppError("forbidden", "The health check is for the scheduler, not for users.");
    }
  }
  throw new AppError("invalid_jwt", "The credentials are not valid for the health check.");
}
