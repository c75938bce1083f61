/**
 * An idle consumer of a replicated NATS queue notices a stream holding
 * messages it does not see, and asks the server for another consumer leader
 * (src/transport/nats/consumer-health.ts; docs/CHAOS.md, finding 16).
 *
 * The server bug it guards against cannot be caused at will, so the parts
 * are checked apart: the verdict on positions; the looks at idle queues
 * (report and step-down) against answers faked stuck; a consumer telling
 * its transport when its queue is idle; and reading the positions and
 * moving the consumer's leader on a private 3-node cluster.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Clock, ManualClock, systemClock } from "../../src/core/clock.js";
import { TransportError } from "../../src/errors/index.js";
import {
  type NatsCluster,
  natsServerAvailable,
  startNatsCluster,
} from "../../src/testkit/brokers/nats-server.js";
import {
  ConsumerWatch,
  IdleQueueWatch,
  LOOK_EVERY_MS,
  type QueuePositions,
  strandedMessages,
  unseenMessages,
} from "../../src/transport/nats/consumer-health.js";
import { loadDriver, type PullConsumer } from "../../src/transport/nats/driver.js";
import { type ConsumerHost, NatsConsumer } from "../../src/transport/nats/nats-consumer.js";
import { DURABLE, settingsOf } from "../../src/transport/nats/queue-settings.js";
import { NatsTopology } from "../../src/transport/nats/topology.js";
import { redriveMsgId } from "../../src/transport/settlement.js";
import { until } from "../helpers/until.js";

const at = (p: Partial<QueuePositions>): QueuePositions => ({
  streamLastSeq: 10,
  streamMessages: 3,
  delivered: 7,
  pending: 0,
  ackPending: 0,
  ...p,
});

describe("consumer health: the verdict", () => {
  test("messages past the delivered sequence with nothing pending are unseen", () => {
    assert.equal(unseenMessages(at({})), 3);
    assert.equal(unseenMessages(at({ pending: 3 })), 0, "pending: the consumer sees them");
    assert.equal(unseenMessages(at({ ackPending: 1 })), 0, "work in flight: not idle");
    assert.equal(unseenMessages(at({ delivered: 10 })), 0);
    assert.equal(unseenMessages(at({ streamMessages: 0 })), 0, "an empty stream hides nothing");
  });

  test("messages at or below the delivered sequence with nothing pending are stranded", () => {
    const atFloor = at({ delivered: 10 });
    assert.equal(strandedMessages(atFloor), 3);
    assert.equal(unseenMessages(atFloor), 0);
    assert.equal(strandedMessages(at({})), 0, "past the delivered sequence: unseen, not stranded");
    assert.equal(strandedMessages(at({ delivered: 10, pending: 1 })), 0);
    assert.equal(strandedMessages(at({ delivered: 10, ackPending: 1 })), 0, "in flight");
    assert.equal(strandedMessages(at({ delivered: 10, streamMessages: 0 })), 0);
    const watch = new ConsumerWatch();
    assert.equal(watch.observe(atFloor).kind, "suspect");
    const verdict = watch.observe(atFloor);
    assert.equal(verdict.kind === "stuck" ? verdict.stranded : -1, 3);
  });

  test("stuck only on the second look at the same position; a delivery in between starts over", () => {
    const watch = new ConsumerWatch();
    assert.equal(watch.observe(at({})).kind, "suspect");
    assert.equal(watch.observe(at({ delivered: 8 })).kind, "suspect", "it moved: look again");
    const verdict = watch.observe(at({ delivered: 8 }));
    assert.equal(verdict.kind, "stuck");
    assert.equal(verdict.kind === "stuck" ? verdict.unseen : 0, 2);
    assert.equal(watch.observe(at({ delivered: 8 })).kind, "suspect", "acted on: start over");
    assert.equal(watch.observe(at({ pending: 2 })).kind, "healthy");
    assert.equal(watch.observe(at({})).kind, "suspect");
  });
});

describe("consumer health: looking at idle queues", () => {
  /** An IdleQueueWatch on a manual clock, with the server's answers faked. */
  const watching = (answer: () => QueuePositions) => {
    const clock = new ManualClock(0);
    const reports: Error[] = [];
    const moves: string[] = [];
    const requeued: [string, number][] = [];
    let looks = 0;
    const watch = new IdleQueueWatch({
      clock,
      positions: async () => {
        looks++;
        return answer();
      },
      moveConsumerLeader: async (queue) => {
        moves.push(queue);
      },
      requeueStranded: async (queue, upTo) => {
        requeued.push([queue, upTo]);
        return 3;
      },
      report: (e) => reports.push(e),
      isOpen: () => true,
    });
    return { clock, reports, moves, requeued, watch, looks: () => looks };
  };

  test("two looks a while apart at a stuck position: one report, one step-down", async () => {
    const w = watching(() => at({}));
    w.watch.idle("q");
    await sleep(1);
    w.watch.idle("q"); // too soon after the first look: nothing
    await sleep(1);
    assert.equal(w.looks(), 1);
    w.clock.advance(LOOK_EVERY_MS);
    w.watch.idle("q");
    await until(() => w.moves.length === 1, 1_000, "the step-down");
    assert.deepEqual(w.moves, ["q"]);
    assert.equal(w.reports.length, 1);
    assert.ok(w.reports[0] instanceof TransportError);
    assert.match(
      w.reports[0]?.message ?? "",
      /queue "q": its NATS consumer does not see 3 message\(s\).*stream up to sequence 10, consumer delivered up to 7/,
    );
  });

  test("stranded messages, two looks apart: put back on the queue, reported, no step-down", async () => {
    const w = watching(() => at({ delivered: 10 }));
    w.watch.idle("q");
    await sleep(1);
    w.clock.advance(LOOK_EVERY_MS);
    w.watch.idle("q");
    await until(() => w.reports.length === 1, 1_000, "the report");
    assert.deepEqual(w.requeued, [["q", 10]]);
    assert.deepEqual(w.moves, []);
    assert.match(
      w.reports[0]?.message ?? "",
      /queue "q": its NATS stream held 3 message\(s\) at or below what its consumer counted as delivered and acknowledged \(up to sequence 10/,
    );
  });

  test("a healthy queue is only looked at; several consumers of one queue share the looks", async () => {
    const w = watching(() => at({ pending: 3 }));
    for (let i = 0; i < 3; i++) {
      for (let c = 0; c < 4; c++) w.watch.idle("q"); // 4 agents of one role
      await sleep(1);
      w.clock.advance(LOOK_EVERY_MS);
    }
    assert.equal(w.looks(), 3);
    assert.deepEqual(w.moves, []);
    assert.deepEqual(w.reports, []);
  });

  test("a consumer whose pull expires empty tells its transport the queue is idle", async () => {
    let t = 0;
    // Every reading of the clock is 16 s after the last: each empty pull counts as expired.
    const clock: Clock = { now: () => (t += 16_000), setTimer: systemClock.setTimer };
    const idle: string[] = [];
    const emptyPull = {
      fetch: async () => {
        await sleep(5);
        return Object.assign((async function* () {})(), { stop: () => undefined });
      },
    } as unknown as PullConsumer;
    const host = {
      clock,
      settings: async () =>
        settingsOf({
          name: "q",
          subjects: "q.>",
          ackWaitMs: 5_000,
          maxDeliver: 5,
          deadLetterSubject: "d.q",
        }),
      cachedSettings: () => undefined,
      pullConsumer: async () => emptyPull,
      idle: (queue: string) => idle.push(queue),
      report: () => undefined,
      isClosed: () => false,
      detached: () => undefined,
    } as unknown as ConsumerHost;
    const consumer = new NatsConsumer("q", () => undefined, 4, host);
    try {
      await until(() => idle.length >= 2, 5_000, "idle reports");
      assert.ok(idle.every((q) => q === "q"));
    } finally {
      await consumer.close();
    }
  });
});

const missing = natsServerAvailable() ? undefined : "nats-server is not on PATH";

describe("consumer health on a 3-node cluster", { skip: missing ?? false }, () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;

  before(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: [...cluster.urls] });
  });
  after(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  test("the positions of a replicated queue, and moving its consumer's leader", async () => {
    const driver = await loadDriver();
    const jsm = await jetstreamManager(nc);
    const topology = new NatsTopology({
      driver,
      nc,
      js: jetstream(nc),
      jsm,
      clock: systemClock,
      dedupWindowMs: 120_000,
      storage: "file",
      replicas: 3,
      ensureQueueRetryMs: 15_000,
      report: () => undefined,
      isClosed: () => false,
    });
    const queue = `h${randomBytes(4).toString("hex")}`;
    await topology.ensureQueue({
      name: `${queue}-dead`,
      subjects: `${queue}-dead.>`,
      ackWaitMs: 5_000,
      maxDeliver: 5,
      deadLetterSubject: `${queue}-dead.dead`,
    });
    await topology.ensureQueue({
      name: queue,
      subjects: `${queue}.>`,
      ackWaitMs: 5_000,
      maxDeliver: 5,
      deadLetterSubject: `${queue}-dead.x`,
    });
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish(`${queue}.task`, new Uint8Array([i]));
    // The consumer's leader counts what is pending a moment after the stream stored it (2.10+).
    await until(
      async () => (await topology.positions(queue)).pending === 3,
      5_000,
      "the consumer counting 3 pending",
    ).catch(() => undefined);
    assert.deepEqual(await topology.positions(queue), {
      streamLastSeq: 3,
      streamMessages: 3,
      delivered: 0,
      pending: 3,
      ackPending: 0,
    });
    // What stranded messages would be put back with: each read back whole,
    // and removed only while its sequence still holds the same message.
    const stored = [];
    for await (const m of topology.storedUpTo(queue, 2)) stored.push(m);
    assert.deepEqual(
      stored.map((m) => [m.seq, m.subject, [...m.data], m.msgId]),
      [
        [1, `${queue}.task`, [0], `${queue}:1`],
        [2, `${queue}.task`, [1], `${queue}:2`],
      ],
    );
    await js.publish(`${queue}.task`, new Uint8Array([3]), {
      msgID: "m4",
      headers: (() => {
        const h = driver.core.headers();
        h.set("conclave-run", "r1");
        return h;
      })(),
    });
    const all = [];
    for await (const m of topology.storedUpTo(queue, 4)) all.push(m);
    const fourth = all[3];
    assert.equal(fourth?.msgId, "m4");
    assert.equal(fourth?.headers["conclave-run"], "r1");
    assert.equal(redriveMsgId("m4", 4), "m4.redrive.4");
    await topology.removeStored(queue, 4, "another id", "test");
    assert.equal((await jsm.streams.info(queue)).state.messages, 4, "not the same message: kept");
    await topology.removeStored(queue, 4, "m4", "test");
    assert.equal((await jsm.streams.info(queue)).state.messages, 3);

    const leader = async () => (await jsm.consumers.info(queue, DURABLE)).cluster?.leader;
    const before = await leader();
    assert.ok(before, "the consumer has a leader");
    await topology.moveConsumerLeader(queue);
    await until(
      async () => {
        const now = await leader().catch(() => undefined);
        return now !== undefined && now !== before;
      },
      15_000,
      "another consumer leader",
    );
  });
});
