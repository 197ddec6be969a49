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
