/**
 * Probes many targets with bounded concurrency, overall and per origin, inside a
 * wall-clock budget. A probe starts only when its own timeout still fits in the
 * budget (otherwise the target is skipped, never reported as a false timeout), so
 * a hanging server costs its timeout and the whole pool ends within the budget.
 */
import {
  type Probe,
  type ProbeOptions,
  ProbeOptionsError,
  type ServerCredential,
} from "../mcp/mod.ts";
import type { ConnectionTestResult } from "../schemas/test_result.ts";
import { CONNECTION_CONFIG_DEFAULTS } from "../schemas/connection_config.ts";
import { Semaphore } from "./semaphore.ts";

/**
 * What one probe of a batch may read. Up to 32 probes run at once in an invocation that
 * must stay well inside 128 MB, so each reads at most 1 MiB per response and 2 MiB in all
 * (a probe holds a few times its read limit at worst); a health check needs only the
 * handshake and the tool names.
 */
export const BATCH_PROBE_READ_LIMITS = {
  maxBodyBytes: 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024,
};

/** Milliseconds a pool keeps free at the end of its budget. */
export const POOL_MARGIN_MS = 250;

/** How late a probe may start in its pool and still fit: it waits for its slots first. */
export const START_ALLOWANCE_MS = 250;

/**
 * The longest timeout that fits in a pool of `budgetMs` when its probe starts up to
 * START_ALLOWANCE_MS late: the cycle gives targets with a longer one batches of their own
 * (see `batchBudgetMs`), where they would otherwise never be probed.
 */
export function longestFittingTimeoutMs(budgetMs: number): number {
  return budgetMs - POOL_MARGIN_MS - START_ALLOWANCE_MS;
}

/**
 * The budget of a batch: the cycle's `budgetMs`, or, for a batch whose targets' timeouts are
 * longer (the cycle cuts those into batches of their own), what their longest timeout needs
 * (the margin and the start allowance on top); never more than `wallClockLeftMs`, what the
 * invocation has left of its worker's wall clock.
 */
export function batchBudgetMs(
  targets: readonly Pick<ProbeTarget, "probeConfig">[],
  budgetMs: number,
  wallClockLeftMs: number,
): number {
  const longest = Math.max(
    0,
    ...targets.map((t) => t.probeConfig.timeout ?? CONNECTION_CONFIG_DEFAULTS.timeout),
  );
  const needed = longest + POOL_MARGIN_MS + START_ALLOWANCE_MS;
  return Math.max(0, Math.min(Math.max(budgetMs, needed), wallClockLeftMs));
}

export interface ProbeTarget {
  serverId: string;
  /** The user whose connections share this target (targets are never shared across owners). */
  ownerId: string;
  targetKey: string;
  url: string | null;
  /** timeout, retryAttempts, customHeaders of the connections sharing this target. */
  probeConfig: Pick<ProbeOptions, "timeout" | "retryAttempts" | "customHeaders">;
  connections: number;
  /** Where the probe starts: what the target spoke last time (it falls back as usual). */
  hint?: ProbeOptions["hint"] | null;
}

export type TargetOutcome =
  | { target: ProbeTarget; status: "probed"; result: ConnectionTestResult }
  | { target: ProbeTarget; status: "skipped"; reason: "no_url" | "bad_target" | "budget" };

export interface ProbePoolOptions {
  concurrency: number;
  perHostConcurrency: number;
  budgetMs: number;
  /** Probes one target (the deployment's probe, its network policy bound in). */
  probe: Probe;
  /** The credentials of the targets' servers, by server id (read with the service role). */
  credentials?: ReadonlyMap<string, ServerCredential>;
  /** Milliseconds kept free at the end of the budget. Default POOL_MARGIN_MS. */
  marginMs?: number;
  now?: () => number;
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

export async function probeAll(
  targets: ProbeTarget[],
  options: ProbePoolOptions,
): Promise<TargetOutcome[]> {
  const now = options.now ?? (() => performance.now());
  const deadline = now() + options.budgetMs - (options.marginMs ?? POOL_MARGIN_MS);
  const global = new Semaphore(options.concurrency);
  const perHost = new Map<string, Semaphore>();
  const hostSlots = (origin: string) => {
    let semaphore = perHost.get(origin);
    if (!semaphore) perHost.set(origin, semaphore = new Semaphore(options.perHostConcurrency));
    return semaphore;
  };
  // Nothing the pool starts may outlive the budget, whatever a probe does.
  const budget = new AbortController();
  const budgetTimer = setTimeout(() => budget.abort(), options.budgetMs);

  const runOne = async (target: ProbeTarget): Promise<TargetOutcome> => {
    if (target.url === null) return { target, status: "skipped", reason: "no_url" };
    const origin = originOf(target.url);
    if (origin === null) return { target, status: "skipped", reason: "bad_target" };
    const host = hostSlots(origin);
    // Per-origin slot first, so a busy origin never holds a global slot while it waits.
    await host.acquire();
    try {
      await global.acquire();
      try {
        const timeout = target.probeConfig.timeout ?? CONNECTION_CONFIG_DEFAULTS.timeout;
        if (now() + timeout > deadline) return { target, status: "skipped", reason: "budget" };
        try {
          const result = await options.probe(target.url, {
            ...target.probeConfig,
            ...(target.hint ? { hint: target.hint } : {}),
            ...BATCH_PROBE_READ_LIMITS,
            credentials: options.credentials?.get(target.serverId) ?? null,
            signal: budget.signal,
          });
          return { target, status: "probed", result };
        } catch (error) {
          // A stored URL or header the probe refuses: nothing to learn about the server.
          if (error instanceof ProbeOptionsError) {
            return { target, status: "skipped", reason: "bad_target" };
          }
          throw error;
        }
      } finally {
        global.release();
      }
    } finally {
      host.release();
    }
  };

  try {
    return await Promise.all(targets.map(runOne));
  } finally {
    clearTimeout(budgetTimer);
  }
}
