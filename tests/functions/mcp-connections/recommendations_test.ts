/**
 * GET /agents/:agentId/recommendations through the gateway and the database: who may ask,
 * what the answer looks like, what is left out, and bad input. The privacy proofs (the
 * k-threshold and the one-user difference) are in supabase/tests/database/13-recommendations.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import type { ErrorBody } from "../../../shared/schemas/responses.ts";
import { RecommendationList } from "../../../shared/schemas/recommendations.ts";
import {
  createMcpConnectionsClient,
  McpConnectionsApiError,
} from "../../../shared/client/mcp_connections_client.ts";
import {
  api,
  createServer,
  createUser,
  openDb,
  stack,
  type TestUser,
} from "../../_support/stack.ts";

const UNUSED_URL = "http://127.0.0.1:9/mcp";

/** Connects agents to servers as the platform would (directly, as the superuser). */
async function connect(
  sql: postgres.Sql,
  user: TestUser,
  serverId: string,
  status = "connected",
): Promise<void> {
  await sql`
    insert into public.agent_mcp_connections
        (agent_id, mcp_server_instance_id, created_by, connection_status)
    values (${user.agentId}, ${serverId}, ${user.id}, ${status})`;
}

async function refresh(sql: postgres.Sql): Promise<void> {
  await sql`select public.refresh_agent_mcp_recommendations()`;
}

function recommendations(user: TestUser, agentId: string, query = "") {
  return api<RecommendationList & ErrorBody>(
    "GET",
    `/agents/${agentId}/recommendations${query}`,
    { token: user.token },
  );
}

Deno.test("GET /agents/:agentId/recommendations", async (t) => {
  await using sql = openDb();
  const tag = crypto.randomUUID().slice(0, 8);
  const anchor = await createServer(sql, UNUSED_URL, `Anchor ${tag}`);
  const partner = await createServer(sql, UNUSED_URL, `Partner ${tag}`);
  const stopped = await createServer(sql, UNUSED_URL, `Stopped ${tag}`);
  const broken = await createServer(sql, UNUSED_URL, `Broken ${tag}`);
  // Six users use the anchor with the partner, the stopped and the broken server (the
  // stopped one stopped after they connected: a stopped server takes no new connection).
  const crowd: TestUser[] = [];
  for (let i = 0; i < 6; i++) {
    const user = await createUser(sql, { label: `rec-crowd-${i}` });
    await connect(sql, user, anchor);
    await connect(sql, user, partner);
    await connect(sql, user, stopped);
    await connect(sql, user, broken, "error");
    crowd.push(user);
  }
  await sql`update public.account_tool_instances set status_on_toolbox = 'stopped'
            where id = ${stopped}`;
  const caller = await createUser(sql, { label: "rec-caller" });
  await connect(sql, caller, anchor);
  await refresh(sql);

  await t.step("answers the ranked servers with score and reason", async () => {
    const res = await recommendations(caller, caller.agentId, "?limit=50");
    assert.equal(res.status, 200);
    const body = RecommendationList.parse(res.body);
    const first = body.items[0];
    assert.ok(first, "at least one recommendation");
    assert.equal(first.mcpServerInstanceId, partner);
    assert.equal(first.name, `Partner ${tag}`);
    assert.equal(first.reason, `used with Anchor ${tag} by 5+ users, healthy`);
    assert.ok(first.score > 0);
    const scores = body.items.map((item) => item.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), "best first");
  });

  await t.step("leaves out the agent's servers, stopped and failing servers", async () => {
    const res = await recommendations(caller, caller.agentId, "?limit=50");
    assert.equal(res.status, 200);
    const ids = res.body.items.map((item) => item.mcpServerInstanceId);
    assert.ok(!ids.includes(anchor), "already connected");
    assert.ok(!ids.includes(stopped), "not running");
    assert.ok(!ids.includes(broken), "failing its checks");
  });

  await t.step("limit defaults to 5 and is honoured", async () => {
    const byDefault = await recommendations(caller, caller.agentId);
    assert.equal(byDefault.status, 200);
    assert.ok(byDefault.body.items.length <= 5);
    const one = await recommendations(caller, caller.agentId, "?limit=1");
    assert.equal(one.status, 200);
    assert.equal(one.body.items.length, 1);
  });

  await t.step("404 agent_not_found for another user's agent, as for a missing one", async () => {
    const others = await recommendations(caller, crowd[0]!.agentId);
    const missing = await recommendations(caller, crypto.randomUUID());
    assert.equal(others.status, 404);
    assert.equal(missing.status, 404);
    assert.equal(others.body.error.code, "agent_not_found");
    assert.equal(missing.body.error.code, "agent_not_found");
    assert.equal(others.body.error.message, `Agent ${crowd[0]!.agentId} was not found.`);
  });

  await t.step("400 invalid_request for a bad limit, agent id or parameter", async () => {
    for (
      const query of [
        "?limit=0",
        "?limit=51",
        "?limit=2.5",
        "?limit=abc",
        "?limit=",
        "?limt=5",
      ]
    ) {
      const res = await recommendations(caller, caller.agentId, query);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, "invalid_request", query);
    }
    const badId = await recommendations(caller, "not-a-uuid");
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.code, "invalid_request");
  });

  await t.step(
    "the typed client's recommendations() parses the answer and the errors",
    async () => {
      const client = createMcpConnectionsClient({
        supabaseUrl: stack.url,
        accessToken: () => caller.token,
      });
      const { items } = await client.recommendations(caller.agentId, { limit: 1 });
      assert.equal(items.length, 1);
      assert.equal(items[0]!.mcpServerInstanceId, partner);
      await assert.rejects(
        client.recommendations(crowd[1]!.agentId),
        (error: unknown) =>
          error instanceof McpConnectionsApiError && error.status === 404 &&
          error.code === "agent_not_found",
      );
      await assert.rejects(
        client.recommendations(caller.agentId, { limit: 0 }),
        (error: unknown) =>
          error instanceof McpConnectionsApiError && error.status === 400 &&
          error.code === "invalid_request",
      );
    },
  );

  await t.step("401 without a token", async () => {
    const res = await api<ErrorBody>("GET", `/agents/${caller.agentId}/recommendations`);
    assert.equal(res.status, 401);
  });
});
