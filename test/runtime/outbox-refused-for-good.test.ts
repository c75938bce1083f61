/**
 * An outbox entry the bus refuses for a reason that sending again cannot
 * fix (a subject the transport refuses as invalid, a `PermanentError` such
 * as NATS's payload limit) used to stay in the outbox: the relay sent it
 * again on every pass, for ever, reporting an error each time, and the task
 * never ran nor died, so its sender waited for nothing. Now such an entry
 * leaves the outbox as a dead letter with the refusal as its reason (sent
 * to the swarm's dead-letter queue, where it is recorded as any dead task
 * is), reported once; a transient failure is still sent again.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import {
  ChildTaskFailedError,
  InvalidSubjectError,
  PermanentError,
  TransportError,
} from "../../src/errors/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { NodeOutbox } from "../../src/runtime/outbox.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";
import { ephemeralKeys } from "../../src/testkit/index.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import {
  DeadLetterHeaders,
  type EnqueueOptions,
  type EnqueueResult,
  type Headers,
  type Transport,
} from "../../src/transport/port.js";

const BAD = "s.task.r.refused";
const FLAKY = "s.task.r.flaky";

describe("the outbox relay and entries the bus refuses for good", () => {
  let store: SqliteStore;
  let clock: ManualClock;
  let events: SwarmEvent[];
  let tries: string[];
  let taken: { subject: string; msgId: string; headers: Headers | undefined }[];
  let refusal: () => Error;
  /** The dead-letter queue's subject fails transiently while true. */
  let dlqDown: boolean;
  let outbox: NodeOutbox;

  beforeEach(() => {
    store = openSqliteStore({ path: ":memory:" });
    clock = new ManualClock(1_000_000);
    events = [];
    tries = [];
    taken = [];
    refusal = () => new InvalidSubjectError(BAD, "it is longer than 255 bytes");
    dlqDown = false;
    const transport = {
      kind: "amqp",
      features: { durableAcrossRestart: true, releasesOnClose: true },
      publish(subject: string) {
        if (subject === BAD) throw refusal();
      },
      async enqueue(subject: string, _data: Uint8Array, o: EnqueueOptions): Promise<EnqueueResult> {
        tries.push(subject);
        if (subject === BAD) throw refusal();
        if (subject === FLAKY || (dlqDown && subject === "s.dlq.outbox")) {
          throw new TransportError("the channel closed before a confirm");
        }
        taken.push({ subject, msgId: o.msgId, headers: o.headers });
        return { duplicate: false };
      },
    };
    const node = {
      swarm: "s",
      store,
      clock,
      transport,
      random: { next: () => 0.5 },
      events: { emit: (e: SwarmEvent) => events.push(e) },
    };
    outbox = new NodeOutbox(node as unknown as NodeContext);
  });
  afterEach(async () => {
    await outbox.stop();
    store.close();
  });

  /** What a crash between commit and send leaves: committed entries, never sent. */
  const crashedAfterCommit = (entries: { id: string; subject: string; mode?: "publish" }[]) =>
    store.completeTask({
      taskId: "parent",
      agent: "a",
      at: clock.now(),
      effects: [],
      outbox: entries.map((e) => ({
        id: e.id,
        mode: e.mode ?? ("enqueue" as const),
        subject: e.subject,
        data: new TextEncoder().encode(e.id),
      })),
    });

  /** Runs `n` relay passes (each one at most the relay's longest spacing apart). */
  const relayPasses = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(30_000);
      for (let j = 0; j < 20; j++) await new Promise((resolve) => setImmediate(resolve));
    }
  };

  const errors = () => events.filter((e) => e.type === "error");
  const pendingIds = async () => (await store.pendingOutbox()).map((e) => e.id);

  test("a task refused as an invalid subject is dead-lettered with the reason, once", async () => {
    await crashedAfterCommit([{ id: "t-bad", subject: BAD }]);
    await outbox.start();
    await relayPasses(6);
    assert.deepEqual(await pendingIds(), [], "the refused task left the outbox");
    assert.equal(
      tries.filter((s) => s === BAD).length,
      1,
      "the relay did not send it again and again",
    );
    assert.equal(taken.length, 1, "one dead letter");
    const dead = taken[0] as (typeof taken)[number];
    assert.equal(dead.subject, "s.dlq.outbox");
    assert.equal(dead.msgId, "dlq:t-bad");
    assert.equal(dead.headers?.[DeadLetterHeaders.msgId], "t-bad");
    assert.equal(dead.headers?.[DeadLetterHeaders.subject], BAD);
    assert.match(dead.headers?.[DeadLetterHeaders.reason] ?? "", /InvalidSubjectError.*255 bytes/);
    assert.equal(errors().length, 1, "reported once");
    assert.match(JSON.stringify(errors()[0]), /t-bad.*dead-lettered/);
  });

  test("a PermanentError from the transport dead-letters the task sent at commit", async () => {
    refusal = () => new PermanentError("the broker never takes this message");
    await outbox.start();
    await outbox.commit("parent", "a", {
      effects: [],
      outbox: [
        { id: "t-bad", mode: "enqueue", subject: BAD, data: new Uint8Array([1]) },
        { id: "t-ok", mode: "enqueue", subject: "s.task.r.ok", data: new Uint8Array([2]) },
      ],
    });
    await relayPasses(4);
    assert.deepEqual(await pendingIds(), []);
    assert.deepEqual(
      taken.map((t) => [t.subject, t.msgId]),
      [
        ["s.task.r.ok", "t-ok"],
        ["s.dlq.outbox", "dlq:t-bad"],
      ],
    );
    assert.equal(tries.filter((s) => s === BAD).length, 1);
    assert.equal(errors().length, 1, "reported once");
  });

  test("an event the transport refuses for good is forgotten, reported once", async () => {
    await crashedAfterCommit([{ id: "e-bad", subject: BAD, mode: "publish" }]);
    await outbox.start();
    await relayPasses(6);
    assert.deepEqual(await pendingIds(), []);
    assert.deepEqual(taken, [], "an event has no dead letter: it is not a task");
    assert.equal(errors().length, 1, "reported once");
  });

  test("a transient failure is still sent again on later passes", async () => {
    await crashedAfterCommit([{ id: "t-flaky", subject: FLAKY }]);
    await outbox.start();
    await relayPasses(6);
    assert.deepEqual(await pendingIds(), ["t-flaky"], "kept for the relay");
    assert.ok(tries.filter((s) => s === FLAKY).length >= 4, "retried pass after pass");
    assert.deepEqual(taken, [], "never dead-lettered");
  });

  test("a task whose dead letter the bus cannot take yet stays in the outbox, tried again", async () => {
    dlqDown = true;
    await crashedAfterCommit([{ id: "t-bad", subject: BAD }]);
    await outbox.start();
    await relayPasses(3);
    assert.deepEqual(
      await pendingIds(),
      ["t-bad"],
      "not lost: kept until its dead letter is taken",
    );
    dlqDown = false;
    await relayPasses(3);
    assert.deepEqual(await pendingIds(), []);
    assert.deepEqual(
      taken.map((t) => t.msgId),
      ["dlq:t-bad"],
    );
  });
});

describe("in a swarm", () => {
  test("a child task the bus refuses for good dies with the reason, and its caller hears it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-refused-"));
    const memory = await createMemoryTransport({ journalPath: join(dir, "journal.db") });
    // A transport that refuses one subject as invalid, as RabbitMQ refuses a routing key over 255 bytes.
    const refusing = new Proxy(memory, {
      get(target, key) {
        if (key === "enqueue") {
          return (subject: string, data: Uint8Array, options: EnqueueOptions) =>
            subject === "test.task.worker.refused"
              ? Promise.reject(new InvalidSubjectError(subject, "the broker refuses it"))
              : target.enqueue(subject, data, options);
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Transport;
    const swarm = createSwarm({
      name: "test",
      keys: ephemeralKeys(),
      roles: { lead: { tasks: ["ask"] }, worker: { tasks: ["refused"] } },
      transport: refusing,
      store: openSqliteStore({ path: join(dir, "store.db") }),
    });
    const errors: string[] = [];
    swarm.on((e) => {
      if (e.type === "error") errors.push(e.error);
    });
    try {
      let ran = false;
      swarm.agent({ id: "lead", role: "lead" }).handle("ask", async (ctx) => {
        try {
          return await ctx.call("worker", "refused", {});
        } catch (error) {
          return error instanceof ChildTaskFailedError ? `child died: ${error.reason}` : "other";
        }
      });
      swarm.agent({ id: "w", role: "worker" }).handle("refused", () => {
        ran = true;
        return 1;
      });
      await swarm.start();
      const root = await swarm.submit("lead", "ask", {}, { as: "lead" });
      const answer = await swarm.wait(root, { timeoutMs: 10_000 });
      assert.match(String(answer), /child died: .*refused it for good.*InvalidSubjectError/);
      assert.equal(ran, false);
      const dead = await swarm.store.deadLetters();
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.subject, "test.task.worker.refused");
      assert.deepEqual(await swarm.store.pendingOutbox(), []);
      assert.equal(errors.filter((e) => /dead-lettered/.test(e)).length, 1, errors.join("\n"));
    } finally {
      await swarm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
