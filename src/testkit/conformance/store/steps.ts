/**
 * The `StepStore` part of the store conformance suite: the first record of
 * a (task, position) wins across handles, a task's steps read back by
 * position, and pruning deletes by age.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "../../../errors/index.js";
import type { StepStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  id,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `StepStore` (journaled steps of LLM agents); see the port's contract. */
export function runStepStoreConformance(options: StorePartOptions<StepStore & Closable>): void {
  describeStorePart("step store", options, (fixture) => {
    test("steps record once per position and read back in order", async () => {
      const taskId = id();
      const second = { taskId, position: 1, name: "tool:search", result: ["a", 1], at: 20 };
      const first = { taskId, position: 0, name: "model:1", result: { text: "hi" }, at: 10 };
      assert.deepEqual(await fixture.store.recordStep(second), { recorded: true, stored: second });
      assert.deepEqual(await fixture.store.recordStep(first), { recorded: true, stored: first });
      const again = await fixture.store.recordStep({ ...first, result: { text: "other" }, at: 30 });
      assert.deepEqual(again, { recorded: false, stored: first }, "the first record stands");
      assert.deepEqual(await fixture.store.steps(taskId), [first, second]);
      assert.deepEqual(await fixture.store.steps(id()), []);
    });

    test("a step without a result reads back as null", async () => {
      const taskId = id();
      await fixture.store.recordStep({ taskId, position: 0, name: "s", result: undefined, at: 1 });
      assert.equal((await fixture.store.steps(taskId))[0]?.result, null);
    });

    test("two handles racing on one position: exactly one records", async () => {
      const taskId = id();
      const other = await fixture.reopen();
      try {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? fixture.store : other).recordStep({
              taskId,
              position: 0,
              name: "model:1",
              result: i,
              at: i,
            }),
          ),
        );
        assert.equal(results.filter((r) => r.recorded).length, 1);
        const winner = results.find((r) => r.recorded)?.stored.result;
        for (const r of results) assert.equal(r.stored.result, winner);
      } finally {
        await other.close();
      }
    });

    test("a result that is not JSON-serialisable is refused with StoreError", async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(
        fixture.store.recordStep({ taskId: id(), position: 0, name: "s", result: cyclic, at: 1 }),
        StoreError,
      );
    });

    test("pruneSteps deletes records older than the cut", async () => {
      const old = id();
      const fresh = id();
      await fixture.store.recordStep({ taskId: old, position: 0, name: "s", result: 1, at: 100 });
      await fixture.store.recordStep({
        taskId: fresh,
        position: 0,
        name: "s",
        result: 2,
        at: 10_000_000_000_000,
      });
      assert.ok((await fixture.store.pruneSteps(1_000)) >= 1);
      assert.deepEqual(await fixture.store.steps(old), []);
      assert.equal((await fixture.store.steps(fresh)).length, 1);
    });

    test("a closed handle refuses every step call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        recordStep: (s) => s.recordStep({ taskId: "x", position: 0, name: "s", result: 1, at: 0 }),
        steps: (s) => s.steps("x"),
        pruneSteps: (s) => s.pruneSteps(0),
      }));
  });
}
