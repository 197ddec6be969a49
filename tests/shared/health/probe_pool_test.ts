import assert from "node:assert/strict";
import {
  batchBudgetMs,
  longestFittingTimeoutMs,
  POOL_MARGIN_MS,
  probeAll,
  type ProbeTarget,
  START_ALLOWANCE_MS,
} from "../../../shared/health/probe_pool.ts";

/** What a long batch's budget adds to its longest timeout. */
const SLACK = POOL_MARGIN_MS + START_ALLOWANCE_MS;
import { ProbeOptionsError } from "../../../shared/mcp/mod.ts";
import type { ConnectionTestResult } from "../../../shared/schemas/test_result.ts";

function target(url: string | null, timeout = 1000): ProbeTarget {
  return {
    serverId: crypto.randomUUID(),
    ownerId: "o",
    targetKey: "k",
    url,
    probeConfig: { timeout },
    connections: 1,
  };
}

const ok: ConnectionTestResult = {
  success: true,
  error: null,
  latency: 1,
  capabilities: [],
  timestamp: new Date(0).toISOString(),
  durationMs: 1,
  serverInfo: null,
  protocolVersion: null,
  era: null,
  transport: null,
  tools: [],
  toolCount: 0,
  attempts: 1,
};

/** A fake probe that records how many run at once, overall and per origin. */
function trackingProbe(delayMs: number) {
  let inFlight = 0;
  let maxInFlight = 0;
  const perOrigin = new Map<string, number>();
  let maxPerOrigin = 0;
  const probe = async (url: string) => {
    const origin = new URL(url).origin;
    inFlight++;
    perOrigin.set(origin, (perOrigin.get(origin) ?? 0) + 1);
    maxInFlight = Math.max(maxInFlight, inFlight);
    maxPerOrigin = Math.max(maxPerOrigin, perOrigin.get(origin)!);
    await new Promise((r) => setTimeout(r, delayMs));
    inFlight--;
    perOrigin.set(origin, perOrigin.get(origin)! - 1);
    return ok;
  };
  return { probe, max: () => ({ overall: maxInFlight, perOrigin: maxPerOrigin }) };
}

Deno.test("probeAll() bounds concurrency overall and per origin", async () => {
  const tracking = trackingProbe(10);
  const targets = [
    ...Array.from({ length: 20 }, (_, i) => target(`http://127.0.0.1:${10_000 + i}/mcp`)),
    ...Array.from({ length: 10 }, () => target("http://127.0.0.1:9999/mcp")),
  ];
  const outcomes = await probeAll(targets, {
    concurrency: 6,
    perHostConcurrency: 2,
    budgetMs: 10_000,
    probe: tracking.probe,
  });
  assert.equal(outcomes.filter((o) => o.status === "probed").length, 30);
  assert.equal(tracking.max().overall, 6);
  assert.equal(tracking.max().perOrigin, 2);
});

Deno.test("probeAll() skips what cannot be probed, and what would not fit in the budget", async () => {
  const outcomes = await probeAll([
    target(null),
    target("not a url"),
    target("http://127.0.0.1:1/mcp", 5_000),
    target("http://127.0.0.1:2/mcp", 100),
  ], {
    concurrency: 4,
    perHostConcurrency: 1,
    budgetMs: 1_000,
    probe: (url) =>
      url.includes(":3/") ? Promise.reject(new ProbeOptionsError(["bad"])) : Promise.resolve(ok),
  });
  assert.deepEqual(outcomes.map((o) => o.status === "skipped" ? o.reason : o.status), [
    "no_url",
    "bad_target",
    "budget",
    "probed",
  ]);
});

Deno.test("probeAll() reports a target the probe refuses as bad_target, and rethrows anything else", async () => {
  const refused = await probeAll([target("http://127.0.0.1:3/mcp")], {
    concurrency: 1,
    perHostConcurrency: 1,
    budgetMs: 5_000,
    probe: () => Promise.reject(new ProbeOptionsError(["customHeaders: bad"])),
  });
  assert.equal(refused[0]!.status === "skipped" && refused[0]!.reason, "bad_target");
  await assert.rejects(
    probeAll([target("http://127.0.0.1:3/mcp")], {
      concurrency: 1,
      perHostConcurrency: 1,
      budgetMs: 5_000,
      probe: () => Promise.reject(new TypeError("a bug")),
    }),
    TypeError,
  );
});

Deno.test("probeAll() passes each target's hint and the batch's read limits to the probe", async () => {
  const seen: Record<string, unknown>[] = [];
  const hinted = { ...target("http://127.0.0.1:9/a"), hint: { era: "legacy", transport: "sse" } };
  const plain = target("http://127.0.0.1:9/b");
  await probeAll([hinted, plain], {
    concurrency: 2,
    perHostConcurrency: 2,
    budgetMs: 5_000,
    probe: (_url, options) => {
      seen.push({ ...options, signal: undefined });
      return Promise.resolve(ok);
    },
  });
  assert.deepEqual(seen.map((o) => o.hint ?? null), [{ era: "legacy", transport: "sse" }, null]);
  for (const options of seen) {
    assert.equal(options.maxBodyBytes, 1024 * 1024);
    assert.equal(options.maxTotalBytes, 2 * 1024 * 1024);
  }
});

Deno.test("batchBudgetMs() gives a batch of long timeouts their budget, within the wall clock", async (t) => {
  await t.step("a batch whose timeouts fit keeps the cycle's budget", () => {
    assert.equal(
      batchBudgetMs([target("http://a", 10_000), target("http://b")], 45_000, 140_000),
      45_000,
    );
  });
  await t.step("a config without a timeout counts with the default (10 s)", () => {
    const noTimeout = { ...target("http://a"), probeConfig: {} };
    assert.equal(batchBudgetMs([noTimeout], 1_000, 140_000), 10_000 + SLACK);
  });
  await t.step("a batch of long timeouts gets the longest, the margin and the allowance", () => {
    const long = [target("http://a", 90_000), target("http://b", 120_000)];
    assert.equal(batchBudgetMs(long, 45_000, 140_000), 120_000 + SLACK);
  });
  await t.step("never more than the wall clock left, never less than nothing", () => {
    assert.equal(batchBudgetMs([target("http://a", 120_000)], 45_000, 100_000), 100_000);
    assert.equal(batchBudgetMs([target("http://a")], 45_000, 30_000), 30_000);
    assert.equal(batchBudgetMs([target("http://a")], 45_000, -5_000), 0);
  });
  await t.step(
    "a target of either kind is probed when it starts up to the allowance late",
    async () => {
      const budgetMs = 1_000;
      const fits = longestFittingTimeoutMs(budgetMs);
      const long = fits + 1;
      const pool = (timeout: number, budget: number, lateMs: number) => {
        let calls = 0; // the pool's first reading sets its deadline; the target starts lateMs later
        return probeAll([target("http://a", timeout)], {
          concurrency: 1,
          perHostConcurrency: 1,
          budgetMs: budget,
          probe: () => Promise.resolve(ok),
          now: () => (calls++ === 0 ? 0 : lateMs),
        }).then((outcomes) => outcomes.map((o) => o.status));
      };
      assert.deepEqual(await pool(fits, budgetMs, START_ALLOWANCE_MS), ["probed"]);
      assert.deepEqual(
        await pool(long, budgetMs, START_ALLOWANCE_MS),
        ["skipped"],
        "a long one would not be sure to start in such a batch",
      );
      const ownBudget = batchBudgetMs([target("http://a", long)], budgetMs, 140_000);
      assert.deepEqual(await pool(long, ownBudget, START_ALLOWANCE_MS), ["probed"]);
      assert.deepEqual(await pool(long, ownBudget, START_ALLOWANCE_MS + 1), ["skipped"]);
    },
  );
});
