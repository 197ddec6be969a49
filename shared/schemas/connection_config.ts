/**
 * The `connection_config` of an agent's MCP connection: the options a user sets
 * for how their agent talks to one MCP server.
 *
 * The database enforces the very same rules in `public.validate_connection_config()`
 * (migration `*_agent_mcp_connections.sql`); keep the two in step. A test feeds both
 * the same generated configs and compares their verdicts.
 */
import { z } from "zod";

/** Bounds shared by the zod schema, the SQL validation function and the probe. */
export const CONNECTION_CONFIG_LIMITS = {
  /** Milliseconds. Stays below Supabase's 150 s request idle timeout. */
  timeout: { min: 100, max: 120_000 },
  retryAttempts: { min: 0, max: 10 },
  maxConcurrentRequests: { min: 1, max: 1_000 },
  customHeaders: { maxCount: 32, maxNameLength: 256, maxValueLength: 4_096 },
} as const;

/** What the probe uses when the config leaves an option out. */
export const CONNECTION_CONFIG_DEFAULTS = {
  timeout: 10_000,
  retryAttempts: 2,
} as const;

/**
 * Headers a connection may not set: hop-by-hop and framing headers (RFC 9110 §7.6.1,
 * RFC 9112), and the ones the MCP transports own. Lower case.
 */
export const FORBIDDEN_HEADER_NAMES: ReadonlySet<string> = new Set([
  "accept",
  "connection",
  "content-length",
  "content-type",
  "expect",
  "host",
  "http2-settings",
  "keep-alive",
  "last-event-id",
  "mcp-protocol-version",
  "mcp-session-id",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Names no header may have although they are RFC 9110 tokens: `__proto__` is a
 * property name with assignment semantics in JavaScript, so an object built from it
 * by assignment (zod's record parsing among others) silently loses it, while the
 * database and the probe would keep it. Refused by both checks instead. Lower case.
 */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set(["__proto__"]);

/** An RFC 9110 token. */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space and horizontal tab: no CR, LF, NUL or other controls. */
export const HEADER_VALUE_PATTERN = /^[\t\x20-\x7e]*$/;

const { timeout, retryAttempts, maxConcurrentRequests, customHeaders } = CONNECTION_CONFIG_LIMITS;

export const HeaderName = z
  .string()
  .min(1)
  .max(customHeaders.maxNameLength)
  .regex(HEADER_NAME_PATTERN, "must be an HTTP header name (RFC 9110 token)")
  .refine(
    (name) => !FORBIDDEN_HEADER_NAMES.has(name.toLowerCase()),
    "is a hop-by-hop, framing or transport header and cannot be set",
  )
  .refine((name) => !RESERVED_HEADER_NAMES.has(name.toLowerCase()), "is a reserved name");

export const HeaderValue = z
  .string()
  .max(customHeaders.maxValueLength)
  .regex(HEADER_VALUE_PATTERN, "must be visible ASCII without control characters");

/**
 * zod's record parsing skips an own `__proto__` key without a word (the output is
 * built by assignment), so it is looked for on the raw input, before the record.
 */
function refuseReservedKeys(value: unknown, ctx: { issues: z.core.$ZodRawIssue[] }): unknown {
  if (value !== null && typeof value === "object" && Object.hasOwn(value, "__proto__")) {
    ctx.issues.push({
      code: "custom",
      message: "is a reserved name",
      path: ["__proto__"],
      input: value,
    });
  }
  return value;
}

const HeaderRecord = z
  .record(HeaderName, HeaderValue)
  .refine((headers) => Object.keys(headers).length <= customHeaders.maxCount, {
    message: `at most ${customHeaders.maxCount} headers`,
  })
  .refine(
    (headers) => {
      const lower = Object.keys(headers).map((name) => name.toLowerCase());
      return new Set(lower).size === lower.length;
    },
    { message: "header names must be unique regardless of case" },
  );

export const CustomHeaders = z.preprocess(refuseReservedKeys, HeaderRecord);

export const ConnectionConfig = z.strictObject({
  /** Deadline of a whole connection test, in milliseconds. */
  timeout: z.number().int().min(timeout.min).max(timeout.max).optional(),
  /** Extra attempts after a transient failure, within the same deadline. */
  retryAttempts: z.number().int().min(retryAttempts.min).max(retryAttempts.max).optional(),
  /** Sent on every request to the MCP server. */
  customHeaders: CustomHeaders.optional(),
  enableLogging: z.boolean().optional(),
  maxConcurrentRequests: z
    .number()
    .int()
    .min(maxConcurrentRequests.min)
    .max(maxConcurrentRequests.max)
    .optional(),
});

export type ConnectionConfig = z.infer<typeof ConnectionConfig>;
