/** The typed client and supabase-js, as a web app uses them, against the local stack. */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import {
  createMcpConnectionsClient,
  McpConnectionsApiError,
} from "../../../shared/client/mcp_connections_client.ts";
import { createServer, createUser, openDb, stack } from "../../_support/stack.ts";

Deno.test("the typed client walks a connection through its life", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "client" });
  assert.ok(stack.demoMcpUrl, "the test stack runs the demo MCP server");
  const serverId = await createServer(sql, stack.demoMcpUrl, "Demo for the client");
  const client = createMcpConnectionsClient({
    supabaseUrl: stack.url,
    accessToken: () => user.token,
  });

  const connection = await client.connect({
    agentId: user.agentId,
    mcpServerInstanceId: serverId,
    config: { timeout: 5000 },
  });
  assert.equal(connection.connectionStatus, "disconnected");

  const { result, connection: tested } = await client.test(connection.id);
  assert.equal(result.success, true);
  assert.deepEqual(result.tools, ["echo", "current_time"]);
  assert.equal(tested.connectionStatus, "connected");

  const { usageStats } = await client.recordUsage(connection.id, {
    events: [{ success: true, responseTimeMs: 12, bytesTransferred: 100 }],
  });
  assert.equal(usageStats.totalRequests, 1);

  const updated = await client.updateConfig(connection.id, {
    config: { timeout: 6000, retryAttempts: 0 },
  });
  assert.deepEqual(updated.connectionConfig, { timeout: 6000, retryAttempts: 0 });

  const page = await client.list({ agentId: user.agentId, limit: 10 });
  assert.deepEqual(page.items.map((c) => c.id), [connection.id]);
  assert.equal((await client.get(connection.id)).id, connection.id);
  assert.equal((await client.stats()).activeConnections, 1);

  const disconnected = await client.disconnect(connection.id);
  assert.equal(disconnected.isActive, false);

  await assert.rejects(
    client.connect({ agentId: crypto.randomUUID(), mcpServerInstanceId: serverId }),
    (error: unknown) =>
      error instanceof McpConnectionsApiError && error.status === 404 &&
      error.code === "agent_not_found",
  );
  await assert.rejects(
    client.adminStats(),
    (error: unknown) => error instanceof McpConnectionsApiError && error.status === 403,
  );
});

Deno.test("supabase-js reaches the function with functions.invoke and the tables under RLS", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "supabase-js" });
  const serverId = await createServer(sql, stack.demoMcpUrl, "Demo for supabase-js");
  const supabase = createClient(stack.url, stack.anonKey, {
    global: { headers: { Authorization: `Bearer ${user.token}` } },
    auth: { persistSession: false },
  });

  const { data: created, error } = await supabase.functions.invoke("mcp-connections/connections", {
    method: "POST",
    body: { agentId: user.agentId, mcpServerInstanceId: serverId },
  });
  assert.equal(error, null);
  assert.equal(created.agentId, user.agentId);

  const { data: listed } = await supabase.functions.invoke("mcp-connections/connections", {
    method: "GET",
  });
  assert.deepEqual(listed.items.map((c: { id: string }) => c.id), [created.id]);

  const { data: rows } = await supabase.from("agent_mcp_connections").select("id, agent_id");
  assert.deepEqual(rows, [{ id: created.id, agent_id: user.agentId }]);
});
