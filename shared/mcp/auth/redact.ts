/**
 * The last guard before a result leaves the probe: every string in it (error message, server
 * info, tool and capability names, ...) with every secret the probe held cut out. A server may
 * echo what it was sent (a debugging server puts the `Authorization` header in an error page or
 * a tool name); the result is shown to users and stored, and the secret is the administrator's.
 */
import type { ConnectionTestResult } from "../../schemas/test_result.ts";

/** What replaces a secret. */
export const REDACTED = "[redacted]";

/** Shorter pieces are not looked for on their own (they would match ordinary words). */
const MIN_FRAGMENT_LENGTH = 8;

/**
 * The strings to look for, longest first: each secret, and each of its space-separated pieces
 * long enough to be one (the token of `Bearer <token>`, each line of a PEM key's body). A PEM
 * private key adds its body on one line; a JWK (JSON) adds each of its string members (the
 * private `d`, `p`, `q`, ... as they would appear quoted alone).
 */
export function secretFragments(secrets: readonly string[]): string[] {
  const fragments = new Set<string>();
  const add = (piece: string) => {
    if (piece.length >= MIN_FRAGMENT_LENGTH) fragments.add(piece);
  };
  for (const secret of secrets) {
    add(secret);
    for (const piece of secret.split(/[\s,;]+/)) {
      // A PEM armor line (`-----BEGIN PRIVATE KEY-----`) is no secret.
      if (!piece.startsWith("-----") && !piece.endsWith("-----")) add(piece);
    }
    const pem = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END [A-Z ]+-----/.exec(secret);
    if (pem !== null) add((pem[1] ?? "").replace(/\s+/g, ""));
    for (const member of jsonStringMembers(secret)) add(member);
  }
  return [...fragments].sort((a, b) => b.length - a.length);
}

/** The string members of a JSON object (a JWK), or none if `text` is not one. */
function jsonStringMembers(text: string): string[] {
  if (!text.trimStart().startsWith("{")) return [];
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) return [];
    return Object.values(value).filter((member): member is string => typeof member === "string");
  } catch {
    return [];
  }
}

/** `text` with every fragment replaced by {@link REDACTED}. */
export function redactText(text: string, fragments: readonly string[]): string {
  let out = text;
  for (const fragment of fragments) {
    if (out.includes(fragment)) out = out.replaceAll(fragment, REDACTED);
  }
  return out;
}

/** The result with every string redacted (the same object when there is nothing to redact). */
export function redactResult(
  result: ConnectionTestResult,
  secrets: readonly string[],
): ConnectionTestResult {
  const fragments = secretFragments(secrets);
  if (fragments.length === 0) return result;
  return redactValue(result, fragments) as ConnectionTestResult;
}

function redactValue(value: unknown, fragments: readonly string[]): unknown {
  if (typeof value === "string") return redactText(value, fragments);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, fragments));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, redactValue(item, fragments)]),
    );
  }
  return value;
}
