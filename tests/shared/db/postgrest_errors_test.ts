/** fromPostgrest() maps what PostgREST answers to the API's errors. */
import assert from "node:assert/strict";
import { fromPostgrest, type PostgrestFailure } from "../../../shared/db/postgrest_errors.ts";

const failure = (
  status: number,
  code: string,
  message = "something",
): PostgrestFailure => ({ status, error: { code, message, details: null, hint: null } });

Deno.test("fromPostgrest() tells an unreachable database from a client's mistake", async (t) => {
  const cases: [string, PostgrestFailure, string][] = [
    ["PostgREST cannot connect (503 PGRST000)", failure(503, "PGRST000"), "database_unavailable"],
    ["the server shuts down (57P01)", failure(503, "57P01"), "database_unavailable"],
    ["the server is starting (57P03)", failure(503, "57P03"), "database_unavailable"],
    ["a connection exception (08006)", failure(500, "08006"), "database_unavailable"],
    [
      "PostgREST is unreachable (fetch failed)",
      failure(0, "", "TypeError: fetch failed"),
      "database_unavailable",
    ],
    [
      "the connection dies mid-query (an immediate shutdown: 400 with no code and no message)",
      failure(400, "", ""),
      "database_unavailable",
    ],
    ["a statement timeout (57014)", failure(500, "57014"), "database_timeout"],
    ["a check constraint (23514)", failure(400, "23514"), "constraint_violation"],
    ["a bad parameter (22023)", failure(400, "22023"), "invalid_request"],
    ["an unknown error with a code", failure(400, "XX999"), "internal_error"],
  ];
  for (const [name, given, code] of cases) {
    await t.step(`${name} → ${code}`, () => {
      assert.equal(fromPostgrest(given, "testing").code, code);
    });
  }
});

const coded = (status: number, code: string, details: string | null): PostgrestFailure => ({
  status,
  error: { code, message: "said by SQL", details, hint: null },
});

Deno.test("fromPostgrest() takes the module's coded errors as SQL raised them", async (t) => {
  await t.step("PT409 already_connected keeps its message and details", () => {
    const error = fromPostgrest(
      coded(409, "PT409", '{"code": "already_connected", "connectionId": "c1"}'),
      "testing",
    );
    assert.equal(error.code, "already_connected");
    assert.equal(error.status, 409);
    assert.equal(error.message, "said by SQL");
    assert.deepEqual(error.details, { connectionId: "c1" });
  });
  await t.step("a code without details has none", () => {
    const error = fromPostgrest(coded(404, "PT404", '{"code": "agent_not_found"}'), "testing");
    assert.equal(error.code, "agent_not_found");
    assert.equal(error.details, undefined);
  });
  const internal: [string, PostgrestFailure][] = [
    ["a status that is not the code's", coded(409, "PT409", '{"code": "connection_not_found"}')],
    ["an unknown code", coded(409, "PT409", '{"code": "no_such_code"}')],
    ["a detail that is not JSON", coded(404, "PT404", "connection_not_found")],
    ["no detail", coded(404, "PT404", null)],
    ["a coded detail on another SQLSTATE", coded(400, "P0001", '{"code": "agent_not_found"}')],
  ];
  for (const [name, failure] of internal) {
    await t.step(`${name} is an internal error, never a guess`, () => {
      assert.equal(fromPostgrest(failure, "testing").code, "internal_error");
    });
  }
  await t.step("22023 keeps the function's hint in details", () => {
    const error = fromPostgrest({
      status: 400,
      error: { code: "22023", message: "event 0 is bad", details: null, hint: "an event is ..." },
    }, "testing");
    assert.equal(error.code, "invalid_request");
    assert.equal(error.message, "event 0 is bad");
    assert.deepEqual(error.details, { hint: "an event is ..." });
  });
  await t.step("42501 (a column users may not write) is forbidden", () => {
    assert.equal(fromPostgrest(failure(403, "42501"), "testing").code, "forbidden");
  });
});
