/**
 * `TaskClaims.acquire` asks the store two things at once (claim the task,
 * is it completed?). When the completion check fails while the claim is
 * still pending, the failure is the caller's error, not an unhandled
 * rejection that would stop the process.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { StoreError } from "../../src/errors/index.js";
import { TaskClaims } from "../../src/runtime/task-claims.js";
import type { TaskClaim } from "../../src/store/port.js";
import type { Delivery } from "../../src/transport/port.js";

test("a completion check that fails before the claim answers is the caller's error, not an unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    let released = 0;
    const claims = new TaskClaims({
      store: {
        // The claim answers after two turns of the event loop...
        claimTask: async (): Promise<TaskClaim> => {
          await sleep(30);
          return { claimed: true };
        },
        // ...the completion check fails at once.
        isCompleted: () => Promise.reject(new StoreError("the store went away")),
        extendTaskClaims: async () => 0,
        releaseTaskClaim: async () => {
          released++;
          return true;
        },
        pruneTaskClaims: async () => 0,
      },
      clock: systemClock,
      events: { emit: () => undefined },
      owner: "node-test/1",
    });
    const delivery = { working: () => undefined } as unknown as Delivery;
    await assert.rejects(claims.acquire("task-1", 30_000, delivery, "a"), StoreError);
    await sleep(20);
    assert.deepEqual(unhandled, []);
    assert.equal(released, 1, "the claim granted meanwhile is given back");
    claims.close();
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
