/**
 * A waiter that gives up (its timeout) or that found a task decided on
 * another node leaves nothing behind. Before, each task waited for kept an
 * empty entry in the waiters' map for the life of the node: a node that
 * waits for many tasks decided elsewhere grew without bound.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/index.js";
import { TimeoutError } from "../../src/errors/index.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { Outcomes } from "../../src/runtime/outcomes.js";
import type { TaskOutcome } from "../../src/store/ports/tasks.js";

test("waiters that time out, or find an outcome decided elsewhere, leave no entry", async () => {
  const clock = new ManualClock(1_800_000_000_000);
  const decidedElsewhere = new Map<string, TaskOutcome>();
  const node = {
    clock,
    store: {
      taskOutcome: async (id: string) => decidedElsewhere.get(id),
      isCompleted: async () => false,
    },
  } as unknown as NodeContext;
  const outcomes = new Outcomes(node);

  const timedOut = outcomes.wait("t-1", { timeoutMs: 1000 }).then(
    () => "resolved",
    (error: unknown) => error,
  );
  const elsewhere = outcomes.wait("t-2", { timeoutMs: 60_000 });
  for (let i = 0; i < 3 && outcomes.waited < 2; i++) await new Promise((r) => setImmediate(r));
  assert.equal(outcomes.waited, 2, "both wait");
  decidedElsewhere.set("t-2", { taskId: "t-2", status: "completed", agent: "a", at: clock.now() });
  for (let step = 0; step < 8; step++) {
    clock.advance(250);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }
  assert.ok((await timedOut) instanceof TimeoutError);
  assert.equal((await elsewhere).status, "completed");
  assert.equal(outcomes.waited, 0, "no entry left behind");
});
