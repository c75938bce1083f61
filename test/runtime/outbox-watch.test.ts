/**
 * The outbox's watch over sent tasks (src/runtime/outbox-watch.ts), pass by
 * pass on a manual clock: a real SQLite store holds the sent entries, and a
 * scripted broker answers `holds` (held, gone, cannot tell) and takes the
 * sends again. The NATS broker itself is exercised by
 * test/integration/lost-send-nats.test.ts.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { SentWatch } from "../../src/runtime/outbox-watch.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";
import type { EnqueueOptions, EnqueueResult } from "../../src/transport/port.js";

const SETTINGS = { afterMs: 1000, graceMs: 500, maxResends: 2, perPass: 10 };

describe("the outbox's watch over sent tasks", () => {
  let store: SqliteStore;
  let clock: ManualClock;
  let events: SwarmEvent[];
  /** What the broker answers for a message id: held, gone, or cannot tell. */
  let answers: Map<string, boolean | undefined>;
  let sent: { subject: string; msgId: string }[];
  let watch: SentWatch;

  beforeEach(async () => {
    store = openSqliteStore({ path: ":memory:" });
    clock = new ManualClock(10_000);
    events = [];
    answers = new Map();
    sent = [];
    const transport = {
      features: { durableAcrossRestart: true, releasesOnClose: false, watchSent: true },
      async holds(_receipt: string, msgId: string) {
        return answers.has(msgId) ? answers.get(msgId) : true;
      },
      async enqueue(subject: string, _data: Uint8Array, o: EnqueueOptions): Promise<EnqueueResult> {
        sent.push({ subject, msgId: o.msgId });
        return { duplicate: false, receipt: `${sent.length + 100}:s` };
      },
    };
    const node = { store, clock, transport, events: { emit: (e: SwarmEvent) => events.push(e) } };
    watch = new SentWatch(node as unknown as NodeContext, SETTINGS);
    await store.completeTask({
      taskId: "parent",
      agent: "a",
      at: 0,
      effects: [],
      outbox: ["t1", "t2"].map((id) => ({
        id,
        mode: "enqueue" as const,
        subject: `s.task.r.${id}`,
        data: new TextEncoder().encode(id),
      })),
    });
    await store.markOutboxSent([
      { id: "t1", at: clock.now(), receipt: "1:s" },
      { id: "t2", at: clock.now(), receipt: "2:s" },
    ]);
  });
  afterEach(() => store.close());

  const watched = async () =>
    (await store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER })).map((e) => [
      e.id,
      e.sentAt,
      e.resends,
    ]);

  test("nothing is looked at before afterMs; a held task is looked at again afterMs later", async () => {
    await watch.pass();
    clock.advance(999);
    await watch.pass();
    assert.deepEqual(await watched(), [
      ["t1", 10_000, 0],
      ["t2", 10_000, 0],
    ]);
    clock.advance(1);
    await watch.pass();
    assert.deepEqual(await watched(), [
      ["t1", 11_000, 0],
      ["t2", 11_000, 0],
    ]);
    assert.deepEqual(sent, []);
  });

  test("a task gone on two passes a grace apart is sent again under a new id, once", async () => {
    answers.set("t1", false);
    clock.advance(1000);
    await watch.pass();
    assert.deepEqual(sent, [], "not on the first look: a completion may have just committed");
    clock.advance(499);
    await watch.pass();
    assert.deepEqual(sent, [], "not within the grace");
    clock.advance(1);
    await watch.pass();
    assert.deepEqual(sent, [{ subject: "s.task.r.t1", msgId: "t1.redrive.1" }]);
    assert.deepEqual(
      events.filter((e) => e.type === "task.resent"),
      [{ type: "task.resent", id: "t1", subject: "s.task.r.t1", resends: 1 }],
    );
    const t1 = (await store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER })).find(
      (e) => e.id === "t1",
    );
    assert.deepEqual([t1?.sentAt, t1?.receipt, t1?.resends], [11_500, "101:s", 1]);
    // The copy is held: it waits its turn like any other.
    clock.advance(1000);
    await watch.pass();
    assert.equal(sent.length, 1);
  });

  test("a task settled between two looks is not sent again", async () => {
    answers.set("t1", false);
    clock.advance(1000);
    await watch.pass();
    await store.completeTask({
      taskId: "t1",
      agent: "b",
      at: 1,
      effects: [],
      outbox: [],
      settles: ["t1"],
    });
    clock.advance(1000);
    await watch.pass();
    assert.deepEqual(sent, []);
    assert.deepEqual(
      (await watched()).map(([id]) => id),
      ["t2"],
    );
  });

  test("cannot tell keeps what an earlier look found; it never starts the grace by itself", async () => {
    answers.set("t1", false);
    answers.set("t2", undefined);
    clock.advance(1000);
    await watch.pass();
    answers.set("t1", undefined);
    clock.advance(500);
    await watch.pass();
    assert.equal(sent.length, 0, "unsure: not sent");
    answers.set("t1", false);
    answers.set("t2", false);
    clock.advance(100);
    await watch.pass();
    assert.deepEqual(
      sent.map((s) => s.msgId),
      ["t1.redrive.1"],
      "t1 was gone 600 ms; t2's grace starts now",
    );
  });

  test("after maxResends sends it is reported and no longer watched", async () => {
    answers.set("t1", false);
    answers.set("t1.redrive.1", false);
    answers.set("t1.redrive.2", false);
    for (let i = 0; i < 12; i++) {
      clock.advance(500);
      await watch.pass();
    }
    assert.deepEqual(
      sent.map((s) => s.msgId),
      ["t1.redrive.1", "t1.redrive.2"],
    );
    const errors = events.filter((e) => e.type === "error");
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]?.type === "error" ? errors[0].error : "",
      /task t1 to "s\.task\.r\.t1": the bus took it 3 times and no longer holds it/,
    );
    assert.deepEqual(
      (await watched()).map(([id]) => id),
      ["t2"],
    );
  });

  test("turned off, its first pass forgets what an earlier run kept; it sends nothing", async () => {
    // Pages of one: the loop must go past a full page.
    const off = new SentWatch(
      {
        store,
        clock,
        transport: { features: { durableAcrossRestart: true, releasesOnClose: false } },
        events: { emit: (e: SwarmEvent) => events.push(e) },
      } as unknown as NodeContext,
      { ...SETTINGS, perPass: 1 },
    );
    await store.completeTask({
      taskId: "other",
      agent: "a",
      at: 0,
      effects: [],
      outbox: [
        { id: "t3", mode: "enqueue", subject: "s.task.r.t3", data: new TextEncoder().encode("t3") },
      ],
    });
    assert.equal(off.active, false);
    await off.pass();
    assert.deepEqual(await watched(), []);
    assert.deepEqual(
      (await store.pendingOutbox({})).map((e) => e.id),
      ["t3"],
      "what was never sent stays for the relay",
    );
    assert.deepEqual(sent, []);
    assert.deepEqual(events, []);
  });
});
