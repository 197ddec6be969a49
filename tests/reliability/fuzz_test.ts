/**
 * Fuzzed bad input: fast-check generates at least 1,000 bad requests for every route of
 * mcp-connections (DESIGN §5, the admin routes included) and for the health check's body
 * options: malformed JSON, wrong types, huge numbers, deep nesting, unknown fields,
 * oversized bodies and header values, bad UUIDs, unicode, wrong content types and
 * methods. Every one is answered 4xx with `{"error": {"code", "message"}}` (never a 5xx),
 * and the database is byte for byte what it was (a checksum of every table).
 *
 * Every generated request is bad by construction, aimed at real rows of a real user, so
 * a validation gap would show as a write. They run in concurrent batches, in-process
 * (`app.request()` against the real stack), and a few hundred through the gateway.
 * `RELIABILITY_SOAK=1` runs ten times as many; `FUZZ_SEED` replays a run.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { DbClient } from "../../shared/db/db_client.ts";
import { createLogger } from "../../shared/log/logger.ts";
import { createHealthCheckApp } from "../../functions/mcp-health-check/app.ts";
import { createJwtVerifier } from "../../shared/auth/jwt_verifier.ts";
import {
  assertErrorShape,
  inProcessConnectionsApp,
  readBody,
  scaled,
  tablesChecksum,
} from "../_support/reliability.ts";
import { createServer, createUser, openDb, stack, type TestUser } from "../_support/stack.ts";

/** Requests per property run; runs per route. */
const BATCH = 50;
const RUNS = scaled(21, 210);
/** Of each route's cases, how many also go through the real gateway. */
const GATEWAY_CASES = scaled(30, 300);
const SEED = Deno.env.get("FUZZ_SEED") ? Number(Deno.env.get("FUZZ_SEED")) : undefined;

interface FuzzRequest {
  method: string;
  /** Below the function's base path, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

// =============================================================================
// Building blocks
// =============================================================================

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Text with non-ASCII: every plane, combining marks, RTL, zero-width and NUL. */
const unicode = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).map((s) => `${s}é`),
  fc.constantFrom(
    "😀",
    "\u202Eevil",
    "a\u200Bb",
    "\u0000",
    "ｆｆｆｆ",
    "Ω≈ç√",
    "\ud800",
    "x\udfff",
    "\u2028",
  ),
);

/** Anything but a canonical UUID (path segments must survive encodeURIComponent). */
const badUuid = fc.oneof(
  fc.string({ minLength: 1, maxLength: 60 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  fc.uuid().map((u) => u.slice(0, -1)),
  fc.uuid().map((u) => `${u}0`),
  fc.uuid().map((u) => `{${u}}`),
  fc.uuid().map((u) => u.replaceAll("-", "")),
  fc.uuid().map((u) => `g${u.slice(1)}`),
  fc.uuid().map((u) => ` ${u}`),
  fc.uuid().map((u) => `${u}\n`),
  fc.constantFrom("null", "undefined", "0", "-1", "' or 1=1 --", "..%2F..%2Fetc", "%00", "😀"),
  fc.string({ minLength: 300, maxLength: 3000 }),
).filter((s) => !GUID.test(s) && !isLoneSurrogate(s));

function isLoneSurrogate(text: string): boolean {
  try {
    encodeURIComponent(text);
    return false;
  } catch {
    return true;
  }
}

/** Number literals as JSON text that no bounded field accepts. */
const hugeNumberLiteral = fc.constantFrom(
  "1e999",
  "-1e999",
  "1" + "0".repeat(400),
  "123456789012345678901234567890",
  "-123456789012345678901234567890",
  "9007199254740993",
  "1.7976931348623157e309",
);

/** JSON that is not an object. */
const nonObject = fc.jsonValue({ maxDepth: 2 }).filter((v) =>
  v === null || typeof v !== "object" || Array.isArray(v)
);

/** Text that is not JSON at all (or cut short). */
const malformedJson = fc.oneof(
  fc.string({ maxLength: 40 }).filter((s) => !parses(s)),
  fc.constantFrom(
    "{",
    "[1,2",
    '{"agentId":',
    "{'a': 1}",
    '{"a": 1,}',
    "\uFEFF\uFEFF{}", // one byte order mark is dropped by the UTF-8 decoder; two are not
    "NaN",
    "undefined",
    '{"a": 01}',
    '{"a": "\u0001"}',
    '{"a": "\\x41"}',
  ),
);

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Nested arrays or objects `depth` deep (small enough to stay under the body limit). */
const deepValue = fc.tuple(fc.integer({ min: 50, max: 5000 }), fc.boolean()).map((
  [depth, arrays],
) =>
  arrays ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth)
);

/** A key no request schema has (prototype keys included). */
const unknownKey = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.constantFrom(
    "__proto__",
    "constructor",
    "prototype",
    "id",
    "created_by",
    "isActive",
    "user_id",
  ),
);

/** A config that breaks one of the connection_config rules. */
const badConfig = fc.oneof(
  nonObject,
  fc.record({
    timeout: fc.oneof(
      fc.integer({ max: 99 }),
      fc.integer({ min: 120_001 }),
      fc.double({ min: 100.01, max: 119_999.99, noInteger: true }),
      fc.string(),
      fc.boolean(),
    ),
  }),
  fc.record({
    retryAttempts: fc.oneof(
      fc.integer({ max: -1 }),
      fc.integer({ min: 11 }),
      fc.constant(1.5),
      fc.constant("2"),
    ),
  }),
  fc.record({
    maxConcurrentRequests: fc.oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: 1001 }),
      fc.constant(null),
    ),
  }),
  fc.record({ enableLogging: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }),
  fc.record({
    customHeaders: fc.oneof(
      nonObject,
      fc.constantFrom(
        { Host: "evil" },
        { "Content-Length": "0" },
        { "Transfer-Encoding": "chunked" },
        { Connection: "close" },
        { "Mcp-Session-Id": "x" },
        { "X-A": "1", "x-a": "2" },
        { "Bad Name": "v" },
        { "X-Crlf": "a\r\nInjected: yes" },
        { "X-Long": "v".repeat(4097) },
        { ["x".repeat(257)]: "v" },
        Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`X-H${i}`, "v"])),
      ),
      fc.dictionary(
        fc.constantFrom("X-A", "X-B"),
        fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)),
        { minKeys: 1 },
      ),
      fc.dictionary(fc.constantFrom("X-U"), unicode, { minKeys: 1 }),
      fc.dictionary(unicode, fc.constant("v"), { minKeys: 1 }),
    ),
  }),
  fc.dictionary(
    unknownKey.filter((k) =>
      !["timeout", "retryAttempts", "customHeaders", "enableLogging", "maxConcurrentRequests"]
        .includes(k)
    ),
    fc.jsonValue({ maxDepth: 1 }),
    { minKeys: 1, maxKeys: 3 },
  ),
);

/** A usage event that breaks one rule. */
const badEvent = fc.oneof(
  nonObject,
  fc.record({
    success: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    responseTimeMs: fc.constant(1),
    bytesTransferred: fc.constant(1),
  }),
  fc.record({
    success: fc.boolean(),
    responseTimeMs: fc.oneof(
      fc.double({ max: -0.001 }),
      fc.integer({ min: 3_600_001 }),
      fc.string(),
      fc.constant(null),
    ),
    bytesTransferred: fc.constant(1),
  }),
  fc.record({
    success: fc.boolean(),
    responseTimeMs: fc.constant(1),
    bytesTransferred: fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ min: 0.1, max: 1e6, noInteger: true }),
      fc.constant(1e13),
      fc.string(),
    ),
  }),
  fc.record({ success: fc.boolean(), responseTimeMs: fc.constant(1) }),
  fc.record({
    success: fc.boolean(),
    responseTimeMs: fc.constant(1),
    bytesTransferred: fc.constant(1),
    extra: fc.jsonValue({ maxDepth: 1 }),
  }),
);

const json = (value: unknown) => JSON.stringify(value);
const JSON_HEADERS = { "content-type": "application/json" };

/** Replaces `"<marker>"` in a JSON text by raw JSON (for literals JSON.stringify cannot make). */
function withRaw(template: Record<string, unknown>, raw: string): string {
  return json(template).replace('"@raw@"', raw);
}

/**
 * Bodies that break a route's body schema: `valid` is a valid body the variants start from,
 * `fields` a bad value for each field, `rawFields` fields to put raw literals in, `required`
 * the fields a body must have.
 */
function badBodies(
  valid: Record<string, unknown>,
  fields: Record<string, fc.Arbitrary<unknown>>,
  rawFields: string[],
  required: string[],
): fc.Arbitrary<{ body: string; headers: Record<string, string> }> {
  const known = [...Object.keys(valid), ...Object.keys(fields)];
  const asJson = (body: string) => ({ body, headers: JSON_HEADERS });
  return fc.oneof(
    malformedJson.map(asJson),
    nonObject.map((v) => asJson(json(v))),
    // one field of the wrong type or out of range
    fc.oneof(
      ...Object.entries(fields).map(([key, arb]) =>
        arb.map((v) => asJson(json({ ...valid, [key]: v })))
      ),
    ),
    // a field that does not exist
    fc.tuple(unknownKey.filter((k) => !known.includes(k)), fc.jsonValue({ maxDepth: 2 })).map((
      [key, v],
    ) => asJson(`${json(valid).slice(0, -1)},${json(key)}:${json(v)}}`)),
    // a required field missing
    ...(required.length === 0 ? [] : [
      fc.constantFrom(...required).map((key) => {
        const { [key]: _, ...rest } = valid;
        return asJson(json(rest));
      }),
    ]),
    // deep nesting in place of a field
    fc.tuple(fc.constantFrom(...rawFields), deepValue).map(([key, deep]) =>
      asJson(withRaw({ ...valid, [key]: "@raw@" }, deep))
    ),
    // a number no bound accepts, as a literal
    fc.tuple(fc.constantFrom(...rawFields), hugeNumberLiteral).map(([key, raw]) =>
      asJson(withRaw({ ...valid, [key]: "@raw@" }, raw))
    ),
    // a body over the limit (256 KiB)
    fc.integer({ min: 256 * 1024 + 1, max: 400 * 1024 }).map((size) =>
      asJson(json({ ...valid, padding: "a".repeat(size) }))
    ),
    // the valid body under a content type that is not JSON
    fc.constantFrom(
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
      "text/json",
    ).map((type) => ({ body: json(valid), headers: { "content-type": type } })),
  );
}

/** Query strings with at least one bad parameter. */
function badQueries(
  valid: Record<string, string>,
  fields: Record<string, fc.Arbitrary<string>>,
): fc.Arbitrary<string> {
  const encode = (params: [string, string][]) =>
    params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  return fc.oneof(
    fc.oneof(
      ...Object.entries(fields).map(([key, arb]) =>
        arb.map((v) => encode([...Object.entries({ ...valid, [key]: v })]))
      ),
    ),
    fc.tuple(unknownKey.filter((k) => !(k in fields) && !isLoneSurrogate(k)), fc.string()).map((
      [key, v],
    ) => encode([...Object.entries(valid), [key, v]])),
    fc.constantFrom(...Object.keys(fields)).map((key) => encode([[key, "1"], [key, "2"]])),
    // malformed percent-encoding
    fc.tuple(
      fc.constantFrom(...Object.keys(fields)),
      fc.constantFrom("%", "%E0%A4%A", "%ZZ", "%u0041"),
    )
      .map(([key, raw]) => `${key}=${raw}`),
  ).filter((q) => !isLoneSurrogate(q));
}

const notInteger1To200 = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: 201 }).map(String),
  fc.integer({ max: 0 }).map(String),
  fc.constantFrom("1.5", "Infinity", "-Infinity", "NaN", "1e999", "", "2^3"),
).filter((s) => {
  const n = Number(s);
  return !(Number.isInteger(n) && n >= 1 && n <= 200);
});

const notIn = (values: string[]) => fc.string({ maxLength: 20 }).filter((s) => !values.includes(s));
const badCursor = fc.oneof(
  fc.string({ minLength: 1, maxLength: 200 }),
  fc.constantFrom("", "x".repeat(201)),
  fc.jsonValue({ maxDepth: 1 }).map((v) => btoa(json(v)).replaceAll("=", "")),
);

/** Authorization values that are not a usable user token. */
const badAuthorization = fc.oneof(
  fc.constantFrom("", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Token abc"),
  fc.string({ maxLength: 100 }).map((s) => `Bearer ${s}`),
  fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 100 }),
).filter((value) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$|^$/.test(value));

// =============================================================================
// The routes and their bad requests
// =============================================================================

interface Targets {
  user: TestUser;
  admin: TestUser;
  /** The user's active connection (a valid request would change it). */
  connectionId: string;
  /** A server the user's agent is not connected to yet (a valid connect would add a row). */
  freeServerId: string;
}

type RouteArb = (t: Targets, viaGateway: boolean) => fc.Arbitrary<FuzzRequest>;

const bearer = (user: TestUser) => ({ authorization: `Bearer ${user.token}` });

/** An oversized header next to the request (bigger in-process than the HTTP servers allow). */
function maybeHugeHeader(
  arb: fc.Arbitrary<FuzzRequest>,
  viaGateway: boolean,
): fc.Arbitrary<FuzzRequest> {
  const max = viaGateway ? 8 * 1024 : 1024 * 1024;
  return fc.oneof(
    { weight: 9, arbitrary: arb },
    {
      weight: 1,
      arbitrary: fc.tuple(
        arb,
        fc.integer({ min: 1024, max }),
        fc.constantFrom("x-fuzz", "x-request-id", "x-client-info"),
      )
        .map(([request, size, name]) => ({
          ...request,
          headers: { ...request.headers, [name]: "a".repeat(size) },
        })),
    },
  );
}

function badIdPaths(suffix: string, method: string): RouteArb {
  return (t, viaGateway) =>
    maybeHugeHeader(
      fc.tuple(badUuid, fc.option(fc.jsonValue({ maxDepth: 1 }))).map(([id, body]) => ({
        method,
        path: `/connections/${encodeURIComponent(id)}${suffix}`,
        headers: { ...bearer(t.user), ...(body === null ? {} : JSON_HEADERS) },
        body: body === null || method === "GET" ? undefined : json(body),
      })),
      viaGateway,
    );
}

const VALID_EVENT = { success: true, responseTimeMs: 12.5, bytesTransferred: 2048 };

/** Requests that are bad only in their method, path tail or credentials (no input of their own). */
function inputlessRoute(path: string, caller: (t: Targets) => TestUser): RouteArb {
  return (t, viaGateway) =>
    fc.oneof(
      fc.tuple(fc.constantFrom("POST", "PUT", "PATCH", "DELETE"), fc.jsonValue({ maxDepth: 2 }))
        .map((
          [method, body],
        ) => ({
          method,
          path,
          headers: { ...bearer(caller(t)), ...JSON_HEADERS },
          body: json(body),
        })),
      fc.oneof(badUuid.map(encodeURIComponent), fc.constantFrom("%00", "..%2F", "x/y", "%E0%A4%A"))
        .map((tail) => ({ method: "GET", path: `${path}/${tail}`, headers: bearer(caller(t)) })),
      // The gateway answers bad tokens itself (hostile_jwt_test.ts); in-process the function does.
      ...(viaGateway ? [] : [
        badAuthorization.map((authorization) => ({
          method: "GET",
          path,
          headers: { authorization },
        })),
      ]),
    );
}

const ROUTES: Record<string, RouteArb> = {
  "POST /connections": (t, viaGateway) => {
    const valid = {
      agentId: t.user.agentId,
      mcpServerInstanceId: t.freeServerId,
      config: { timeout: 5000 },
    };
    return maybeHugeHeader(
      badBodies(
        valid,
        {
          agentId: fc.oneof(
            badUuid,
            unicode,
            fc.jsonValue({ maxDepth: 1 }).filter((v) => typeof v !== "string"),
          ),
          mcpServerInstanceId: fc.oneof(badUuid, fc.integer(), fc.constant(null)),
          config: badConfig,
        },
        ["agentId", "mcpServerInstanceId", "config"],
        ["agentId", "mcpServerInstanceId"],
      ).map((
        { body, headers },
      ) => ({
        method: "POST",
        path: "/connections",
        headers: { ...bearer(t.user), ...headers },
        body,
      })),
      viaGateway,
    );
  },

  "GET /connections": (t, viaGateway) =>
    maybeHugeHeader(
      badQueries({ agentId: t.user.agentId, status: "connected", active: "all", limit: "10" }, {
        agentId: badUuid,
        status: notIn(["connected", "disconnected", "error", "testing"]),
        active: notIn(["true", "false", "all"]),
        limit: notInteger1To200,
        cursor: badCursor,
      }).map((query) => ({
        method: "GET",
        path: `/connections?${query}`,
        headers: bearer(t.user),
      })),
      viaGateway,
    ),

  "GET /connections/:id": badIdPaths("", "GET"),

  "PATCH /connections/:id": (t, viaGateway) =>
    fc.oneof(
      badIdPaths("", "PATCH")(t, viaGateway).map((r) => ({
        ...r,
        headers: { ...r.headers, ...JSON_HEADERS },
        body: json({ config: { timeout: 7000 } }),
      })),
      maybeHugeHeader(
        badBodies({ config: { timeout: 7000 } }, { config: badConfig }, ["config"], ["config"]).map(
          (
            { body, headers },
          ) => ({
            method: "PATCH",
            path: `/connections/${t.connectionId}`,
            headers: { ...bearer(t.user), ...headers },
            body,
          }),
        ),
        viaGateway,
      ),
    ),

  "DELETE /connections/:id": badIdPaths("", "DELETE"),

  "POST /connections/:id/test": badIdPaths("/test", "POST"),

  "POST /connections/:id/usage": (t, viaGateway) =>
    fc.oneof(
      badIdPaths("/usage", "POST")(t, viaGateway).map((r) => ({
        ...r,
        headers: { ...r.headers, ...JSON_HEADERS },
        body: json(VALID_EVENT),
      })),
      maybeHugeHeader(
        fc.oneof(
          badBodies(
            VALID_EVENT,
            {
              success: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
              responseTimeMs: fc.oneof(
                fc.double({ max: -0.001 }),
                fc.integer({ min: 3_600_001 }),
                fc.string(),
              ),
              bytesTransferred: fc.oneof(
                fc.integer({ max: -1 }),
                fc.constant(1.5),
                fc.constant(1e13),
              ),
            },
            ["success", "responseTimeMs", "bytesTransferred"],
            [
              "success",
              "responseTimeMs",
              "bytesTransferred",
            ],
          ),
          badBodies(
            { events: [VALID_EVENT] },
            {
              events: fc.oneof(
                nonObject.filter((v) => !Array.isArray(v) || v.length === 0),
                fc.array(badEvent, { minLength: 1, maxLength: 5 }),
                fc.tuple(fc.array(fc.constant(VALID_EVENT), { maxLength: 50 }), badEvent).map((
                  [good, bad],
                ) => [...good, bad]),
                fc.integer({ min: 1001, max: 1100 }).map((n) =>
                  Array.from({ length: n }, () => VALID_EVENT)
                ),
              ),
            },
            ["events"],
            ["events"],
          ),
        ).map(({ body, headers }) => ({
          method: "POST",
          path: `/connections/${t.connectionId}/usage`,
          headers: { ...bearer(t.user), ...headers },
          body,
        })),
        viaGateway,
      ),
    ),

  "GET /stats": inputlessRoute("/stats", (t) => t.user),

  "GET /admin/connections": (t, viaGateway) =>
    fc.oneof(
      {
        weight: 9,
        arbitrary: maybeHugeHeader(
          badQueries({ active: "all", limit: "10" }, {
            active: notIn(["true", "false", "all"]),
            limit: notInteger1To200,
            cursor: badCursor,
          }).map((query) => ({
            method: "GET",
            path: `/admin/connections?${query}`,
            headers: bearer(t.admin),
          })),
          viaGateway,
        ),
      },
      // A user who is not an admin, with a good or bad query: refused either way.
      {
        weight: 1,
        arbitrary: fc.constantFrom("", "?limit=5", "?active=false", "?limit=0").map((query) => ({
          method: "GET",
          path: `/admin/connections${query}`,
          headers: bearer(t.user),
        })),
      },
    ),

  "GET /admin/stats": (t, viaGateway) =>
    fc.oneof(
      { weight: 9, arbitrary: inputlessRoute("/admin/stats", (t) => t.admin)(t, viaGateway) },
      {
        weight: 1,
        arbitrary: fc.constant({ method: "GET", path: "/admin/stats", headers: bearer(t.user) }),
      },
    ),
};

// =============================================================================
// Running
// =============================================================================

type Send = (request: FuzzRequest) => Promise<{ status: number; body: unknown }>;

function describe(request: FuzzRequest): string {
  const body = request.body === undefined
    ? ""
    : ` body(${request.body.length}): ${request.body.slice(0, 120)}`;
  const headers = Object.entries(request.headers)
    .map(([k, v]) => `${k}: ${v.length > 60 ? `${v.slice(0, 20)}…(${v.length})` : v}`).join(", ");
  return `${request.method} ${request.path.slice(0, 200)} [${headers}]${body}`;
}

/** Sends `runs` batches of `batch` generated requests; each must be a 4xx in the error shape. */
async function fuzz(
  arb: fc.Arbitrary<FuzzRequest>,
  send: Send,
  options: { batch: number; runs: number },
): Promise<{ cases: number; codes: Map<string, number> }> {
  let cases = 0;
  const codes = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.array(arb, { minLength: options.batch, maxLength: options.batch }),
      async (batch) => {
        const answers = await Promise.all(batch.map(send));
        answers.forEach(({ status, body }, i) => {
          const context = describe(batch[i]!);
          assert.ok(
            status >= 400 && status < 500,
            `4xx, got ${status} ${JSON.stringify(body).slice(0, 200)} for ${context}`,
          );
          const code = assertErrorShape(status, body, context);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        });
        cases += batch.length;
      },
    ),
    { numRuns: options.runs, seed: SEED, endOnFailure: true },
  );
  return { cases, codes };
}

function inProcessSender(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  base: string,
): Send {
  return async (request) => {
    const response = await app.request(`${base}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    return { status: response.status, body: await readBody(response) };
  };
}

function gatewaySender(base: string): Send {
  return async (request) => {
    const response = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    return { status: response.status, body: await readBody(response) };
  };
}

function report(
  route: string,
  where: string,
  result: { cases: number; codes: Map<string, number> },
) {
  const codes = [...result.codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(
    ", ",
  );
  // deno-lint-ignore no-console
  console.log(`${route} (${where}): ${result.cases} bad requests, all 4xx: ${codes}`);
}

Deno.test("fuzzed bad requests to every route get a 4xx error and change nothing", async (t) => {
  await using sql = openDb();
  const targets: Targets = {
    user: await createUser(sql, { label: "fuzz" }),
    admin: await createUser(sql, { label: "fuzz-admin", admin: true }),
    connectionId: "",
    freeServerId: await createServer(sql, "http://127.0.0.1:9/mcp", "Fuzz free server"),
  };
  const usedServer = await createServer(sql, "http://127.0.0.1:9/mcp", "Fuzz server");
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by, connection_config)
    values (${targets.user.agentId}, ${usedServer}, ${targets.user.id}, '{"timeout": 5000}')
    returning id
  `;
  targets.connectionId = row.id;

  const app = inProcessConnectionsApp();
  const inProcess = inProcessSender(app, "/mcp-connections");
  const gateway = gatewaySender(`${stack.url}/functions/v1/mcp-connections`);

  for (const [route, arb] of Object.entries(ROUTES)) {
    await t.step(
      `${route}: ${BATCH * RUNS} in-process and ${GATEWAY_CASES} through the gateway`,
      async () => {
        const before = await tablesChecksum(sql);
        const local = await fuzz(arb(targets, false), inProcess, { batch: BATCH, runs: RUNS });
        const remote = await fuzz(arb(targets, true), gateway, {
          batch: 10,
          runs: GATEWAY_CASES / 10,
        });
        assert.deepEqual(await tablesChecksum(sql), before, "the database is unchanged");
        assert.ok(local.cases >= 1000);
        report(route, "in-process", local);
        report(route, "gateway", remote);
      },
    );
  }
});

// =============================================================================
// The health check's body options
// =============================================================================

/** The health check must refuse bad options before any database work: this client proves it. */
const untouchableDb = new Proxy({}, {
  get() {
    throw new Error("the health check touched the database for a bad request");
  },
}) as DbClient;

Deno.test("fuzzed health check options get a 4xx error before any work", async () => {
  await using sql = openDb();
  const app = createHealthCheckApp({
    auth: {
      serviceKeys: [stack.serviceRoleKey, stack.secretKey],
      verifyJwt: createJwtVerifier({ secret: stack.jwtSecret }),
    },
    db: untouchableDb,
    probe: () => Promise.reject(new Error("the health check probed for a bad request")),
    logger: createLogger({}, () => {}),
  });
  const valid = { serverIds: [crypto.randomUUID()], dryRun: true };
  const count = (max: number) =>
    fc.oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: max + 1 }),
      fc.constant(1.5),
      fc.string(),
      fc.constant(null),
    );
  const uuidList = (max: number) =>
    fc.oneof(
      nonObject.filter((v) => !Array.isArray(v) || v.length === 0),
      fc.array(badUuid, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: max + 1, max: max + 20 }).map((n) =>
        Array.from({ length: n }, () => crypto.randomUUID())
      ),
    );
  const arb = badBodies(
    valid,
    {
      serverIds: uuidList(1000),
      connectionIds: uuidList(10_000),
      dryRun: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      concurrency: count(100),
      perHostConcurrency: count(32),
      budgetMs: fc.oneof(
        fc.integer({ max: 999 }),
        fc.integer({ min: 140_001 }),
        fc.constant("1000"),
      ),
      failureThreshold: count(100),
      retentionDays: count(3650),
    },
    ["serverIds", "dryRun", "concurrency", "budgetMs"],
    [],
  ).map(({ body, headers }) => ({
    method: "POST",
    path: "",
    headers: { authorization: `Bearer ${stack.serviceRoleKey}`, ...headers },
    body,
  }));
  const before = await tablesChecksum(sql);
  const result = await fuzz(arb, inProcessSender(app, "/mcp-health-check"), {
    batch: BATCH,
    runs: RUNS,
  });
  assert.deepEqual(await tablesChecksum(sql), before, "the database is unchanged");
  report("POST mcp-health-check", "in-process", result);
});

// =============================================================================
// Straight at PostgREST: system-maintained columns and views (issue 12 items 2, 7)
// =============================================================================

/** Columns a user may not write: everything but connection_config and is_active. */
const SYSTEM_COLUMNS = [
  "usage_stats",
  "last_used",
  "connection_status",
  "connection_test_result",
  "updated_at",
  "created_at",
  "created_by",
  "id",
  "agent_id",
  "mcp_server_instance_id",
] as const;

/** Any JSON value, some of them large (up to ~1 MB). */
const anyValue = fc.oneof(
  { weight: 8, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1_000_000 }).map((n) => "x".repeat(n)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { totalRequests: -1 },
      { totalRequests: 0, averageResponseTime: 1 },
      { success: true },
      "connected",
      "2000-01-01T00:00:00Z",
    ),
  },
);

Deno.test("fuzzed writes of system columns and views through PostgREST get a 4xx and change nothing", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "fuzz-rest" });
  const server = await createServer(sql, "http://127.0.0.1:9/mcp", "Fuzz REST server");
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values (${user.agentId}, ${server}, ${user.id}) returning id
  `;
  const headers = {
    apikey: stack.anonKey,
    authorization: `Bearer ${user.token}`,
    "content-type": "application/json",
    prefer: "return=representation",
  };
  // A body with at least one system column, maybe beside the columns users may write.
  const bodyWith = (columns: readonly string[]) =>
    fc.tuple(
      fc.subarray([...columns], { minLength: 1 }),
      fc.array(anyValue, { minLength: SYSTEM_COLUMNS.length, maxLength: SYSTEM_COLUMNS.length }),
      fc.option(fc.constant({ connection_config: { timeout: 1000 } })),
      fc.option(fc.constant({ is_active: false })),
    ).map(([chosen, values, config, active]) => ({
      ...Object.fromEntries(chosen.map((column, i) => [column, values[i]])),
      ...config,
      ...active,
    }));
  // (A connect may name its agent and server: those two are no system columns on insert.)
  const insertOnly = SYSTEM_COLUMNS.filter((c) =>
    c !== "agent_id" && c !== "mcp_server_instance_id"
  );
  const viewColumn: Record<string, string> = {
    active_agent_mcp_connections: "connection_status",
    user_mcp_connection_stats: "total_connections",
    agent_mcp_connection_health_summary: "consecutive_failures",
  };
  const view = fc.constantFrom(
    "active_agent_mcp_connections",
    "user_mcp_connection_stats",
    "agent_mcp_connection_health_summary",
  );
  const arb: fc.Arbitrary<FuzzRequest> = fc.oneof(
    bodyWith(SYSTEM_COLUMNS).map((b) => ({
      method: "PATCH",
      path: `/agent_mcp_connections?id=eq.${row.id}`,
      headers,
      body: json(b),
    })),
    bodyWith(insertOnly).map((b) => ({
      method: "POST",
      path: "/agent_mcp_connections",
      headers,
      body: json({ agent_id: user.agentId, mcp_server_instance_id: server, ...b }),
    })),
    fc.tuple(view, fc.constantFrom("POST", "PATCH", "DELETE"), fc.jsonValue({ maxDepth: 2 })).map((
      [name, method, value],
    ) => ({
      method,
      path: method === "POST" ? `/${name}` : `/${name}?${viewColumn[name]}=not.is.null`,
      headers,
      body: method === "DELETE" ? undefined : json({ [viewColumn[name]!]: value }),
    })),
  );

  const before = await tablesChecksum(sql);
  let cases = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.array(arb, { minLength: 10, maxLength: 10 }), async (batch) => {
      const answers = await Promise.all(batch.map(async (request) => {
        const response = await fetch(`${stack.url}/rest/v1${request.path}`, {
          method: request.method,
          headers: request.headers,
          body: request.body,
        });
        return { status: response.status, body: await readBody(response) };
      }));
      answers.forEach(({ status, body }, i) => {
        const context = describe(batch[i]!);
        assert.ok(status === 401 || status === 403, `401/403, got ${status} for ${context}`);
        assert.equal((body as { code?: string }).code, "42501", context);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      });
      cases += batch.length;
    }),
    { numRuns: scaled(30, 300), seed: SEED, endOnFailure: true },
  );
  assert.deepEqual(await tablesChecksum(sql), before, "the database is unchanged");
  // deno-lint-ignore no-console
  console.log(`PostgREST system columns and views: ${cases} writes, all refused`, statuses);
});

Deno.test("any usage_stats the database accepts leaves POST /usage answering 200", async () => {
  await using sql = openDb();
  const user = await createUser(sql, { label: "fuzz-usage" });
  const server = await createServer(sql, "http://127.0.0.1:9/mcp", "Fuzz usage server");
  const [row] = await sql<[{ id: string }]>`
    insert into agent_mcp_connections (agent_id, mcp_server_instance_id, created_by)
    values (${user.agentId}, ${server}, ${user.id}) returning id
  `;
  const number = fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, -1, 1e21, 1e22, 0.5),
  );
  const stats = fc.dictionary(
    fc.constantFrom(
      "totalRequests",
      "successfulRequests",
      "failedRequests",
      "totalResponseTime",
      "averageResponseTime",
      "bytesTransferred",
      "lastUsed",
      "custom",
    ),
    fc.oneof(number, fc.string({ maxLength: 80 }), fc.constant(null)),
  );
  let accepted = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(stats, async (value) => {
      try {
        await sql`update agent_mcp_connections set usage_stats = ${sql.json(value)}
                  where id = ${row.id}`;
      } catch (error) {
        assert.equal((error as { code?: string }).code, "23514", JSON.stringify(value));
        refused++;
        return;
      }
      accepted++;
      const response = await fetch(
        `${stack.url}/functions/v1/mcp-connections/connections/${row.id}/usage`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
          body: json(VALID_EVENT),
        },
      );
      const body = await readBody(response);
      assert.equal(response.status, 200, `${JSON.stringify(value)} -> ${JSON.stringify(body)}`);
    }),
    { numRuns: scaled(200, 2000), seed: SEED, endOnFailure: true },
  );
  assert.ok(
    accepted >= 10 && refused >= 10,
    `a useful generator: ${accepted} accepted, ${refused} refused`,
  );
});
