import assert from "node:assert/strict";
import { scheduleHealthChecks } from "../../../scripts/stack/health_check_scheduler.ts";

Deno.test("scheduleHealthChecks() makes the scheduled call on each interval until stopped", async () => {
  const calls: { method: string; path: string; authorization: string | null; body: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      calls.push({
        method: request.method,
        path: new URL(request.url).pathname,
        authorization: request.headers.get("authorization"),
        body: await request.text(),
      });
      return Response.json({ runId: null });
    },
  );
  const reports: string[] = [];
  const { promise: twoReports, resolve } = Promise.withResolvers<void>();
  const scheduler = scheduleHealthChecks({
    url: `http://127.0.0.1:${server.addr.port}`,
    serviceRoleKey: "service-key",
    intervalSeconds: 0.05,
    report: (line) => {
      reports.push(line);
      if (reports.length === 2) resolve();
    },
  });
  try {
    await twoReports;
  } finally {
    await scheduler.stop();
    await server.shutdown();
  }
  const made = calls.length;
  assert.ok(made >= 2);
  assert.equal(reports.length, made, "every call made was reported before stop() resolved");
  assert.deepEqual(calls[0], {
    method: "POST",
    path: "/functions/v1/mcp-health-check",
    authorization: "Bearer service-key",
    body: "{}",
  });
  assert.match(reports[0]!, /^health check: 200 /);
});
