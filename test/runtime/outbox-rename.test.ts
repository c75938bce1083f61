/**
 * A task NATS keeps refusing as "still replicating an earlier publish of
 * this message id" goes under a new id after 10 s. Chaos nats-r3-partition
 * seed 701 (2,000 tasks, nats-server 2.10.27): a publish proposed by a stream
 * leader just cut off was dropped, and the server answered every later
 * publish of that id "duplicate, sequence 0" for the rest of the run (111 s;
 * its duplicate window is 2 minutes), so the task was lost and the swarm
 * stuck. Here a scripted transport refuses the id as NATS did.
 */
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { ReplicationPendingError } from "../../src/errors/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { NodeOutbox } from "../../src/runtime/outbox.js";
import { SENT_WATCH_DEFAULTS } from "../../src/runtime/outbox-watch.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { EnqueueOptions, EnqueueResult } from "../../src/transport/port.js";

const store = openSqliteStore({ path: ":memory:" });
afterEach(() => store.close());

test("a task refused as still replicating for 10 s is sent under a new id, and watched under it", async () => {
  const clock = new ManualClock(0);
  const events: SwarmEvent[] = [];
  const tried: string[] = [];
  const transport = {
    kind: "nats",
    features: { durableAcrossRestart: true, releasesOnClose: false, watchSent: true },
    async holds() {
      return true;
    },
    async enqueue(_subject: string, _data: Uint8Array, o: EnqueueOptions): Promise<EnqueueResult> {
      tried.push(o.msgId);
      if (o.msgId === "x") throw new ReplicationPendingError("still replicating x");
      return { duplicate: false, receipt: "5:s" };
    },
  };
  const node = {
    store,
    clock,
    transport,
    random: () => 0.5,
    events: { emit: (e: SwarmEvent) => events.push(e) },
  };
  const outbox = new NodeOutbox(node as unknown as NodeContext, SENT_WATCH_DEFAULTS);
  await outbox.commit("t", "a", {
    effects: [],
    outbox: [{ id: "x", mode: "enqueue", subject: "s.task.r.x", data: new Uint8Array([1]) }],
  });
  for (const at of [5000, 9999, 10_000, 10_001]) {
    clock.advance(at - clock.now());
    await outbox.resend("t");
  }
  await outbox.stop();
  assert.deepEqual(tried, ["x", "x", "x", "x", "x.redrive.1"]);
  const [entry, ...rest] = await store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER });
  assert.deepEqual(rest, []);
  assert.deepEqual(
    [entry?.id, entry?.sentAt, entry?.receipt, entry?.resends],
    ["x", 10_001, "5:s", 1],
    "marked sent as its first copy, so the watch asks about x.redrive.1",
  );
  assert.deepEqual(await store.pendingOutbox(), []);
  assert.equal(events.filter((e) => e.type === "error").length, 4, "each refusal reported");
});
