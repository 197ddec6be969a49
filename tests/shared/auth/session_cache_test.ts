import assert from "node:assert/strict";
import { SessionCache } from "../../../shared/auth/session_cache.ts";

Deno.test("SessionCache remembers a token until its expiry or the maximum age, whichever is first", () => {
  let now = 1_000_000;
  const cache = new SessionCache<string>(60_000, 10, () => now);
  cache.set("short", "a", now + 5_000);
  cache.set("long", "b", now + 3_600_000);
  cache.set("no-exp", "c");
  cache.set("expired", "d", now - 1);
  assert.equal(cache.get("short"), "a");
  assert.equal(cache.get("expired"), undefined);
  now += 5_000;
  assert.equal(cache.get("short"), undefined, "gone at its exp");
  assert.equal(cache.get("long"), "b");
  now += 55_000;
  assert.equal(cache.get("long"), undefined, "gone after the maximum age");
  assert.equal(cache.get("no-exp"), undefined);
});

Deno.test("SessionCache is bounded: the oldest entry makes room", () => {
  const cache = new SessionCache<number>(60_000, 3);
  for (let i = 0; i < 5; i++) cache.set(`t${i}`, i);
  assert.equal(cache.get("t0"), undefined);
  assert.equal(cache.get("t1"), undefined);
  assert.deepEqual([2, 3, 4].map((i) => cache.get(`t${i}`)), [2, 3, 4]);
});
