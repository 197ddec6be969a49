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
  const scheduler = scheduleHealthChecks({
    url: `http://127.0.0.1:${server.addr.port}`,
    serviceRoleKey: "service-key",
    intervalSeconds: 0.05,
    report: (line) => reports.push(line),
  });
  try {
    while (reports.length < 2) await new Promise((r) => setTimeout(r, 20));
  } finally {
    scheduler.stop();
    await new Promise((r) => setTimeout(r, 100));
    await server.shutdown();
  }
  assert.ok(calls.length >= 2);
  assert.deepEqual(calls[0], {
    method: "POST",
    path: "/functions/v1/mcp-health-check",
    authorization: "Bearer service-key",
    body: "{}",
  });
  assert.match(reports[0]!, /^health check: 200 /);
});
