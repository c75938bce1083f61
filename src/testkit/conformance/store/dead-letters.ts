/**
 * The `DeadLetterStore` part of the store conformance suite: a dead letter
 * is recorded once by id and listed with its root, and redriven (removed and
 * its task queued) in one step.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeadLetterStore, TaskStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  id,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `DeadLetterStore` (dead letters kept with their reasons); see the port's contract. */
export function runDeadLetterStoreConformance(
  options: StorePartOptions<DeadLetterStore & Closable>,
): void {
  describeStorePart("dead-letter store", options, (fixture) => {
    test("dead letters are recorded once and listed with their root", async () => {
      const dl = {
        id: id(),
        subject: "s.dlq.dev",
        reason: "boom",
        deliveries: 3,
        at: 5,
        corr: "root-x",
        type: "task.code",
        data: "eyJ9",
      };
      await fixture.store.recordDeadLetter(dl);
      await fixture.store.recordDeadLetter(dl);
      const all = (await fixture.store.deadLetters()).filter((d) => d.id === dl.id);
      assert.deepEqual(all, [dl]);
      assert.ok((await fixture.store.deadLetteredRoots()).includes("root-x"));
    });

    test("a dead letter is read by id and removed once (a redrive)", async () => {
      const dl = {
        id: id(),
        subject: "s.task.dev.code",
        reason: "boom",
        deliveries: 5,
        at: 7,
        data: "e30",
      };
      await fixture.store.recordDeadLetter(dl);
      assert.deepEqual(await fixture.store.deadLetter(dl.id), dl);
      assert.equal(await fixture.store.deadLetter(id()), undefined);
      assert.equal(await fixture.store.removeDeadLetter(dl.id), true);
      assert.equal(await fixture.store.removeDeadLetter(dl.id), false);
      assert.equal(await fixture.store.deadLetter(dl.id), undefined);
      // Dead-lettered anew after the redrive: recorded again.
      await fixture.store.recordDeadLetter({ ...dl, reason: "boom again" });
      assert.equal((await fixture.store.deadLetter(dl.id))?.reason, "boom again");
    });

    test("redriveDeadLetter removes the dead letter and queues its task in one step, once", async () => {
      const store = fixture.store as DeadLetterStore & Closable & Partial<TaskStore>;
      const dl = {
        id: id(),
        subject: "s.task.dev.code",
        reason: "boom",
        deliveries: 5,
        at: 7,
        data: "e30",
      };
      await store.recordDeadLetter(dl);
      const taskId = `redrive:${dl.id}:1`;
      const send = {
        id: `${dl.id}.redrive.1000`,
        taskId,
        subject: dl.subject,
        data: new TextEncoder().encode("{}"),
      };
      assert.equal(await store.redriveDeadLetter(dl.id, send), true);
      assert.equal(await store.deadLetter(dl.id), undefined);
      if (store.pendingOutbox !== undefined) {
        const pending = await store.pendingOutbox({ taskId });
        assert.deepEqual(
          pending.map((e) => [e.id, e.taskId, e.mode, e.subject]),
          [[send.id, taskId, "enqueue", dl.subject]],
        );
        assert.deepEqual([...(pending[0]?.data ?? [])], [...send.data]);
      }
      // No dead letter (any more): nothing is written.
      const again = { ...send, id: `${dl.id}.redrive.2000`, taskId: `redrive:${dl.id}:2` };
      assert.equal(await store.redriveDeadLetter(dl.id, again), false);
      if (store.pendingOutbox !== undefined) {
        assert.deepEqual(await store.pendingOutbox({ taskId: again.taskId }), []);
      }
    });

    test("a closed handle refuses every dead-letter call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        recordDeadLetter: (s) =>
          s.recordDeadLetter({
            id: "x",
            subject: "s",
            reason: "r",
            deliveries: 1,
            at: 0,
            data: "",
          }),
        deadLetters: (s) => s.deadLetters(),
        deadLetteredRoots: (s) => s.deadLetteredRoots(),
        deadLetter: (s) => s.deadLetter("x"),
        removeDeadLetter: (s) => s.removeDeadLetter("x"),
        redriveDeadLetter: (s) =>
          s.redriveDeadLetter("x", {
            id: "x.redrive.1",
            taskId: "t",
            subject: "s",
            data: new Uint8Array(),
          }),
      }));
  });
}
