/**
 * Turning whatever ended an attempt (a thrown error from the SDK, a fetch error, our own
 * refusals) into a result's error class, keeping the original error as `cause`.
 *
 * The SDK wraps network errors (`EraNegotiationFailed` with a `cause`), stringifies abort
 * reasons, and reports some failures only through `onerror`; so the attempt's trace (what the
 * network layer saw) and the deadline are consulted along with the error's cause chain.
 */
import {
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  SseError,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import type {
  AuthFailureStage,
  AuthKind,
  ProbeError,
  ProbeErrorClass,
} from "../schemas/test_result.ts";
import type { AttemptTrace } from "./attempt_trace.ts";
import { CredentialError } from "./auth/server_auth.ts";
import type { Deadline } from "./deadline.ts";
import { NetworkRefusal } from "./probe_errors.ts";

/** Why an attempt failed: the class a result stores, plus what retry decisions need. */
export interface ProbeFailure {
  readonly class: ProbeErrorClass;
  readonly message: string;
  readonly httpStatus?: number;
  /** The raw `Retry-After` header of the failing response, if any. */
  readonly retryAfter?: string;
  /** Whether another attempt may succeed: refused/reset, timeouts, HTTP 408/429/502/503/504. */
  readonly transient: boolean;
  /**
   * Who refused (class `auth`: the MCP server or the OAuth token endpoint), or, on a network
   * failure or timeout, `token_endpoint` when the try was waiting on the authorization server.
   */
  readonly stage?: AuthFailureStage;
  /** The error this was made from. */
  readonly cause: unknown;
}

/** What besides the error itself tells what happened. */
export interface FailureContext {
  readonly trace: AttemptTrace;
  readonly deadline: Deadline;
  /** What the probe presented to the server (an auth failure's message says so). Default none. */
  readonly authKind?: AuthKind;
  /**
   * The authorization server step the try was waiting on when it failed (`the token endpoint
   * https://…/token`), if any: a failure of another class then is that step's (stage
   * `token_endpoint`, its message names the step).
   */
  readonly authStep?: string | null;
}

const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

/** What a 401/403 from the MCP server means, by what the probe presented. */
const AUTH_REFUSALS: Readonly<Record<AuthKind, string>> = {
  none: "the server requires credentials (an administrator registers them for the server, " +
    "see docs/server-credentials.md; or check the connection's custom headers)",
  headers: "the server refused the credentials its administrator registered (static headers)",
  oauth_client_credentials:
    "the server refused the access token obtained with its OAuth client credentials, " +
    "even after a new one",
};
const MAX_MESSAGE_LENGTH = 500;

/** Classifies the error that ended an attempt. Pure apart from reading the context. */
export function classifyFailure(error: unknown, context: FailureContext): ProbeFailure {
  const found = classify(error, context);
  const step = context.authStep ?? null;
  if (step === null || found.stage !== undefined) return found;
  // Refused, DNS, TLS, timeout, blocked, ... on the way to the authorization server.
  const { class: cls, message, cause, ...extra } = found;
  return failure(cls, `${step}: ${message}`, cause, { ...extra, stage: "token_endpoint" });
}

function classify(error: unknown, context: FailureContext): ProbeFailure {
  const { trace, deadline } = context;
  const chain = causeChain(error);

  const refusal = trace.refusal ?? chain.find((e) => e instanceof NetworkRefusal) ?? null;
  if (
    refusal instanceof NetworkRefusal && refusal.code !== "deadline" && refusal.code !== "cancelled"
  ) {
    return fromRefusal(refusal, error);
  }
  if (deadline.cancelled) {
    return failure("timeout", "the probe was cancelled by its caller", error, { transient: false });
  }

  // The OAuth token endpoint refused the server's client credentials (or could not be found).
  const credential = chain.find((link) => link instanceof CredentialError);
  if (credential instanceof CredentialError) {
    return failure("auth", credential.message, error, {
      transient: false,
      stage: "token_endpoint",
      ...(credential.httpStatus === undefined ? {} : { httpStatus: credential.httpStatus }),
    });
  }

  const authKind = context.authKind ?? "none";
  for (const link of chain) {
    const status = httpStatusOf(link);
    if (status !== undefined) return fromHttpStatus(status, trace, error, link, authKind);
    if (link instanceof UnauthorizedError) {
      return fromHttpStatus(401, trace, error, link, authKind);
    }
  }

  const network = networkFailureOf(chain, error);
  if (network !== null) return network;

  for (const link of chain) {
    const specific = fromSdkError(link, error, deadline, trace);
    if (specific !== null) return specific;
  }

  if (deadline.expired || refusal?.code === "deadline") return timedOut(deadline, error, trace);

  const lastHttp = trace.lastHttpError;
  if (lastHttp !== null) return fromHttpStatus(lastHttp.status, trace, error, error, authKind);

  const text = describe(error);
  if (/protocol version is not supported/i.test(text)) {
    return failure("protocol", text, error, { transient: false });
  }
  return failure("protocol", `unexpected failure: ${text}`, error, { transient: false });
}

/** The part of a failure a result stores. */
export function toProbeError(failure: ProbeFailure): ProbeError {
  return {
    class: failure.class,
    message: failure.message,
    ...(failure.httpStatus === undefined ? {} : { httpStatus: failure.httpStatus }),
    ...(failure.stage === undefined ? {} : { stage: failure.stage }),
  };
}

function fromRefusal(refusal: NetworkRefusal, cause: unknown): ProbeFailure {
  switch (refusal.code) {
    case "blocked":
      return failure("blocked", refusal.message, cause, { transient: false });
    case "dns":
      return failure("dns", refusal.message, cause, { transient: false });
    case "body_too_large":
      return failure("invalid_response", refusal.message, cause, { transient: false });
    case "too_many_redirects":
      return failure("http_status", refusal.message, cause, {
        transient: false,
        ...(refusal.httpStatus === undefined ? {} : { httpStatus: refusal.httpStatus }),
      });
    case "deadline":
    case "cancelled":
      return failure("timeout", refusal.message, cause, { transient: true });
  }
}

function fromHttpStatus(
  status: number,
  trace: AttemptTrace,
  cause: unknown,
  link: unknown,
  authKind: AuthKind,
): ProbeFailure {
  const sighting = [...trace.httpErrors].reverse().find((seen) => seen.status === status);
  const detail = sighting?.statusText ? ` ${sighting.statusText}` : "";
  const retryAfter = sighting?.retryAfter ?? undefined;
  if (status === 401 || status === 403) {
    return failure("auth", `HTTP ${status}${detail}: ${AUTH_REFUSALS[authKind]}`, cause, {
      transient: false,
      httpStatus: status,
      stage: "mcp_server",
    });
  }
  const said = describe(link);
  return failure("http_status", `HTTP ${status}${detail}${said ? `: ${said}` : ""}`, cause, {
    transient: TRANSIENT_STATUSES.has(status),
    httpStatus: status,
    ...(retryAfter === undefined ? {} : { retryAfter }),
  });
}

/** Connection-level failures reported by `fetch` (Deno words them in the error's cause). */
function networkFailureOf(chain: readonly unknown[], cause: unknown): ProbeFailure | null {
  // URLs are cut out first: a host name must not read as a cause ("tls.example.com").
  const text = chain.map(describe).join(" | ").replace(/\bhttps?:\/\/[^\s)]*/gi, "<url>");
  if (
    !chain.some((link) =>
      link instanceof TypeError || /error sending request/i.test(describe(link))
    )
  ) {
    return null;
  }
  if (/connection refused|ECONNREFUSED|os error 111|Requests to port \d+ are blocked/i.test(text)) {
    return failure("refused", `connection refused: ${lastLine(text)}`, cause, { transient: true });
  }
  if (
    /dns error|failed to lookup address|name or service not known|ENOTFOUND|EAI_AGAIN/i.test(text)
  ) {
    return failure("dns", `host name did not resolve: ${lastLine(text)}`, cause, {
      transient: false,
    });
  }
  if (
    /certificate|\btls\b|\bssl\b|InvalidContentType|received corrupt message|handshake/i.test(text)
  ) {
    return failure("tls", `TLS failed: ${lastLine(text)}`, cause, { transient: false });
  }
  if (
    /connection closed before message completed|connection reset|ECONNRESET|broken pipe|os error 104|os error 32|IncompleteMessage|unexpected end of file|connection error|error sending request/i
      .test(text)
  ) {
    return failure("refused", `connection reset or closed: ${lastLine(text)}`, cause, {
      transient: true,
    });
  }
  return null;
}

function fromSdkError(
  link: unknown,
  cause: unknown,
  deadline: Deadline,
  trace: AttemptTrace,
): ProbeFailure | null {
  if (link instanceof ProtocolError) {
    return failure(
      "protocol",
      `the server answered with JSON-RPC error ${link.code}: ${link.message}`,
      cause,
      {
        transient: false,
      },
    );
  }
  if (link instanceof SyntaxError) {
    return failure("protocol", `the server's response is not JSON: ${link.message}`, cause, {
      transient: false,
    });
  }
  if (isZodError(link)) {
    return failure(
      "protocol",
      `the server's response is not a JSON-RPC message: ${describe(link)}`,
      cause,
      {
        transient: false,
      },
    );
  }
  if (!(link instanceof SdkError)) return null;
  switch (link.code) {
    case SdkErrorCode.RequestTimeout:
      return timedOut(deadline, cause, trace);
    case SdkErrorCode.ClientHttpUnexpectedContent:
      return failure("protocol", `not an MCP endpoint: ${link.message}`, cause, {
        transient: false,
      });
    case SdkErrorCode.InvalidResult:
    case SdkErrorCode.UnsupportedResultType:
    case SdkErrorCode.ListPaginationExceeded:
      return failure("invalid_response", link.message, cause, { transient: false });
    case SdkErrorCode.ConnectionClosed:
      return failure("refused", `the connection closed: ${link.message}`, cause, {
        transient: true,
      });
    case SdkErrorCode.MethodNotSupportedByProtocolVersion:
    case SdkErrorCode.CapabilityNotSupported:
      return failure("protocol", link.message, cause, { transient: false });
    default:
      return null;
  }
}

/** A timeout, unless the transport had reported a malformed message before the silence. */
function timedOut(deadline: Deadline, cause: unknown, trace: AttemptTrace): ProbeFailure {
  const garbled = trace.transportErrors.find((error) =>
    error instanceof SyntaxError || isZodError(error)
  );
  if (garbled !== undefined) {
    return failure(
      "protocol",
      `the server sent a message that is not JSON-RPC: ${describe(garbled)}`,
      cause,
      {
        transient: false,
      },
    );
  }
  const reason: unknown = deadline.signal.reason;
  const message = reason instanceof NetworkRefusal
    ? reason.message
    : `no answer in time: ${describe(cause)}`;
  return failure("timeout", message, cause, { transient: true });
}

function httpStatusOf(link: unknown): number | undefined {
  if (link instanceof SdkHttpError && typeof link.status === "number") return link.status;
  if (link instanceof SseError && typeof link.code === "number" && link.code >= 400) {
    return link.code;
  }
  return undefined;
}

function isZodError(value: unknown): boolean {
  return value instanceof Error && (value.name === "ZodError" || value.name === "$ZodError");
}

/** The error, its `cause`, the cause's cause, ... (at most 8 links). */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let link: unknown = error;
  while (link !== undefined && link !== null && chain.length < 8 && !chain.includes(link)) {
    chain.push(link);
    link = link instanceof Error ? link.cause : undefined;
  }
  return chain;
}

function describe(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value);
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
}

function lastLine(text: string): string {
  return text.split(" | ").at(-1) ?? text;
}

function failure(
  cls: ProbeErrorClass,
  message: string,
  cause: unknown,
  extra: { transient: boolean; httpStatus?: number; retryAfter?: string; stage?: AuthFailureStage },
): ProbeFailure {
  const oneLine = message.replace(/\s+/g, " ").trim();
  const trimmed = oneLine.length > MAX_MESSAGE_LENGTH
    ? `${oneLine.slice(0, MAX_MESSAGE_LENGTH)}…`
    : oneLine;
  return { class: cls, message: trimmed, cause, ...extra };
}
