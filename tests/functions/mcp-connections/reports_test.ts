/** Reports over time: usage and health series, the caller's totals, admins' totals. */
import assert from "node:assert/strict";
import fc from "fast-check";
import type {
  ConnectionHealthSeries,
  ConnectionUsageSeries,
  UsageByConnection,
  UsageByUser,
  UsageSeries,
} from "../../../shared/schemas/usage_history.ts";
import { LATENCY_BUCKET_BOUNDS_MS } from "../../../shared/schemas/usage_history.ts";
import type { ErrorBody } from "../../../shared/schemas/responses.ts";
import { api, createServer, createUser, openDb, stack } from "../../_support/stack.ts";

const UNUSED_URL = "http://127.0.0.1:9/mcp";

/** Index of the histogram bucket a latency falls in (as SQL's width_bucket). */
function bucketOf(ms: number): number {
  const i = LATENCY_BUCKET_BOUNDS_MS.findIndex((bound) => ms < bound);
  return i === -1 ? LATENCY_BUCKET_BOUNDS_MS.length : i;
}

function quantile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

Deno.test("the histogram's bounds are the same in SQL and TypeScript", async () => {
  await using sql = openDb();
  const [row] = await sql<[{ bounds: string[] }]>`
    select agent_mcp_private.latency_bucket_bounds()::text[] as bounds
  `;
  assert.deepEqual(row.bounds.map(Number), [...LATENCY_BUCKET_BOUNDS_MS]);
});

Deno.test("percentiles read from the histogram lie within one bucket of the true ones", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "percentiles" });
  const serverId = await createServer(sql, UNUSED_URL, "Percentiles server");
  const [connection] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values (${user.agentId}, ${serverId}, ${user.id}) returning id
  `;
  // Latencies of several shapes: log-normal-ish, bimodal, heavy-tailed, constant.
  const shapes = fc.sample(
    fc.array(
      fc.oneof(
        fc.double({ min: 0, max: 4, noNaN: true }).map((x) => Math.round(10 ** x * 10) / 10),
        fc.constantFrom(3, 3, 3, 250, 250, 9_000),
        fc.integer({ min: 0, max: 120_000 }),
      ),
      { minLength: 1, maxLength: 3_000 },
    ),
    { numRuns: 40, seed: 20261202 },
  );
  const rolledBack = new Error("rolled back");
  let checked = 0;
  for (const latencies of shapes) {
    // Each shape recorded through the usage function into this hour's bucket, read back
    // through the connection's series, then rolled back (the next shape starts empty).
    let row: { p50: string; p95: string; p99: string; requests: string } | undefined;
    await sql.begin(async (tx) => {
      for (let i = 0; i < latencies.length; i += 1000) {
        const events = latencies.slice(i, i + 1000).map((ms) => ({
          success: true,
          responseTimeMs: ms,
          bytesTransferred: 0,
        }));
        await tx`select record_agent_mcp_connection_usage(${connection.id}, ${tx.json(events)})`;
      }
      [row] = await tx<[{ p50: string; p95: string; p99: string; requests: string }]>`
        select latency_p50_ms as p50, latency_p95_ms as p95, latency_p99_ms as p99, requests
        from agent_mcp_connection_usage_series(${connection.id}, date_trunc('hour', now()),
          date_trunc('hour', now()) + interval '1 hour', 'hour')
      `;
      throw rolledBack;
    }).catch((error) => {
      if (error !== rolledBack) throw error;
    });
    assert.equal(Number(row!.requests), latencies.length);
    const sorted = [...latencies].sort((a, b) => a - b);
    for (const [p, reported] of [[0.5, row!.p50], [0.95, row!.p95], [0.99, row!.p99]] as const) {
      const truth = bucketOf(quantile(sorted, p));
      const got = bucketOf(Number(reported));
      assert.ok(
        Math.abs(got - truth) <= 1,
        `p${p * 100}: reported ${reported} (bucket ${got}), true bucket ${truth}`,
      );
      checked++;
    }
  }
  assert.equal(checked, 120);
});

Deno.test("usage and health series", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "reports" });
  const other = await createUser(sql, { label: "reports-other" });
  const admin = await createUser(sql, { admin: true, label: "reports-admin" });
  const serverId = await createServer(sql, UNUSED_URL);
  const connect = async (token: string, agentId: string) => {
    const res = await api<{ id: string }>("POST", "/connections", {
      token,
      body: { agentId, mcpServerInstanceId: serverId },
    });
    assert.equal(res.status, 201);
    return res.body.id;
  };
  const id = await connect(user.token, user.agentId);
  const otherId = await connect(other.token, other.agentId);
  const latencies = [12, 40, 45, 80, 150, 900];
  const recorded = await api("POST", `/connections/${id}/usage`, {
    token: user.token,
    body: {
      events: latencies.map((ms, i) => ({
        success: i !== 0,
        responseTimeMs: ms,
        bytesTransferred: 100,
      })),
    },
  });
  assert.equal(recorded.status, 200);

  await t.step(
    "GET /connections/:id/usage: hourly points, this hour's holding the events",
    async () => {
      const res = await api<ConnectionUsageSeries>("GET", `/connections/${id}/usage`, {
        token: user.token,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.bucket, "hour");
      assert.equal(res.body.points.length, 25, "24 hours back, the partial first hour included");
      const last = res.body.points.at(-1)!;
      assert.deepEqual(
        { requests: last.requests, successes: last.successes, failures: last.failures },
        { requests: 6, successes: 5, failures: 1 },
      );
      assert.equal(last.bytes, 600);
      assert.equal(last.averageLatencyMs, 204.5);
      assert.ok(last.latencyP50Ms! >= 20 && last.latencyP50Ms! <= 50, String(last.latencyP50Ms));
      assert.equal(res.body.points.slice(0, -1).every((p) => p.requests === 0), true);
    },
  );

  await t.step("GET /usage and /usage/connections: the caller's own usage only", async () => {
    const series = await api<UsageSeries>("GET", "/usage?bucket=day", { token: user.token });
    assert.equal(series.status, 200);
    assert.equal(series.body.points.reduce((n, p) => n + p.requests, 0), 6);
    const byConnection = await api<UsageByConnection>("GET", "/usage/connections", {
      token: user.token,
    });
    assert.deepEqual(byConnection.body.items.map((i) => [i.connectionId, i.requests]), [[id, 6]]);
    const others = await api<UsageByConnection>("GET", "/usage/connections", {
      token: other.token,
    });
    assert.deepEqual(others.body.items, []);
  });

  await t.step("GET /connections/:id/health: hourly points from the health checks", async () => {
    const check = await fetch(`${stack.url}/functions/v1/mcp-health-check`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.serviceRoleKey}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ connectionIds: [id] }),
    });
    assert.equal(check.status, 200, await check.text());
    const res = await api<ConnectionHealthSeries>("GET", `/connections/${id}/health`, {
      token: user.token,
    });
    assert.equal(res.status, 200);
    const last = res.body.points.at(-1)!;
    assert.deepEqual([last.checks, last.failures, last.uptime], [1, 1, 0]);
  });

  await t.step("another user's connection is not found", async () => {
    for (const path of [`/connections/${otherId}/usage`, `/connections/${otherId}/health`]) {
      const res = await api<ErrorBody>("GET", path, { token: user.token });
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, "connection_not_found");
    }
  });

  await t.step("bad ranges and buckets are 400s", async () => {
    const now = new Date();
    const cases = [
      `/usage?bucket=week`,
      `/usage?from=yesterday`,
      `/usage?from=${now.toISOString()}&to=${new Date(now.getTime() - 1000).toISOString()}`,
      `/usage?from=${new Date(now.getTime() - 60 * 86_400_000).toISOString()}&bucket=hour`,
      `/usage?unknown=1`,
      `/usage/connections?bucket=hour`,
      `/connections/not-a-uuid/usage`,
    ];
    for (const path of cases) {
      const res = await api<ErrorBody>("GET", path, { token: user.token });
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, "invalid_request", path);
    }
  });

  await t.step("admins read every user's usage; others get 403", async () => {
    const series = await api<UsageSeries>("GET", "/admin/usage", { token: admin.token });
    assert.equal(series.status, 200);
    const byUser = await api<UsageByUser>("GET", "/admin/usage/users", { token: admin.token });
    assert.equal(byUser.status, 200);
    assert.equal(byUser.body.items.find((i) => i.userId === user.id)?.requests, 6);
    for (const path of ["/admin/usage", "/admin/usage/users"]) {
      const res = await api<ErrorBody>("GET", path, { token: user.token });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.error.code, "forbidden");
    }
  });
});
