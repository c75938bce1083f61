/**
 * A transport's `publish` may throw at once instead of failing a promise
 * (a closed or draining connection, NATS's payload limit). The outbox sent
 * a committed handler's messages together, and such a throw escaped from
 * the middle of the batch: the tasks behind the event were never handed to
 * the bus, and every entry of the batch stayed marked in flight, which the
 * relay and a redelivery's resend skip, so a child task committed with its
 * parent was lost until the process restarted.
 */
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { NodeOutbox } from "../../src/runtime/outbox.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { EnqueueOptions, EnqueueResult } from "../../src/transport/port.js";

const store = openSqliteStore({ path: ":memory:" });
afterEach(() => store.close());

test("a publish that throws leaves the task committed beside it to be sent", async () => {
  const clock = new ManualClock(0);
  const events: SwarmEvent[] = [];
  const enqueued: string[] = [];
  let connected = false;
  const transport = {
    kind: "nats",
    features: { durableAcrossRestart: true, releasesOnClose: false },
    publish() {
      if (!connected) throw new Error("connection closed");
    },
    async enqueue(_subject: string, _data: Uint8Array, o: EnqueueOptions): Promise<EnqueueResult> {
      if (!connected) throw new Error("connection closed");
      enqueued.push(o.msgId);
      return { duplicate: false };
    },
  };
  const node = {
    store,
    clock,
    transport,
    random: () => 0.5,
    events: { emit: (e: SwarmEvent) => events.push(e) },
  };
  const outbox = new NodeOutbox(node as unknown as NodeContext);
  const committed = await outbox
    .commit("parent", "a", {
      effects: [],
      outbox: [
        { id: "event-1", mode: "publish", subject: "s.event.x", data: new Uint8Array([1]) },
        { id: "child-1", mode: "enqueue", subject: "s.task.r.x", data: new Uint8Array([2]) },
      ],
    })
    .then(
      () => "ok",
      (error: unknown) => error,
    );
  assert.equal(committed, "ok", "the commit happened: a send that failed is left to the relay");
  assert.ok(
    events.some((e) => e.type === "error"),
    "the failed send is reported",
  );
  // The bus is back: the task's redelivery (a duplicate) sends what is pending.
  connected = true;
  assert.equal(await outbox.resend("parent"), true);
  await outbox.stop();
  assert.deepEqual(enqueued, ["child-1"], "the child task reached the bus");
  assert.deepEqual(await store.pendingOutbox(), []);
});
