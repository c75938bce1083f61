/**
 * Draining a NATS consumer, and messages it gives back unhandled, never
 * spend a delivery attempt (src/transport/nats/nats-consumer.ts,
 * released-deliveries.ts).
 *
 * JetStream counts every delivery, a NAK'd one included, and the adapter
 * dead-letters on that count. A consumer used to NAK what its pulls still
 * brought while it drained: with `maxDeliver` 1 such a message was
 * dead-lettered as "delivered 1 times" though no handler had seen it, and
 * otherwise every drain cost real attempts. Checked against a scripted pull
 * consumer (what arrives while draining goes to the handler; a delivery the
 * consumer released is not counted on its redelivery), and on a private
 * nats-server with enqueues streaming in while consumers drain.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { natsServerAvailable, startNatsServer } from "../../src/testkit/brokers/nats-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import type { PullConsumer } from "../../src/transport/nats/driver.js";
import { createNatsTransport } from "../../src/transport/nats/index.js";
import { type ConsumerHost, NatsConsumer } from "../../src/transport/nats/nats-consumer.js";
import { settingsOf } from "../../src/transport/nats/queue-settings.js";
import { ReleasedDeliveries } from "../../src/transport/nats/released-deliveries.js";
import type { Delivery } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

/** A fetch whose messages the test pushes; its inbox drain runs `onDrain` first. */
class ScriptedFetch {
  readonly #items: unknown[] = [];
  #wake: (() => void) | undefined;
  #stopped = false;
  onDrain: (() => void) | undefined;
  readonly sub = {
    drain: async () => {
      this.onDrain?.();
      await sleep(5);
    },
  };

  constructor(readonly batch: number) {}

  push(message: unknown): void {
    this.#items.push(message);
    this.#wake?.();
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator]() {
    while (true) {
      while (this.#items.length > 0) yield this.#items.shift();
      if (this.#stopped) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

const queue = settingsOf({
  name: "q",
  subjects: "q.>",
  ackWaitMs: 30_000,
  maxDeliver: 1,
  deadLetterSubject: "d.q",
});

/** A leased JetStream message as the consumer reads it, logging how it is settled. */
function jsMsg(seq: number, deliveryCount: number, log: string[]) {
  return {
    seq,
    subject: "q.a",
    data: new Uint8Array([seq]),
    headers: undefined,
    info: { stream: queue.stream, deliveryCount },
    nak: () => log.push(`nak ${seq}`),
    term: () => log.push(`term ${seq}`),
    working: () => undefined,
    ackAck: async () => {
      log.push(`ack ${seq}`);
      return true;
    },
  };
}

/** A consumer of `queue` over scripted fetches. */
function scripted(handler: (d: Delivery) => Promise<void>, maxInFlight: number) {
  const fetches: ScriptedFetch[] = [];
  const deadLetters: string[] = [];
  const pull = {
    fetch: async (options: { max_messages: number }) => {
      const fetch = new ScriptedFetch(options.max_messages);
      fetches.push(fetch);
      return fetch;
    },
    info: async () => ({}),
  } as unknown as PullConsumer;
  const host = {
    clock: systemClock,
    settings: async () => queue,
    cachedSettings: () => queue,
    pullConsumer: async () => pull,
    idle: () => undefined,
    publishDeadLetter: async (_subject: string, _data: Uint8Array, msgId: string) => {
      deadLetters.push(msgId);
    },
    completeDeadLetter: async () => undefined,
    confirmAck: async () => undefined,
    flush: async () => undefined,
    report: () => undefined,
    detached: () => undefined,
    isClosed: () => false,
    released: new ReleasedDeliveries(),
  } as unknown as ConsumerHost;
  const consumer = new NatsConsumer(queue.name, handler, maxInFlight, host);
  return { consumer, fetches, deadLetters };
}

describe("a NATS consumer never spends an attempt on a message no handler saw", () => {
  test("a message its pull brings while it drains goes to the handler, and the drain waits for it", async () => {
    const log: string[] = [];
    const handled: number[] = [];
    const { consumer, fetches } = scripted(async (d) => {
      handled.push(d.deliveryCount);
      await sleep(20);
      await d.ack();
    }, 4);
    await until(() => fetches.length === 1, 2_000, "the first pull");
    const fetch = fetches[0] as ScriptedFetch;
    // The server sent it before it saw the inbox's unsubscribe.
    fetch.onDrain = () => fetch.push(jsMsg(1, 1, log));
    await consumer.drain();
    log.push("drained");
    assert.deepEqual(handled, [1]);
    assert.deepEqual(log, ["ack 1", "drained"]);
    await consumer.close();
  });

  test("a delivery it gave back unhandled is not counted: with maxDeliver 1 its redelivery is handled, not dead-lettered", async () => {
    const log: string[] = [];
    const handled: string[] = [];
    const { consumer, fetches, deadLetters } = scripted(async (d) => {
      handled.push(`${d.msgId} #${d.deliveryCount}`);
      await d.ack();
    }, 1);
    try {
      await until(() => fetches.length === 1, 2_000, "the first pull");
      const first = fetches[0] as ScriptedFetch;
      assert.equal(first.batch, 1);
      // One more than asked for (the driver re-issues a request after a
      // reconnect): given back at once.
      first.push(jsMsg(7, 1, log));
      first.push(jsMsg(8, 1, log));
      await until(() => fetches.length === 2, 2_000, "the next pull");
      (fetches[1] as ScriptedFetch).push(jsMsg(8, 2, log));
      await until(() => handled.length === 2, 2_000, "both handled");
      assert.deepEqual(handled, ["q:7 #1", "q:8 #1"]);
      assert.deepEqual(log, ["ack 7", "nak 8", "ack 8"]);
      assert.deepEqual(deadLetters, []);
    } finally {
      await consumer.close();
    }
  });

  test("the ledger of releases is bounded and forgets a message that left its queue", () => {
    const released = new ReleasedDeliveries();
    released.released("s", 1);
    released.released("s", 1);
    assert.equal(released.attempts("s", 1, 3), 1);
    assert.equal(released.attempts("s", 1, 5), 3);
    assert.equal(released.attempts("other", 1, 3), 3);
    released.forget("s", 1);
    assert.equal(released.attempts("s", 1, 3), 3);
    for (let seq = 0; seq < 20_000; seq++) released.released("s", seq);
    assert.ok(released.size <= 10_000);
  });
});

const missing = natsServerAvailable() ? undefined : "nats-server is not on PATH";

// maxDeliver 2, not 1: the server may route messages to a drained consumer's
// last pull request until it notices the request lost its interest, and those
// come back after their ack deadline with one attempt spent (RELIABILITY.md,
// what is not promised); with maxDeliver 1 about 1 run in 5 dead-lettered the
// messages of one round that way. A drain that NAKed what it held (the defect
// this guards against) spent an attempt per drain, and four drains exceed 2.
test("consumers draining while enqueues stream in dead-letter nothing unhandled (maxDeliver 2, private nats-server)", {
  skip: missing ?? false,
  timeout: 90_000,
}, async () => {
  const server = await startNatsServer({ jetstream: true });
  const a = await createNatsTransport({ servers: server.url, onError: () => undefined });
  const b = await createNatsTransport({ servers: server.url, onError: () => undefined });
  try {
    const settings = { work: { ackWaitMs: 3_000, maxDeliver: 2 } };
    const { work, dlq } = await declareTaskQueues(a, "dr", settings);
    await declareTaskQueues(b, "dr", settings);
    const handled = new Set<string>();
    const handler = async (d: Delivery) => {
      handled.add(d.msgId);
      await sleep(20);
      await d.ack();
    };
    const dead: string[] = [];
    b.consume(
      dlq,
      async (d) => {
        dead.push(`${d.headers["conclave-original-msg-id"]}: ${d.headers["conclave-dead-reason"]}`);
        await d.ack();
      },
      { maxInFlight: 50 },
    );
    const perRound = 50;
    for (let round = 0; round < 4; round++) {
      const consumer = a.consume(work.name, handler, { maxInFlight: 64 });
      await sleep(300); // its pull request waits on the server
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < perRound; i++) {
        sends.push(b.enqueue("dr.task.x", new Uint8Array([i]), { msgId: `r${round}-m${i}` }));
      }
      await sends[5];
      await consumer.drain();
      await Promise.all(sends);
    }
    b.consume(work.name, handler, { maxInFlight: 64 });
    await until(() => handled.size + dead.length >= 4 * perRound, 30_000, "every message");
    await sleep(500);
    assert.deepEqual(dead, []);
    assert.equal(handled.size, 4 * perRound);
  } finally {
    await a.close();
    await b.close();
    await server.stop();
  }
});
