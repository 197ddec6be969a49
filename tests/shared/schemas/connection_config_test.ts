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
  ),
  fc.oneof(number, anyJson, fc.dictionary(headerName, headerValue, { maxKeys: 4 })),
  { maxKeys: 4 },
);

Deno.test("ConnectionConfig and validate_connection_config() agree on 2000 generated configs", async () => {
  await using sql = openDb();
  const samples = fc.sample(fc.oneof(config, anyJson), { numRuns: 2000, seed: 20261124 });
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
});
