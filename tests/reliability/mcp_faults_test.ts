/**
 * MCP servers that fail, through `POST /connections/:id/test` and through the scheduled
 * health check (both via the gateway, on the real stack): refused, reset, hanging (on
 * either transport), a slow event stream, 500, 401, garbage, a web page, results that
 * break the schema, a huge body, rate limits, 503s, and redirects to the cloud metadata
 * service or a private address. Each comes back as a classified result within the
 * connection's timeout; the API answers 200 with `result.success: false`, never 5xx, and
 * the connection ends `error`, never `testing`.
 *
 * The stack's functions may reach loopback (MCP_PROBE_ALLOWED_NETWORKS=127.0.0.0/8,::1/128),
 * so the redirectors on 127.0.0.1 are asked, and the hop to 169.254.169.254 or 10.0.0.1
 * is refused before anything is sent there (`blocked`).
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { HealthCheckSummary } from "../../shared/schemas/health_check.ts";
import type { TestConnectionResponse } from "../../shared/schemas/responses.ts";
import type { ProbeErrorClass } from "../../shared/schemas/test_result.ts";
import {
  type FaultKind,
  type FaultOptions,
  type FaultServer,
  startFaultServer,
} from "../_support/mcp_servers.ts";
import {
  api,
  call,
  createServer,
  createUser,
  openDb,
  stack,
  type TestUser,
} from "../_support/stack.ts";

/** Slack for what is not the probe: the gateway, the function, two database writes. */
const OVERHEAD_MS = 2_500;

interface FaultCase {
  name: string;
  kind: FaultKind;
  options?: FaultOptions;
  config: { timeout: number; retryAttempts: number };
  /** The classified failure, or null when the server recovers within the retries. */
  expect: { class: ProbeErrorClass; httpStatus?: number } | null;
  /** At least this long (the deadline it must hit). */
  minMs?: number;
}

const quick = { timeout: 3_000, retryAttempts: 0 };
const CASES: FaultCase[] = [
  { name: "connection refused", kind: "refused", config: quick, expect: { class: "refused" } },
  { name: "connection reset", kind: "reset", config: quick, expect: { class: "refused" } },
  {
    name: "accepts and never answers",
    kind: "hang",
    config: { timeout: 1_000, retryAttempts: 2 },
    expect: { class: "timeout" },
    minMs: 900,
  },
  {
    name: "a legacy SSE server that never answers",
    kind: "hang-sse",
    config: { timeout: 1_000, retryAttempts: 0 },
    expect: { class: "timeout" },
    minMs: 900,
  },
  {
    name: "an event stream that never names its endpoint",
    kind: "slow-sse",
    config: { timeout: 1_000, retryAttempts: 0 },
    expect: { class: "timeout" },
    minMs: 900,
  },
  {
    name: "HTTP 500",
    kind: "http-500",
    config: quick,
    expect: { class: "http_status", httpStatus: 500 },
  },
  { name: "HTTP 401", kind: "http-401", config: quick, expect: { class: "auth", httpStatus: 401 } },
  {
    name: "a body that is not JSON",
    kind: "non-json",
    config: quick,
    expect: { class: "protocol" },
  },
  { name: "a web page", kind: "not-mcp", config: quick, expect: { class: "protocol" } },
  {
    name: "results that break the MCP schema",
    kind: "invalid-result",
    config: quick,
    expect: { class: "invalid_response" },
  },
  {
    name: "a 64 MiB body",
    kind: "huge-body",
    config: quick,
    expect: { class: "invalid_response" },
  },
  {
    name: "a lasting rate limit",
    kind: "rate-limited",
    options: { failFirst: 1_000 },
    config: quick,
    expect: { class: "http_status", httpStatus: 429 },
  },
  {
    name: "a lasting 503",
    kind: "unavailable",
    options: { failFirst: 1_000 },
    config: quick,
    expect: { class: "http_status", httpStatus: 503 },
  },
  {
    name: "one 503, then a working server (retried)",
    kind: "unavailable",
    options: { failFirst: 1 },
    config: { timeout: 5_000, retryAttempts: 2 },
    expect: null,
  },
  {
    name: "a redirect to the cloud metadata service",
    kind: "redirect",
    options: { location: "http://169.254.169.254/latest/meta-data/" },
    config: quick,
    expect: { class: "blocked" },
  },
  {
    name: "a redirect to a private address",
    kind: "redirect",
    options: { location: "http://10.0.0.1/mcp" },
    config: quick,
    expect: { class: "blocked" },
  },
  {
    name: "a redirect to a metadata host name",
    kind: "redirect",
    options: { location: "http://metadata.google.internal/computeMetadata/v1/" },
    config: quick,
    expect: { class: "blocked" },
  },
];

interface Deployed {
  fault: FaultCase;
  server: FaultServer;
  serverId: string;
  connectionId: string;
}

/** Starts one fault server per case, registers it, and connects the user's agent to it. */
async function deploy(sql: postgres.Sql, user: TestUser, label: string): Promise<Deployed[]> {
  return await Promise.all(CASES.map(async (fault) => {
    const server = await startFaultServer(fault.kind, fault.options);
    const serverId = await createServer(sql, server.url, `${label}: ${fault.name}`);
    const [row] = await sql<[{ id: string }]>`
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by, connection_config)
      values (${user.agentId}, ${serverId}, ${user.id}, ${sql.json(fault.config)}) returning id
    `;
    return { fault, server, serverId, connectionId: row.id };
  }));
}

async function closeAll(deployed: Deployed[]): Promise<void> {
  await Promise.all(deployed.map((d) => d.server.close()));
}

Deno.test("POST /connections/:id/test classifies every MCP fault within the timeout", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "faults-test" });
  const deployed = await deploy(sql, user, "Fault (test)");
  try {
    const results = await Promise.all(deployed.map(async (d) => {
      const started = performance.now();
      const res = await api<TestConnectionResponse>("POST", `/connections/${d.connectionId}/test`, {
        token: user.token,
      });
      return { d, res, ms: performance.now() - started };
    }));
    for (const { d, res, ms } of results) {
      const { fault } = d;
      await t.step(
        `${fault.name} → ${fault.expect?.class ?? "success"} in ${Math.round(ms)} ms`,
        async () => {
          assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
          const { result, connection } = res.body;
          if (fault.expect === null) {
            assert.equal(result.success, true);
            assert.ok(result.attempts >= 2, "the first failure was retried");
            assert.equal(connection.connectionStatus, "connected");
          } else {
            assert.equal(result.success, false);
            assert.equal(result.error?.class, fault.expect.class, result.error?.message);
            assert.equal(result.error?.httpStatus, fault.expect.httpStatus);
            assert.equal(connection.connectionStatus, "error");
          }
          // Within the timeout by the probe's own clock (from its start to its end), not the
          // call's, which also counts queueing on a busy machine.
          assert.ok(
            result.durationMs < fault.config.timeout + OVERHEAD_MS,
            `the probe took ${result.durationMs} ms (the call ${Math.round(ms)} ms)`,
          );
          if (fault.minMs) assert.ok(ms >= fault.minMs, `${Math.round(ms)} ms`);
          const [row] = await sql`
          select connection_status, connection_test_result from agent_mcp_connections
          where id = ${d.connectionId}
        `;
          assert.notEqual(row!.connection_status, "testing");
          assert.deepEqual(row!.connection_test_result, result);
        },
      );
    }
    await t.step("the blocked addresses were never contacted, the redirectors were", () => {
      for (const d of deployed.filter((x) => x.fault.kind === "redirect")) {
        assert.ok(d.server.connections() >= 1);
      }
    });
  } finally {
    await closeAll(deployed);
  }
});

Deno.test("the health check classifies every MCP fault, each within its own timeout", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "faults-health" });
  const deployed = await deploy(sql, user, "Fault (health)");
  try {
    const started = performance.now();
    const res = await call<HealthCheckSummary>(`${stack.url}/functions/v1/mcp-health-check`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.serviceRoleKey}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ serverIds: deployed.map((d) => d.serverId), budgetMs: 30_000 }),
    });
    const ms = performance.now() - started;
    const slowest = Math.max(...CASES.map((c) => c.config.timeout));

    await t.step(`one run probes all ${CASES.length} servers in ${Math.round(ms)} ms`, () => {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const summary = res.body;
      assert.equal(summary.probed, CASES.length);
      assert.equal(summary.skipped, 0);
      assert.equal(summary.healthy, CASES.filter((c) => c.expect === null).length);
      assert.equal(summary.unhealthy, CASES.filter((c) => c.expect !== null).length);
      // Concurrent probes: the run costs about the slowest timeout, not their sum.
      assert.ok(ms < slowest + OVERHEAD_MS * 2, `${Math.round(ms)} ms`);
    });

    const checks = await sql<
      {
        mcp_server_instance_id: string;
        success: boolean;
        error_class: string | null;
        http_status: number | null;
      }[]
    >`
      select mcp_server_instance_id, success, error_class, http_status from mcp_health_checks
      where run_id = ${res.body.runId}
    `;
    for (const d of deployed) {
      await t.step(`${d.fault.name} → ${d.fault.expect?.class ?? "success"}`, async () => {
        const check = checks.find((c) => c.mcp_server_instance_id === d.serverId);
        assert.ok(check, "one history row for the server");
        assert.equal(check.success, d.fault.expect === null);
        assert.equal(check.error_class, d.fault.expect?.class ?? null);
        assert.equal(check.http_status, d.fault.expect?.httpStatus ?? null);
        const [row] = await sql`
          select c.connection_status, c.connection_test_result, h.consecutive_failures, h.last_error_class
          from agent_mcp_connections as c
          join agent_mcp_connection_health as h on h.connection_id = c.id
          where c.id = ${d.connectionId}
        `;
        assert.equal(row!.consecutive_failures, d.fault.expect === null ? 0 : 1);
        assert.equal(row!.last_error_class, d.fault.expect?.class ?? null);
        assert.equal(row!.connection_test_result.error?.class, d.fault.expect?.class);
        // One failure is below the threshold (3): the status waits; a success connects.
        assert.equal(
          row!.connection_status,
          d.fault.expect === null ? "connected" : "disconnected",
        );
      });
    }
  } finally {
    await closeAll(deployed);
  }
});
