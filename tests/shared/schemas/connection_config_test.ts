/**
 * The zod schema (API) and validate_connection_config() (database) must agree on
 * every config: generated configs, valid and not, get the same verdict from both.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ConnectionConfig,
  FORBIDDEN_HEADER_NAMES,
} from "../../../shared/schemas/connection_config.ts";
import { openDb } from "../../_support/stack.ts";

const number = fc.oneof(
  fc.integer({ min: -5, max: 130_000 }),
  fc.constantFrom(0, 99, 100, 120_000, 120_001, 1e20, -0, 10, 11, 1000, 1001),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
);
const anyJson = fc.oneof(
  number,
  fc.string({ maxLength: 5 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const headerName = fc.oneof(
  fc.constantFrom("X-Api-Key", "Authorization", "User-Agent", "x-a", "X-A"),
  // Property names with a meaning in JavaScript objects.
  fc.constantFrom("__proto__", "__PROTO__", "constructor", "toString", "hasOwnProperty"),
  fc.constantFrom(...FORBIDDEN_HEADER_NAMES),
  fc.string({ minLength: 0, maxLength: 8 }),
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("Bearer abc", "", "a\tb", "a\r\nb", "héllo", "x".repeat(4097)),
  anyJson,
);
const config = fc.dictionary(
  fc.constantFrom(
    "timeout",
    "retryAttempts",
    "maxConcurrentRequests",
    "enableLogging",
    "customHeaders",
    "other",
    "__proto__",
  ),
  fc.oneof(number, anyJson, fc.dictionary(headerName, headerValue, { maxKeys: 4 })),
  { maxKeys: 4 },
);

Deno.test("ConnectionConfig and validate_connection_config() agree on 2000 generated configs", async () => {
  await using sql = openDb();
  // Through JSON text, as a request body and a jsonb value both arrive: own `__proto__`
  // keys stay own keys, as JSON.parse makes them.
  const samples = fc.sample(fc.oneof(config, anyJson), { numRuns: 2000, seed: 20261124 })
    .map((sample) => JSON.parse(JSON.stringify(sample)) as unknown);
  const verdicts = await sql<{ ok: boolean }[]>`
    select public.validate_connection_config(c) as ok
    from jsonb_array_elements(${sql.json(samples as never)}) with ordinality as t(c, i)
    order by i
  `;
  let valid = 0;
  samples.forEach((sample, i) => {
    const zod = ConnectionConfig.safeParse(sample).success;
    if (zod) valid++;
    assert.equal(verdicts[i]!.ok, zod, `disagreement on ${JSON.stringify(sample)}`);
  });
  assert.ok(valid > 50, `the generator must produce valid configs too (got ${valid})`);
  const withProto = samples.filter((sample) => JSON.stringify(sample).includes('"__proto__"'));
  assert.ok(
    withProto.length > 20,
    `the generator must produce __proto__ keys (${withProto.length})`,
  );
});

Deno.test("a __proto__ custom header is refused by the API schema and the database alike", async () => {
  await using sql = openDb();
  const wire = JSON.parse('{"customHeaders": {"__proto__": "x", "X-Api-Key": "k"}}');
  const parsed = ConnectionConfig.safeParse(wire);
  assert.equal(parsed.success, false, "zod must not drop it silently");
  assert.deepEqual(parsed.error?.issues[0]?.path, ["customHeaders", "__proto__"]);
  const [{ ok }] = await sql<[{ ok: boolean }]>`
    select public.validate_connection_config(${sql.json(wire)}) as ok
  `;
  assert.equal(ok, false);
});
