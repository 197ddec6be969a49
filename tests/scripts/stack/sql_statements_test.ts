import assert from "node:assert/strict";
import { splitSqlStatements } from "../../../scripts/stack/sql_statements.ts";

Deno.test("splitSqlStatements() splits on semicolons outside quotes, comments and bodies", async (t) => {
  await t.step("plain statements, trimmed, without the semicolon", () => {
    assert.deepEqual(splitSqlStatements("select 1;\n  select 2 ;\n"), ["select 1", "select 2"]);
  });
  await t.step("semicolons inside strings, identifiers and E'' escapes", () => {
    assert.deepEqual(
      splitSqlStatements(`select 'a;b', "c;d", E'it\\'s;', 'it''s;';select 2`),
      [`select 'a;b', "c;d", E'it\\'s;', 'it''s;'`, "select 2"],
    );
  });
  await t.step("dollar-quoted bodies, tagged or not", () => {
    const fn = "create function f() returns int language sql as $$ select 1; $$";
    const tagged = "do $body$ begin perform 1; end; $body$";
    assert.deepEqual(splitSqlStatements(`${fn};\n${tagged};`), [fn, tagged]);
  });
  await t.step("comments, nested block comments, and comment-only tails", () => {
    assert.deepEqual(
      splitSqlStatements("-- a; b\nselect 1; /* x; /* y; */ z; */ select 2;\n-- trailing;\n"),
      ["-- a; b\nselect 1", "/* x; /* y; */ z; */ select 2"],
    );
  });
  await t.step("parameters like $1 are not dollar quotes", () => {
    assert.deepEqual(splitSqlStatements("prepare p as select $1; select 2"), [
      "prepare p as select $1",
      "select 2",
    ]);
  });
});
