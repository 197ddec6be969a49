/**
 * One MCP server per failure class, end to end through `POST /connections/:id/test` and the
 * scheduled health check (both via the gateway, on the real stack): refused, timeout,
 * http_status, auth, protocol, invalid_response and blocked. Each comes back as its class within
 * the connection's timeout; the API answers 200 with `result.success: false`, never 5xx, stores
 * what it returns, and the connection ends `error`, never `testing`; the health check writes the
 * class to the history and the connection's health.
 *
 * Which fault gives which class (reset, hangs on either transport, garbage, huge bodies, rate
 * limits, retries, every kind of refused redirect) is the probe's concern, tested in
 * tests/shared/mcp/ (probe_faults_test.ts, probe_guard_test.ts, server_inspection_test.ts).
 * Here the stack's functions may reach loopback (MCP_PROBE_ALLOWED_NETWORKS=127.0.0.0/8,::1/128):
 * the redirector on 127.0.0.1 is asked, and the hop to 169.254.169.254 is refused before
 * anything is sent there (`blocked`), by the policy the function reads from its environment.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { HealthCheckSummary } from "../../shared/schemas/health_check.ts";
import type { TestConnectionResponse } from "../../shared/schemas/responses.ts";
import { PROBE_ERROR_CLASSES, type ProbeErrorClass } from "../../shared/schemas/test_result.ts";
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

/**
 * Slack for what is not the probe's deadline, on the probe's own clock: a correctness bound
 * (the probe ended by its timeout), not a benchmark.
 */
const OVERHEAD_MS = 2_500;

interface FaultCase {
  kind: FaultKind;
  options?: FaultOptions;
  config: { timeout: number; retryAttempts: number };
  expect: { class: ProbeErrorClass; httpStatus?: number };
  /** The probe ran into its deadline: it took at least the timeout. */
  hitsDeadline?: boolean;
}

const quick = { timeout: 3_000, retryAttempts: 0 };
const CASES: FaultCase[] = [
  { kind: "refused", config: quick, expect: { class: "refused" } },
  {
    kind: "hang",
    config: { timeout: 1_000, retryAttempts: 2 },
    expect: { class: "timeout" },
    hitsDeadline: true,
  },
  { kind: "http-500", config: quick, expect: { class: "http_status", httpStatus: 500 } },
  { kind: "http-401", config: quick, expect: { class: "auth", httpStatus: 401 } },
  { kind: "not-mcp", config: quick, expect: { class: "protocol" } },
  { kind: "invalid-result", config: quick, expect: { class: "invalid_response" } },
  {
    kind: "redirect",
    options: { location: "http://169.254.169.254/latest/meta-data/" },
    config: quick,
    expect: { class: "blocked" },
  },
];

/** The classes no local server can give: a name that does not resolve, a TLS failure. */
const NOT_HERE: readonly ProbeErrorClass[] = ["dns", "tls"];

Deno.test("the fault cases cover every failure class that a local server can give", () => {
  assert.deepEqual(
    CASES.map((c) => c.expect.class).sort(),
    PROBE_ERROR_CLASSES.filter((c) => !NOT_HERE.includes(c)).sort(),
  );
});

const label = (fault: FaultCase) => `${fault.kind} → ${fault.expect.class}`;

interface Deployed {
  fault: FaultCase;
  server: FaultServer;
  serverId: string;
  connectionId: string;
}

/** Starts one fault server per case, registers it, and connects the user's agent to it. */
async function deploy(sql: postgres.Sql, user: TestUser, prefix: string): Promise<Deployed[]> {
  return await Promise.all(CASES.map(async (fault) => {
    const server = await startFaultServer(fault.kind, fault.options);
    const serverId = await createServer(sql, server.url, `${prefix}: ${label(fault)}`);
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

Deno.test("POST /connections/:id/test answers each failure class within the timeout", async (t) => {
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
      await t.step(label(fault), async () => {
        assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
        const { result, connection } = res.body;
        assert.equal(result.success, false);
        assert.equal(result.error?.class, fault.expect.class, result.error?.message);
        assert.equal(result.error?.httpStatus, fault.expect.httpStatus);
        assert.equal(result.latency, null);
        assert.equal(connection.connectionStatus, "error");
        assert.deepEqual(connection.connectionTestResult, result);
        // Within the timeout by the probe's own clock (from its start to its end), not the
        // call's, which also counts queueing on a busy machine.
        assert.ok(
          result.durationMs < fault.config.timeout + OVERHEAD_MS,
          `the probe took ${result.durationMs} ms (the call ${Math.round(ms)} ms)`,
        );
        if (fault.hitsDeadline) {
          assert.ok(result.durationMs >= fault.config.timeout - 50, `${result.durationMs} ms`);
          assert.ok(ms >= fault.config.timeout - 50, `the call took ${Math.round(ms)} ms`);
        }
        const [row] = await sql`
          select connection_status, connection_test_result from agent_mcp_connections
          where id = ${d.connectionId}
        `;
        assert.equal(row!.connection_status, "error", "never left testing");
        assert.deepEqual(row!.connection_test_result, result);
      });
    }
    await t.step("the redirector was asked; the metadata service never is", () => {
      for (const d of deployed.filter((x) => x.fault.kind === "redirect")) {
        assert.ok(d.server.connections() >= 1);
      }
    });
  } finally {
    await closeAll(deployed);
  }
});

Deno.test("the health check records each failure class, each probe within its own timeout", async (t) => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "faults-health" });
  const deployed = await deploy(sql, user, "Fault (health)");
  try {
    const res = await call<HealthCheckSummary>(`${stack.url}/functions/v1/mcp-health-check`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.serviceRoleKey}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ serverIds: deployed.map((d) => d.serverId), budgetMs: 30_000 }),
    });

    await t.step(`one run probes all ${CASES.length} servers`, () => {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const summary = res.body;
      assert.equal(summary.probed, CASES.length);
      assert.equal(summary.skipped, 0);
      assert.equal(summary.healthy, 0);
      assert.equal(summary.unhealthy, CASES.length);
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
      await t.step(label(d.fault), async () => {
        const check = checks.find((c) => c.mcp_server_instance_id === d.serverId);
        assert.ok(check, "one history row for the server");
        assert.equal(check.success, false);
        assert.equal(check.error_class, d.fault.expect.class);
        assert.equal(check.http_status, d.fault.expect.httpStatus ?? null);
        const [row] = await sql`
          select c.connection_status, c.connection_test_result, h.consecutive_failures, h.last_error_class
          from agent_mcp_connections as c
          join agent_mcp_connection_health as h on h.connection_id = c.id
          where c.id = ${d.connectionId}
        `;
        assert.equal(row!.consecutive_failures, 1);
        assert.equal(row!.last_error_class, d.fault.expect.class);
        assert.equal(row!.connection_test_result.error?.class, d.fault.expect.class);
        assert.ok(
          row!.connection_test_result.durationMs < d.fault.config.timeout + OVERHEAD_MS,
          `the probe took ${row!.connection_test_result.durationMs} ms`,
        );
        // One failure is below the threshold (3): the status waits.
        assert.equal(row!.connection_status, "disconnected");
      });
    }
  } finally {
    await closeAll(deployed);
  }
});
