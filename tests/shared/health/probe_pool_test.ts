import assert from "node:assert/strict";
import { probeAll, type ProbeTarget } from "../../../shared/health/probe_pool.ts";
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
