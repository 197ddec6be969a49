import assert from "node:assert/strict";
import { Deadline } from "../../../shared/mcp/deadline.ts";
import { NetworkRefusal } from "../../../shared/mcp/probe_errors.ts";

Deno.test("Deadline is one clock for the whole probe", async (t) => {
  await t.step("remaining() counts down and the signal fires at the deadline", async () => {
    const deadline = new Deadline(100);
    try {
      assert.ok(deadline.remaining() <= 100 && deadline.remaining() > 50);
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
      setTimeout(() => controller.abort(), 20);
      assert.equal(await deadline.sleep(5_000), false);
      assert.ok(performance.now() - started < 1_000);
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
