/**
 * `probe()`: checks an MCP server the way a real MCP client would, with the official SDK, and
 * reports what it found as a `connection_test_result`.
 *
 * One probe = attempts until one succeeds, a failure is not transient, retries run out, or the
 * deadline would pass. One attempt = Streamable HTTP (discovery for protocol 2026-07-28, else
 * the `initialize` handshake), then, if the server turns the POST down with a 4xx, the legacy
 * HTTP+SSE transport. Each transport try = connect, capabilities, `tools/list` pages, `ping`
 * (handshake era only), session close.
 */
import type { VersionNegotiationMode } from "@modelcontextprotocol/client";
import type { ConnectionTestResult, ProbeTransport } from "../schemas/test_result.ts";
import { AttemptTrace } from "./attempt_trace.ts";
import { createServerAuth, type ServerAuth } from "./auth/server_auth.ts";
import { redactResult } from "./auth/redact.ts";
import { Deadline } from "./deadline.ts";
import { classifyFailure, type ProbeFailure, toProbeError } from "./failure.ts";
import { boundResult } from "./result_bounds.ts";
import { ByteBudget, createGuardedFetch } from "./guarded_fetch.ts";
import {
  type ProbeOptions,
  type ResolvedProbeOptions,
  resolveProbeOptions,
} from "./probe_options.ts";
import { NetworkRefusal } from "./probe_errors.ts";
import { decideRetry } from "./retry.ts";
import {
  createProbeClient,
  emptyFindings,
  type Findings,
  inspectServer,
} from "./server_inspection.ts";
import {
  createTransport,
  reportedFailure,
  shouldFallBackToSse,
  type TransportPlan,
} from "./transports.ts";

/** How to probe; see probe_options.ts. */
export type { ProbeOptions } from "./probe_options.ts";

/** The longest a clean session close (HTTP DELETE) may take, within the deadline. */
const CLOSE_BUDGET_MS = 1_000;

/** How one transport try ended. */
type TransportOutcome =
  | {
    readonly ok: true;
    readonly kind: ProbeTransport;
    readonly findings: Findings;
    readonly latency: number;
  }
  | {
    readonly ok: false;
    readonly kind: ProbeTransport;
    readonly findings: Findings;
    readonly failure: ProbeFailure;
    readonly eventStreamOpened: boolean;
  };

/** What every transport try of a probe shares. */
interface ProbeRun {
  readonly options: ResolvedProbeOptions;
  readonly deadline: Deadline;
  readonly pinning: PinningClient;
  /** The response bytes the probe may still read, over all its requests. */
  readonly budget: ByteBudget;
  /** The server's credentials as this probe applies them. */
  readonly auth: ServerAuth;
}

/**
 * Probes the MCP server at `url` and resolves with the result to store as
 * `connection_test_result` (it parses with the `ConnectionTestResult` schema). Network and
 * protocol outcomes are in the result; it never rejects for them. Throws `ProbeOptionsError`
 * at once for invalid options (a forbidden custom header, a timeout out of range, a URL that
 * does not parse).
 *
 * The whole probe, retries included, ends by `options.timeout`. Nothing is sent to an address
 * `options.networkPolicy` does not admit (class `blocked`).
 */
export async function probe(
  url: string | URL,
  options: ProbeOptions = {},
): Promise<ConnectionTestResult> {
  const resolved = resolveProbeOptions(url, options);
  const timestamp = new Date().toISOString();
  const startedAt = performance.now();
  const deadline = new Deadline(resolved.timeout, resolved.signal);
  const run: ProbeRun = {
    options: resolved,
    deadline,
    pinning: new PinningClient(),
    budget: new ByteBudget(resolved.maxTotalBytes),
    auth: createServerAuth(resolved.credentials, resolved.url, resolved.tokenCache),
  };
  try {
    const { outcome, attempts } = await runAttempts(run);
    const result = toResult(outcome, attempts, timestamp, startedAt, run.auth);
    // Nothing the probe sent as a credential may come back in what it reports.
    return boundResult(redactResult(result, run.auth.secrets()));
  } finally {
    deadline.dispose();
    run.pinning.close();
  }
}

async function runAttempts(
  run: ProbeRun,
): Promise<{ outcome: TransportOutcome; attempts: number }> {
  const { deadline, options } = run;
  let attempts = 0;
  for (;;) {
    if (deadline.signal.aborted) return { outcome: stopped(deadline), attempts };
    attempts++;
    const outcome = await runAttempt(run);
    if (outcome.ok) return { outcome, attempts };
    const decision = decideRetry({
      failure: outcome.failure,
      attempt: attempts,
      retryAttempts: options.retryAttempts,
      remainingMs: deadline.remaining(),
      nowMs: Date.now(),
      backoff: options.backoff,
      random: options.random,
    });
    if (!decision.retry) return { outcome, attempts };
    if (!(await deadline.sleep(decision.delayMs))) return { outcome: stopped(deadline), attempts };
  }
}

/**
 * One attempt: where the hint says to start, if anywhere; then, unless that answered (or
 * failed in a way no other transport or era could change), Streamable HTTP, and the SSE
 * transport if the server looks like a legacy one (an SSE try the hint already made is not
 * made again).
 */
async function runAttempt(run: ProbeRun): Promise<TransportOutcome> {
  const start = run.options.start;
  let hinted: TransportOutcome | null = null;
  if (start !== null) {
    hinted = await runTransport(
      run,
      start.transport,
      start.transport === "sse" ? undefined : start.negotiation,
    );
    if (hinted.ok || !hintMayBeStale(hinted.failure) || run.deadline.signal.aborted) return hinted;
  }
  const streamable = await runTransport(run, "streamable-http");
  if (streamable.ok || !shouldFallBackToSse(streamable.failure) || run.deadline.signal.aborted) {
    return streamable;
  }
  const sse = hinted?.kind === "sse" ? hinted : await runTransport(run, "sse");
  if (sse.ok) return sse;
  return reportedFailure(streamable.failure, sse.failure, sse.eventStreamOpened) === sse.failure
    ? sse
    : streamable;
}

/**
 * Whether a hinted try's failure may come from a stale hint: the server answered, but not in
 * the hinted transport or era (an HTTP error status that is no auth wall and no request to slow
 * down, or not MCP as hinted). A connection that failed, timed out or was refused fails the same
 * whatever is tried.
 */
function hintMayBeStale(failure: ProbeFailure): boolean {
  return (failure.class === "http_status" || failure.class === "protocol") && !failure.transient;
}

async function runTransport(
  run: ProbeRun,
  kind: ProbeTransport,
  negotiation?: VersionNegotiationMode,
): Promise<TransportOutcome> {
  const { options, deadline } = run;
  const scope = childScope(deadline.signal);
  const signal = scope.signal;
  // A body cut off at its bound fails the try at once: requests waiting for answers on a
  // cut-off event stream would otherwise wait for the deadline. (Other refusals reach their
  // request as the fetch's error.) The scope stays open for the session close.
  let cutOff: (refusal: NetworkRefusal) => void = () => {};
  const bodyCutOff = new Promise<never>((_, reject) => (cutOff = reject));
  bodyCutOff.catch(() => {});
  const trace = new AttemptTrace((refusal) => {
    if (refusal.code === "body_too_large") cutOff(refusal);
  });
  const fetch = createGuardedFetch({
    policy: options.networkPolicy,
    resolver: options.resolver,
    origin: options.url.origin,
    customHeaders: run.auth.headers(options.customHeaders),
    maxBodyBytes: options.maxBodyBytes,
    budget: run.budget,
    maxRedirects: options.maxRedirects,
    signal,
    trace,
    pinningClient: () => run.pinning.get(),
  });
  const plan = createTransport(kind, options.url, fetch, negotiation, run.auth.authProvider(fetch));
  const findings = emptyFindings();
  const inspection = {
    negotiation: plan.negotiation,
    remainingMs: () => deadline.remaining(),
    signal,
    maxToolPages: options.maxToolPages,
    clientInfo: options.clientInfo,
    onTransportError: (error: Error) => trace.noteTransportError(error),
  };
  const client = createProbeClient(inspection);
  const startedAt = performance.now();
  try {
    await deadline.race(
      Promise.race([inspectServer(client, plan.transport, findings, inspection), bodyCutOff]),
    );
    const latency = Math.round(performance.now() - startedAt);
    await closeSession(plan, deadline);
    return { ok: true, kind, findings, latency };
  } catch (error) {
    const failure = classifyFailure(error, {
      trace,
      deadline,
      authKind: run.auth.kind,
      authStep: run.auth.pendingStep(),
    });
    if (findings.era !== null) await closeSession(plan, deadline);
    return { ok: false, kind, findings, failure, eventStreamOpened: trace.eventStreamOpened };
  } finally {
    // A clean close first, as any client ends a session: the client closes the transport it is
    // attached to (one it never attached to, when the try ended during version negotiation, is
    // closed here), and the transport aborts its own requests. Then whatever request is still
    // open is cut off.
    const attached = client.transport === plan.transport;
    try {
      await client.close().catch(() => {});
      if (!attached) await plan.transport.close().catch(() => {});
    } finally {
      scope.end();
    }
  }
}

/**
 * A transport try's signal: it aborts when the probe's does (with its reason) or when the try
 * ends (`end()`), and lets go of the probe's signal then.
 */
function childScope(parent: AbortSignal): { readonly signal: AbortSignal; end(): void } {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener("abort", onParentAbort, { once: true });
  return {
    signal: controller.signal,
    end() {
      parent.removeEventListener("abort", onParentAbort);
      controller.abort(new NetworkRefusal("cancelled", "the transport try is over"));
    },
  };
}

/**
 * Ends the server's session (HTTP DELETE) if there is one, within the close budget and
 * deadline. Without a session there is nothing to send, and no timer is set.
 */
async function closeSession(plan: TransportPlan, deadline: Deadline): Promise<void> {
  if (!plan.hasSession()) return;
  const budget = Math.min(CLOSE_BUDGET_MS, deadline.remaining());
  if (budget <= 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, budget);
  });
  try {
    await Promise.race([plan.terminate().catch(() => {}), expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** The outcome when the probe is stopped between attempts: cancelled, or out of time. */
function stopped(deadline: Deadline): TransportOutcome {
  const reason: unknown = deadline.signal.reason;
  const message = reason instanceof NetworkRefusal ? reason.message : "the probe was stopped";
  return {
    ok: false,
    kind: "streamable-http",
    findings: emptyFindings(),
    failure: { class: "timeout", message, transient: false, cause: reason },
    eventStreamOpened: false,
  };
}

/**
 * The probe's `Deno.createHttpClient({ allowHost: true })`, created when a plain-`http:` host
 * name first needs pinning (never for literal addresses or `https:`), and only where the
 * runtime has `Deno.createHttpClient` (edge runtimes may not: requests then go unpinned).
 */
class PinningClient {
  #client: Deno.HttpClient | undefined;
  #tried = false;

  get(): Deno.HttpClient | undefined {
    if (this.#tried) return this.#client;
    this.#tried = true;
    const create = (globalThis as { Deno?: { createHttpClient?: unknown } }).Deno?.createHttpClient;
    if (typeof create !== "function") return undefined;
    try {
      this.#client = Deno.createHttpClient({ allowHost: true });
    } catch {
      this.#client = undefined;
    }
    return this.#client;
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

function toResult(
  outcome: TransportOutcome,
  attempts: number,
  timestamp: string,
  startedAt: number,
  auth: ServerAuth,
): ConnectionTestResult {
  const { findings } = outcome;
  return boundResult({
    success: outcome.ok,
    error: outcome.ok ? null : toProbeError(outcome.failure),
    latency: outcome.ok ? outcome.latency : null,
    capabilities: findings.capabilities,
    timestamp,
    durationMs: Math.round(performance.now() - startedAt),
    serverInfo: findings.serverInfo,
    protocolVersion: findings.protocolVersion,
    era: findings.era,
    transport: outcome.ok || findings.era !== null ? outcome.kind : null,
    tools: findings.tools,
    toolCount: findings.toolCount,
    auth: auth.summary(),
    attempts,
    ...(findings.truncated ? { truncated: true as const } : {}),
  });
}
