import assert from "node:assert/strict";
import { Deadline } from "../../../shared/mcp/deadline.ts";
import { NetworkRefusal } from "../../../shared/mcp/probe_errors.ts";

Deno.test("Deadline is one clock for the whole probe", async (t) => {
  await t.step("remaining() counts down and the signal fires at the deadline", async () => {
    const before = performance.now();
    const deadline = new Deadline(100);
    try {
      const remaining = deadline.remaining();
      // What passed since the deadline was made, and no more, is gone (whatever the load).
      const passed = performance.now() - before;
      assert.ok(remaining <= 100 && remaining >= 100 - passed - 1, `${remaining} ms left`);
      await new Promise((resolve) =>
        deadline.signal.addEventListener("abort", resolve, { once: true })
      );
      assert.equal(deadline.remaining(), 0);
      assert.equal(deadline.expired, true);
      assert.equal(deadline.cancelled, false);
      assert.ok(deadline.signal.reason instanceof NetworkRefusal);
    } finally {
      deadline.dispose();
    }
  });
  await t.step("sleep() waits, or returns false as soon as the caller cancels", async () => {
    const controller = new AbortController();
    const deadline = new Deadline(10_000, controller.signal);
    try {
      assert.equal(await deadline.sleep(10), true);
      const started = performance.now();
      const sleeping = deadline.sleep(60_000);
      controller.abort();
      assert.equal(await sleeping, false);
      assert.ok(performance.now() - started < 30_000, "the sleep did not run its course");
      assert.equal(deadline.cancelled, true);
      assert.equal(deadline.expired, false);
    } finally {
      deadline.dispose();
    }
  });
  await t.step("race() rejects with the deadline even when the work never settles", async () => {
    const deadline = new Deadline(30);
    try {
      await assert.rejects(deadline.race(new Promise<never>(() => {})), (error: unknown) => {
        assert.ok(error instanceof NetworkRefusal);
        assert.equal(error.code, "deadline");
        return true;
      });
    } finally {
      deadline.dispose();
    }
  });
  await t.step("race() passes through work that settles first", async () => {
    const deadline = new Deadline(10_000);
    try {
      assert.equal(await deadline.race(Promise.resolve(42)), 42);
      await assert.rejects(deadline.race(Promise.reject(new Error("boom"))), /boom/);
    } finally {
      deadline.dispose();
    }
  });
});
