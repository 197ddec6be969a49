/**
 * The health check's HTTP surface through the gateway: its own OpenAPI document, and the
 * request pipeline it shares with mcp-connections (the caller checked first, then the body
 * validated against the documented schema, every refusal in the shared error shape).
 */
import assert from "node:assert/strict";
import { HealthCheckSummary } from "../../../shared/schemas/health_check.ts";
import { validOpenApiRoutes } from "../../_support/openapi.ts";
import { assertErrorShape } from "../../_support/reliability.ts";
import { call, createServer, openDb, stack } from "../../_support/stack.ts";

const ENDPOINT = `${stack.url}/functions/v1/mcp-health-check`;

Deno.test("GET /mcp-health-check/openapi.json is a valid OpenAPI 3.1 document of its route", async () => {
  // verify_jwt is off for this function (it checks its callers itself): no credentials needed.
  const res = await call<Record<string, unknown>>(`${ENDPOINT}/openapi.json`);
  assert.equal(res.status, 200);
  assert.deepEqual(await validOpenApiRoutes(res.body), ["POST /mcp-health-check"]);
  const doc = res.body as {
    paths: Record<string, { post: Record<string, unknown> }>;
    components: { securitySchemes: Record<string, unknown> };
  };
  const post = doc.paths["/mcp-health-check"]!.post as {
    requestBody: { content: { "application/json": { schema: { $ref: string } } } };
    responses: Record<string, { content: { "application/json": { schema: { $ref: string } } } }>;
  };
  assert.equal(
    post.requestBody.content["application/json"].schema.$ref,
    "#/components/schemas/HealthCheckRequest",
  );
  assert.equal(
    post.responses["200"]!.content["application/json"].schema.$ref,
    "#/components/schemas/HealthCheckSummary",
  );
  assert.deepEqual(
    Object.keys(post.responses).sort(),
    ["200", "400", "401", "403", "404", "409", "413", "415", "503", "504"],
  );
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), [
    "cronSecret",
    "secretKey",
    "serviceKey",
  ]);
});

Deno.test("POST /mcp-health-check validates like every route of the API", async (t) => {
  await using sql = openDb();
  const serverId = await createServer(sql, "http://127.0.0.1:9/mcp", "Pipeline server");
  const post = (body: string, headers: Record<string, string>) =>
    call(ENDPOINT, { method: "POST", headers, body });
  const service = { authorization: `Bearer ${stack.serviceRoleKey}` };
  const json = { ...service, "content-type": "application/json" };

  await t.step(
    "the caller is checked before the body: no credentials and a bad body → 401",
    async () => {
      const res = await post("{", { "content-type": "application/json" });
      assert.equal(assertErrorShape(res.status, res.body), "missing_authorization");
    },
  );
  await t.step("malformed JSON → 400 invalid_json", async () => {
    const res = await post("{", json);
    assert.equal(assertErrorShape(res.status, res.body), "invalid_json");
  });
  await t.step("another media type → 415 unsupported_media_type", async () => {
    const res = await post("{}", { ...service, "content-type": "text/plain" });
    assert.equal(assertErrorShape(res.status, res.body), "unsupported_media_type");
  });
  await t.step("an unknown field → 400 invalid_request naming it", async () => {
    const res = await post(JSON.stringify({ serverIds: [serverId], dryRun: true, nope: 1 }), json);
    assert.equal(assertErrorShape(res.status, res.body), "invalid_request");
    assert.match(JSON.stringify(res.body), /nope/);
  });
  await t.step("a valid body → 200 with the documented summary", async () => {
    const res = await post(JSON.stringify({ serverIds: [serverId], dryRun: true }), json);
    assert.equal(res.status, 200);
    const summary = HealthCheckSummary.strict().parse(res.body);
    assert.equal(summary.dryRun, true);
    assert.equal(summary.targets, 0);
  });
  await t.step("an unknown path → 404 route_not_found", async () => {
    const res = await call(`${ENDPOINT}/nope`, { headers: service });
    assert.equal(assertErrorShape(res.status, res.body), "route_not_found");
  });
});
