/**
 * A database outage under load, on a private stack: PostgreSQL is stopped while clients
 * read, record usage and run the health check through the gateway. Every request ends
 * quickly: 200 before the stop, 503 `database_unavailable` in the API's error shape while
 * the database is down (no 500, no hang), and 200 again once it is back, without
 * restarting anything. Usage recorded is exactly what was answered 200: nothing lost,
 * nothing written twice.
 *
 * Two outages: a fast shutdown (sessions ended with an error) and an immediate one (as
 * in a crash: connections drop mid-query). Reported: the latency of the 503s, and the
 * recovery time (from startDatabase() resolving to the first 200).
 * `RELIABILITY_SOAK=1` keeps the database down 20 s each time instead of 3 s.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { RunningStack } from "../../scripts/stack/stack.ts";
import { startThrowawayStack } from "../../scripts/stack/throwaway_stack.ts";
import { assertErrorShape, readBody, scaled } from "../_support/reliability.ts";
import { createServer, createUser, stack as sharedStack } from "../_support/stack.ts";

const CLIENTS = 9;
const DOWN_MS = scaled(3_000, 20_000);
/** Requests answered after the first 200 that follows a restart, before the next step. */
const RECOVERED_SAMPLES = 50;
/** A request that takes longer than this is a hang. */
const HANG_MS = 5_000;

interface Sample {
  kind: string;
  started: number;
  ms: number;
  status: number;
  code: string | null;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function withPrivateStack(run: (stack: RunningStack) => Promise<void>): Promise<void> {
  const stack = await startThrowawayStack("outage-stack-", {
    // As on Supabase: a commit is on disk (here: in the OS) before it is acknowledged, so
    // a crash loses no write that was answered 200. (Throw-away stacks turn it off.)
    postgresSettings: ["synchronous_commit=on"],
  });
  try {
    await run(stack);
  } finally {
    await stack.stop();
  }
}

Deno.test("a database outage under load: quick 503s, then recovery without a restart", async (t) => {
  await withPrivateStack(async (stack) => {
    const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
    const owner = await createUser(sql, { label: "outage" });
    const serverId = await createServer(sql, "http://127.0.0.1:9/mcp", "Outage server");
    const [connection] = await sql`
      insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
      values (${owner.agentId}, ${serverId}, ${owner.id}) returning id
    `;
    await sql.end();
    // The private stack signs with the same local secret as the shared test stack.
    assert.equal(stack.keys.jwtSecret, sharedStack.jwtSecret);
    const token = owner.token;
    const api = `${stack.url}/functions/v1/mcp-connections`;
    const user = { authorization: `Bearer ${token}` };
    const json = { "content-type": "application/json" };
    const requests: Record<string, () => Promise<Response>> = {
      list: () =>
        fetch(`${api}/connections`, { headers: user, signal: AbortSignal.timeout(30_000) }),
      read: () =>
        fetch(`${api}/connections/${connection!.id}`, {
          headers: user,
          signal: AbortSignal.timeout(30_000),
        }),
      stats: () => fetch(`${api}/stats`, { headers: user, signal: AbortSignal.timeout(30_000) }),
      usage: () =>
        fetch(`${api}/connections/${connection!.id}/usage`, {
          method: "POST",
          headers: { ...user, ...json },
          body: JSON.stringify({ success: true, responseTimeMs: 1, bytesTransferred: 1 }),
          signal: AbortSignal.timeout(30_000),
        }),
      healthCheck: () =>
        fetch(`${stack.url}/functions/v1/mcp-health-check`, {
          method: "POST",
          headers: { authorization: `Bearer ${stack.keys.serviceRoleKey}`, ...json },
          body: JSON.stringify({ serverIds: [serverId], dryRun: true }),
          signal: AbortSignal.timeout(30_000),
        }),
    };
    const kinds = Object.keys(requests);

    const t0 = performance.now();
    const samples: Sample[] = [];
    let running = true;
    const client = async (index: number) => {
      for (let i = 0; running; i++) {
        const kind = kinds[(index + i) % kinds.length]!;
        const started = performance.now() - t0;
        let status = 0;
        let code: string | null = null;
        try {
          const response = await requests[kind]!();
          status = response.status;
          const body = await readBody(response);
          if (status !== 200) code = assertErrorShape(status, body, `${kind} ${status}`);
        } catch (error) {
          code = error instanceof Error ? error.name : String(error);
        }
        samples.push({ kind, started, ms: performance.now() - t0 - started, status, code });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    // Every window is bounded by completed events, never by when a call was made: the
    // database is down from when stopDatabase() resolved (pg_ctl stop --wait returned) until
    // startDatabase() is called, and up again once startDatabase() resolved.
    const outages: {
      mode: "fast" | "immediate";
      /** stopDatabase() called: requests around it may still be answered 200. */
      stopAt: number;
      /** stopDatabase() resolved: the server has exited. */
      stoppedAt: number;
      /** When startDatabase() was called: the database may answer before it resolves. */
      startAt: number;
      /** startDatabase() resolved: the server accepts connections. */
      startedAt: number;
    }[] = [];
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    /** Waits until `found()` has a value (checked as requests complete); fails after a minute. */
    const completed = async <T>(what: string, found: () => T | undefined): Promise<T> => {
      for (let waited = 0; waited < 60_000; waited += 20) {
        const value = found();
        if (value !== undefined) return value;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      running = false;
      await load;
      throw new Error(`never saw ${what}`);
    };
    // fast: PostgreSQL ends the sessions with an error; immediate: they just drop (a crash).
    for (const mode of ["fast", "immediate"] as const) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const stopAt = performance.now() - t0;
      await stack.stopDatabase(mode);
      const stoppedAt = performance.now() - t0;
      await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
      const startAt = performance.now() - t0;
      await stack.startDatabase();
      const startedAt = performance.now() - t0;
      outages.push({ mode, stopAt, stoppedAt, startAt, startedAt });
      // Back up means answered: wait for the first 200 of a request started after the restart,
      // then for RECOVERED_SAMPLES more requests started after it, whatever the machine's load.
      const firstOkAt = await completed(
        "a 200 after the restart",
        () =>
          samples.filter((s) => s.status === 200 && s.started >= startedAt)
            .map((s) => s.started + s.ms).sort((a, b) => a - b)[0],
      );
      await completed(
        `${RECOVERED_SAMPLES} requests after the recovery`,
        () =>
          samples.filter((s) => s.started >= firstOkAt).length >= RECOVERED_SAMPLES
            ? true
            : undefined,
      );
    }
    running = false;
    await load;

    const statuses = new Map<string, number>();
    for (const s of samples) {
      const key = `${s.status} ${s.code ?? ""}`.trim();
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }

    await t.step("every answer is a 200 or a 503 database_unavailable in the error shape", () => {
      const other = samples.filter((s) =>
        !(s.status === 200 || (s.status === 503 && s.code === "database_unavailable"))
      );
      assert.deepEqual(other, [], JSON.stringify(Object.fromEntries(statuses)));
    });

    const unavailable = samples.filter((s) => s.status === 503).map((s) => s.ms);
    await t.step("no request hangs; the 503s come at once", () => {
      assert.ok(unavailable.length > 0, "the outage was seen");
      const slowest = Math.max(...samples.map((s) => s.ms));
      assert.ok(slowest < HANG_MS, `the slowest request took ${Math.round(slowest)} ms`);
      assert.ok(
        percentile(unavailable, 95) < 1_000,
        `p95 of the 503s: ${percentile(unavailable, 95)} ms`,
      );
    });

    const recoveries: number[] = [];
    await t.step("requests succeed again after the database starts, without a restart", () => {
      for (const [i, outage] of outages.entries()) {
        const nextStop = outages[i + 1]?.stopAt ?? Infinity;
        // Started after the server had exited and answered before it was started again.
        const answeredDuring = samples.filter((s) =>
          s.started >= outage.stoppedAt && s.started + s.ms <= outage.startAt
        );
        assert.ok(answeredDuring.length > 0, `requests ran during the ${outage.mode} outage`);
        assert.deepEqual(
          answeredDuring.filter((s) => s.status !== 503),
          [],
          `down means 503 (${outage.mode} stop called at ${outage.stopAt} ms, done at ` +
            `${outage.stoppedAt} ms; start called at ${outage.startAt} ms)`,
        );
        const firstOk = samples
          .filter((s) => s.status === 200 && s.started >= outage.startedAt)
          .map((s) => s.started + s.ms)
          .sort((a, b) => a - b)[0];
        assert.ok(firstOk !== undefined, "a request succeeded after the restart");
        recoveries.push(firstOk - outage.startedAt);
        // Once one request has come back 200, every request started after it does too.
        const settled = samples.filter((s) => s.started >= firstOk && s.started + s.ms < nextStop);
        assert.ok(settled.length > 0, "requests ran after the recovery");
        assert.deepEqual(settled.filter((s) => s.status !== 200), [], "and all after are 200");
      }
      assert.ok(Math.max(...recoveries) < 5_000, `recovered in ${recoveries.join(", ")} ms`);
    });

    await t.step("usage recorded is exactly what was answered 200", async () => {
      const db = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
      try {
        const [row] = await db`select usage_stats from agent_mcp_connections where id = ${
          connection!.id
        }`;
        const recorded = samples.filter((s) => s.kind === "usage" && s.status === 200).length;
        assert.equal(row!.usage_stats.totalRequests, recorded);
      } finally {
        await db.end();
      }
    });

    // deno-lint-ignore no-console
    console.log(
      `database outage: ${samples.length} requests from ${CLIENTS} clients, ` +
        `${JSON.stringify(Object.fromEntries(statuses))}; 503 latency p50 ${
          Math.round(percentile(unavailable, 50))
        } ms, p95 ${Math.round(percentile(unavailable, 95))} ms, max ${
          Math.round(Math.max(...unavailable))
        } ms; recovery after startDatabase(): ${
          recoveries.map((r) => `${Math.round(r)} ms`).join(", ")
        } (${outages.map((o) => o.mode).join(", ")} shutdown, ${DOWN_MS} ms down)`,
    );
  });
});
