/**
 * The one conformance suite every `Transport` adapter passes. An adapter's
 * test file is a single call to `runTransportConformance`. A scenario is
 * skipped only when the adapter's features say it cannot promise it, and the
 * skip names the reason.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ClosedError,
  InvalidSubjectError,
  NoRespondersError,
  TimeoutError,
  UnroutableError,
} from "../../errors/index.js";
import {
  DeadLetterHeaders,
  type Delivery,
  type QueueConfig,
  type Transport,
} from "../../transport/port.js";
import { declareTaskQueues } from "./queues.js";

/** A backend under test: several connections to it, and optionally a restart. */
export interface TransportBackend {
  /** A new connection, as another node would open. */
  connect(): Promise<Transport>;
  /**
   * Closes every connection and reopens the backend's durable state, as after
   * a process crash (memory) or a broker restart. Omit when impossible.
   */
  restart?(): Promise<void>;
  /** Releases everything the backend created. */
  destroy(): Promise<void>;
}

/** How to run the transport suite against one adapter. */
export interface TransportConformanceOptions {
  readonly name: string;
  readonly create: () => Promise<TransportBackend>;
  /** Scenarios the adapter cannot promise, each with the reason. */
  readonly skip?: Partial<Record<ScenarioFlag, string>>;
  /** Multiplies every wait, for slower brokers. Default 1. */
  readonly timeScale?: number;
}

/** Scenarios an adapter may skip, with a reason: no-responders errors, a broker restart, releasing held deliveries on close. */
export type ScenarioFlag = "noResponders" | "restart" | "releaseOnClose";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);
const text = (d: { data: Uint8Array }) => dec.decode(d.data);

/** Waits until `check` is true, polling; fails after `ms`. */
async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * The conformance suite every `Transport` passes (publish and subscribe,
 * durable queues, settlement, dead letters, request and reply...): declares
 * its tests with `node:test` against the backend `create` makes.
 */
export function runTransportConformance(options: TransportConformanceOptions): void {
  const scale = options.timeScale ?? 1;
  const ms = (n: number) => Math.round(n * scale);

  describe(`${options.name}: transport conformance`, () => {
    let backend: TransportBackend;
    let bus: Transport;
    let prefix: string;
    const opened: Transport[] = [];

    const connect = async () => {
      const t = await backend.connect();
      opened.push(t);
      return t;
    };

    const queues = async (t: Transport, overrides: Partial<QueueConfig> = {}) => {
      const { work, dlq } = await declareTaskQueues(t, prefix, {
        work: { ackWaitMs: ms(500), ...overrides },
      });
      return { work: work.name, dlq };
    };

    before(async () => {
      backend = await options.create();
    });

    after(async () => {
      for (const t of opened) await t.close().catch(() => undefined);
      await backend.destroy();
    });

    /** Consumes `queue` (a dead-letter queue), acking and keeping each delivery. */
    const collect = (t: Transport, queue: string): Delivery[] => {
      const got: Delivery[] = [];
      t.consume(
        queue,
        async (d) => {
          got.push(d);
          await d.ack();
        },
        { maxInFlight: 1 },
      );
      return got;
    };

    const fresh = async () => {
      prefix = `t${randomBytes(5).toString("hex")}`;
      bus = await connect();
      return bus;
    };

    test("publish fans out to every matching subscription", async () => {
      await fresh();
      const got: string[] = [];
      bus.subscribe(`${prefix}.event.x`, (m) => {
        got.push(`a:${text(m)}`);
      });
      bus.subscribe(`${prefix}.event.x`, (m) => {
        got.push(`b:${text(m)}`);
      });
      await sleep(ms(50));
      bus.publish(`${prefix}.event.x`, bytes("1"));
      await until(() => got.length === 2, ms(2000), "both subscribers");
      assert.deepEqual(got.sort(), ["a:1", "b:1"]);
    });

    test("wildcards: * matches one token, > the rest", async () => {
      await fresh();
      const star: string[] = [];
      const rest: string[] = [];
      bus.subscribe(`${prefix}.event.*`, (m) => {
        star.push(m.subject);
      });
      bus.subscribe(`${prefix}.>`, (m) => {
        rest.push(m.subject);
      });
      await sleep(ms(50));
      bus.publish(`${prefix}.event.a`, bytes("{}"));
      bus.publish(`${prefix}.event.a.b`, bytes("{}"));
      bus.publish(`${prefix}.other`, bytes("{}"));
      await until(() => rest.length === 3, ms(2000), "the > subscriber");
      await sleep(ms(50));
      assert.deepEqual(star, [`${prefix}.event.a`]);
    });

    test("a queue group gives each message to exactly one member", async () => {
      await fresh();
      const counts = [0, 0, 0];
      let everyone = 0;
      counts.forEach((_, i) => {
        bus.subscribe(
          `${prefix}.work`,
          () => {
            counts[i] = (counts[i] ?? 0) + 1;
          },
          { queue: "g" },
        );
      });
      bus.subscribe(`${prefix}.work`, () => {
        everyone++;
      });
      await sleep(ms(50));
      for (let i = 0; i < 90; i++) bus.publish(`${prefix}.work`, bytes(String(i)));
      await until(() => everyone === 90, ms(3000), "the plain subscriber");
      await until(() => counts.reduce((a, b) => a + b, 0) === 90, ms(3000), "the group");
      assert.equal(
        counts.filter((c) => c > 0).length,
        3,
        `every member should get some: ${counts.join(",")}`,
      );
    });

    test("request gets the reply; a silent responder times out", async () => {
      await fresh();
      bus.subscribe(`${prefix}.rpc.echo`, (m) => {
        if (m.reply) bus.publish(m.reply, bytes(`echo:${text(m)}`));
      });
      bus.subscribe(`${prefix}.rpc.silent`, () => undefined);
      await sleep(ms(50));
      const reply = await bus.request(`${prefix}.rpc.echo`, bytes("hi"), { timeoutMs: ms(2000) });
      assert.equal(text(reply), "echo:hi");
      await assert.rejects(
        bus.request(`${prefix}.rpc.silent`, bytes("hi"), { timeoutMs: ms(100) }),
        TimeoutError,
      );
    });

    test("a request nobody serves fails fast with NoRespondersError", async (t) => {
      if (options.skip?.noResponders) return t.skip(options.skip.noResponders);
      await fresh();
      await assert.rejects(
        bus.request(`${prefix}.rpc.nobody`, bytes("x"), { timeoutMs: ms(5000) }),
        NoRespondersError,
      );
    });

    test("bad subjects are refused with InvalidSubjectError", async () => {
      await fresh();
      assert.throws(() => bus.publish("a..b", bytes("x")), InvalidSubjectError);
      assert.throws(() => bus.publish("a.*", bytes("x")), InvalidSubjectError);
      assert.throws(() => bus.subscribe("a.>.b", () => undefined), InvalidSubjectError);
      await assert.rejects(bus.enqueue("", bytes("x"), { msgId: "m" }), InvalidSubjectError);
    });

    test("enqueue to a subject no queue takes fails with UnroutableError", async () => {
      await fresh();
      await queues(bus);
      await assert.rejects(
        bus.enqueue(`${prefix}.nowhere.x`, bytes("x"), { msgId: `${prefix}-u` }),
        UnroutableError,
      );
    });

    test("a durable message waits for a consumer, and ack removes it", async () => {
      await fresh();
      const q = await queues(bus);
      await bus.enqueue(`${prefix}.task.a`, bytes("one"), {
        msgId: `${prefix}-1`,
        headers: { "x-test": "yes" },
      });
      assert.equal((await bus.queueInfo(q.work)).pending, 1);
      const got: Delivery[] = [];
      bus.consume(
        q.work,
        async (d) => {
          got.push(d);
          await d.ack();
        },
        { maxInFlight: 4 },
      );
      await until(() => got.length === 1, ms(3000), "the delivery");
      const d = got[0] as Delivery;
      assert.equal(text(d), "one");
      assert.equal(d.subject, `${prefix}.task.a`);
      assert.equal(d.msgId, `${prefix}-1`);
      assert.equal(d.deliveryCount, 1);
      assert.equal(d.headers["x-test"], "yes");
      await sleep(ms(50));
      assert.equal((await bus.queueInfo(q.work)).pending, 0);
    });

    test("nak with a delay redelivers after the delay", async () => {
      await fresh();
      const q = await queues(bus);
      const seen: { count: number; at: number }[] = [];
      bus.consume(
        q.work,
        async (d) => {
          seen.push({ count: d.deliveryCount, at: Date.now() });
          if (d.deliveryCount === 1) await d.nak({ delayMs: ms(200) });
          else await d.ack();
        },
        { maxInFlight: 1 },
      );
      await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId: `${prefix}-n` });
      await until(() => seen.length === 2, ms(3000), "the redelivery");
      const [first, second] = seen as [
        { count: number; at: number },
        { count: number; at: number },
      ];
      assert.equal(second.count, 2);
      assert.ok(second.at - first.at >= ms(180), `redelivered after ${second.at - first.at} ms`);
    });

    test("an unacked message is redelivered after the ack deadline", async () => {
      await fresh();
      const q = await queues(bus, { ackWaitMs: ms(300) });
      const seen: number[] = [];
      bus.consume(
        q.work,
        async (d) => {
          seen.push(d.deliveryCount);
          if (d.deliveryCount > 1) await d.ack();
          // First delivery: hold it and never settle, like a hung handler.
        },
        { maxInFlight: 4 },
      );
      await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId: `${prefix}-d` });
      await until(() => seen.length === 2, ms(5000), "the redelivery");
      assert.deepEqual(seen, [1, 2]);
    });

    test("working() keeps the lease of a long handler", async () => {
      await fresh();
      const q = await queues(bus, { ackWaitMs: ms(300) });
      let deliveries = 0;
      let done = false;
      bus.consume(
        q.work,
        async (d) => {
          deliveries++;
          for (let i = 0; i < 8; i++) {
            await sleep(ms(100));
            d.working();
          }
          await d.ack();
          done = true;
        },
        { maxInFlight: 4 },
      );
      await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId: `${prefix}-w` });
      await until(() => done, ms(5000), "the long handler");
      await sleep(ms(100));
      assert.equal(deliveries, 1, "a live handler must keep its task past the ack deadline");
    });

    test("after maxDeliver failures the message is dead-lettered with the reason", async () => {
      await fresh();
      const q = await queues(bus, { maxDeliver: 3 });
      let attempts = 0;
      bus.consume(
        q.work,
        async (d) => {
          attempts++;
          await d.nak({ reason: `boom ${d.deliveryCount}` });
        },
        { maxInFlight: 1 },
      );
      const dead = collect(bus, q.dlq);
      const before = Date.now();
      await bus.enqueue(`${prefix}.task.poison`, bytes("p"), {
        msgId: `${prefix}-p`,
        headers: { "x-trace": "t-1" },
      });
      await until(() => dead.length === 1, ms(5000), "the dead letter");
      assert.equal(attempts, 3);
      const d = dead[0] as Delivery;
      assert.equal(text(d), "p");
      assert.equal(
        d.headers[DeadLetterHeaders.reason],
        "delivered 3 times (maxDeliver 3); last failure: boom 3",
      );
      assert.equal(d.headers[DeadLetterHeaders.queue], q.work);
      assert.equal(d.headers[DeadLetterHeaders.subject], `${prefix}.task.poison`);
      assert.equal(d.headers[DeadLetterHeaders.deliveries], "3");
      assert.equal(d.headers[DeadLetterHeaders.msgId], `${prefix}-p`);
      const at = Number(d.headers[DeadLetterHeaders.at]);
      assert.ok(at >= before && at <= Date.now(), `dead-lettered at ${at}`);
      assert.equal(d.headers["x-trace"], "t-1", "the original's headers travel along");
      assert.equal((await bus.queueInfo(q.work)).pending, 0);
    });

    test("a message whose last allowed lease expires is dead-lettered, not handled again", async () => {
      await fresh();
      const ackWaitMs = ms(400);
      const q = await queues(bus, { maxDeliver: 1, ackWaitMs });
      let attempts = 0;
      bus.consume(
        q.work,
        async () => {
          // Hangs: never settles, never extends its lease.
          attempts++;
        },
        { maxInFlight: 1 },
      );
      const dead = collect(bus, q.dlq);
      await bus.enqueue(`${prefix}.task.hang`, bytes("h"), { msgId: `${prefix}-h` });
      await until(() => dead.length === 1, ms(8000), "the dead letter");
      await sleep(ms(100));
      assert.equal(attempts, 1);
      const d = dead[0] as Delivery;
      assert.equal(
        d.headers[DeadLetterHeaders.reason],
        `delivered 1 times (maxDeliver 1); last failure: ack deadline of ${ackWaitMs} ms passed`,
      );
      assert.equal(d.headers[DeadLetterHeaders.deliveries], "1");
      assert.equal(d.headers[DeadLetterHeaders.queue], q.work);
      assert.equal(d.msgId, `dlq:${prefix}-h`, "a dead letter's id derives from the original's");
      assert.equal((await bus.queueInfo(q.work)).pending, 0);
    });

    test("term dead-letters at once with its reason", async () => {
      await fresh();
      const q = await queues(bus);
      let attempts = 0;
      bus.consume(
        q.work,
        async (d) => {
          attempts++;
          await d.term("schema says no");
        },
        { maxInFlight: 1 },
      );
      const dead = collect(bus, q.dlq);
      await bus.enqueue(`${prefix}.task.bad`, bytes("b"), { msgId: `${prefix}-t` });
      await until(() => dead.length === 1, ms(5000), "the dead letter");
      assert.equal(attempts, 1);
      assert.equal(dead[0]?.headers[DeadLetterHeaders.reason], "schema says no");
    });

    test("a handler that throws gets its message redelivered", async () => {
      await fresh();
      const q = await queues(bus);
      const seen: number[] = [];
      bus.consume(
        q.work,
        async (d) => {
          seen.push(d.deliveryCount);
          if (d.deliveryCount === 1) throw new Error("flaky");
          await d.ack();
        },
        { maxInFlight: 1 },
      );
      await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId: `${prefix}-f` });
      await until(() => seen.length === 2, ms(5000), "the redelivery");
    });

    test("the same msgId enqueued twice is stored once", async () => {
      await fresh();
      const q = await queues(bus);
      const first = await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId: `${prefix}-dup` });
      const second = await bus.enqueue(`${prefix}.task.a`, bytes("x"), {
        msgId: `${prefix}-dup`,
      });
      assert.equal(first.duplicate, false);
      assert.equal(second.duplicate, true);
      assert.equal((await bus.queueInfo(q.work)).pending, 1);
    });

    /**
     * A repeat of a msgId made while its first enqueue is still under way is
     * a duplicate only if that first enqueue stores the message: when the
     * first is refused, the repeat must not report `duplicate` (nothing is
     * stored, and the producer would drop its message).
     */
    test("two enqueues of one msgId at once, the first refused: neither reports duplicate", async () => {
      await fresh();
      const q = await queues(bus);
      const id = `${prefix}-refused`;
      const results = await Promise.allSettled([
        bus.enqueue(`${prefix}.nowhere.a`, bytes("x"), { msgId: id }),
        bus.enqueue(`${prefix}.nowhere.a`, bytes("x"), { msgId: id }),
      ]);
      for (const r of results) {
        assert.equal(r.status, "rejected", `an enqueue reported ${JSON.stringify(r)}`);
        assert.ok(r.status === "rejected" && r.reason instanceof UnroutableError);
      }
      // The id is free for a retry that can be stored.
      const retry = await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId: id });
      assert.equal(retry.duplicate, false);
      assert.equal((await bus.queueInfo(q.work)).pending, 1);
    });

    test("holds (where implemented): the broker holds an enqueued message until it is acked", async (t) => {
      await fresh();
      if (bus.holds === undefined) {
        t.skip("this transport's broker does not lose what it acknowledged: nothing to watch");
        return;
      }
      const q = await queues(bus);
      const msgId = `${prefix}-held`;
      const { receipt } = await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId });
      assert.ok(receipt !== undefined, "an enqueue gives a receipt");
      assert.equal(await bus.holds(receipt, msgId), true);
      assert.equal(await bus.holds(receipt, `${prefix}-other`), false, "another message id");
      const again = await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId });
      assert.equal(again.duplicate, true);
      assert.equal(again.receipt, receipt, "a duplicate's receipt names the stored message");
      let acked = false;
      bus.consume(
        q.work,
        async (d) => {
          await d.ack();
          acked = true;
        },
        { maxInFlight: 1 },
      );
      await until(() => acked, ms(5000), "the ack");
      await until(async () => (await bus.holds?.(receipt, msgId)) === false, ms(5000), "removal");
    });

    test("holds (where implemented): a dead letter not yet recorded leaves it unsure, then gone", async (t) => {
      await fresh();
      if (bus.holds === undefined) {
        t.skip("this transport's broker does not lose what it acknowledged: nothing to watch");
        return;
      }
      const q = await queues(bus);
      const msgId = `${prefix}-dead`;
      const { receipt } = await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId });
      assert.ok(receipt !== undefined);
      let termed = false;
      bus.consume(
        q.work,
        async (d) => {
          await d.term("refused");
          termed = true;
        },
        { maxInFlight: 1 },
      );
      await until(() => termed, ms(5000), "the term");
      // Gone from its queue, but it may be the dead letter waiting to be recorded.
      await until(
        async () => (await bus.holds?.(receipt, msgId)) === undefined,
        ms(5000),
        "an unsure answer",
      );
      const dead = collect(bus, q.dlq);
      await until(() => dead.length === 1, ms(5000), "the dead letter");
      await until(async () => (await bus.holds?.(receipt, msgId)) === false, ms(5000), "gone");
    });

    test("maxInFlight bounds unsettled deliveries per consumer", async () => {
      await fresh();
      const q = await queues(bus, { ackWaitMs: ms(5000) });
      let current = 0;
      let peak = 0;
      let done = 0;
      bus.consume(
        q.work,
        async (d) => {
          current++;
          peak = Math.max(peak, current);
          await sleep(ms(10));
          current--;
          await d.ack();
          done++;
        },
        { maxInFlight: 2 },
      );
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          bus.enqueue(`${prefix}.task.a`, bytes(String(i)), { msgId: `${prefix}-b${i}` }),
        ),
      );
      await until(() => done === 30, ms(10_000), "all deliveries");
      assert.ok(peak <= 2, `peak in-flight was ${peak}`);
    });

    test("competing consumers on two connections share the work, each message once", async () => {
      await fresh();
      const other = await connect();
      const q = await queues(bus);
      const seen = new Map<string, number>();
      const byConsumer = [0, 0];
      const handler = (i: number) => async (d: Delivery) => {
        seen.set(text(d), (seen.get(text(d)) ?? 0) + 1);
        byConsumer[i] = (byConsumer[i] ?? 0) + 1;
        await sleep(1);
        await d.ack();
      };
      bus.consume(q.work, handler(0), { maxInFlight: 4 });
      other.consume(q.work, handler(1), { maxInFlight: 4 });
      const n = 200;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          bus.enqueue(`${prefix}.task.a`, bytes(String(i)), { msgId: `${prefix}-c${i}` }),
        ),
      );
      await until(() => seen.size === n, ms(10_000), "all messages");
      await sleep(ms(100));
      assert.ok(
        [...seen.values()].every((c) => c === 1),
        "no message handled twice",
      );
      assert.ok(
        byConsumer.every((c) => c > 0),
        `both consumers worked: ${byConsumer}`,
      );
    });

    test("when a consumer dies holding a message, another consumer gets it", async () => {
      await fresh();
      const other = await connect();
      const q = await queues(bus, { ackWaitMs: ms(400) });
      let taken = false;
      const dying = bus.consume(
        q.work,
        async () => {
          taken = true;
        },
        { maxInFlight: 1 },
      );
      await bus.enqueue(`${prefix}.task.a`, bytes("x"), { msgId: `${prefix}-die` });
      await until(() => taken, ms(3000), "the first delivery");
      await dying.close();
      const got: number[] = [];
      other.consume(
        q.work,
        async (d) => {
          got.push(d.deliveryCount);
          await d.ack();
        },
        { maxInFlight: 1 },
      );
      const wait = options.skip?.releaseOnClose ? ms(5000) : ms(3000);
      await until(() => got.length === 1, wait, "the redelivery to the survivor");
      assert.equal(got[0], 2);
    });

    test("durable messages survive a restart; acked ones do not come back", async (t) => {
      if (options.skip?.restart || !backend.restart) {
        return t.skip(options.skip?.restart ?? "the backend cannot be restarted");
      }
      await fresh();
      const q = await queues(bus);
      for (let i = 0; i < 50; i++) {
        await bus.enqueue(`${prefix}.task.a`, bytes(String(i)), { msgId: `${prefix}-r${i}` });
      }
      let acked = 0;
      const consumer = bus.consume(
        q.work,
        async (d) => {
          if (acked < 20) {
            acked++;
            await d.ack();
          }
        },
        { maxInFlight: 1 },
      );
      await until(() => acked === 20, ms(5000), "20 acks");
      await consumer.close();
      await backend.restart();
      const again = await connect();
      await queues(again);
      const seen = new Set<string>();
      again.consume(
        q.work,
        async (d) => {
          seen.add(text(d));
          await d.ack();
        },
        { maxInFlight: 8 },
      );
      await until(() => seen.size === 30, ms(10_000), "the 30 unacked messages");
      await sleep(ms(100));
      assert.equal(seen.size, 30);
      for (let i = 0; i < 20; i++) assert.ok(!seen.has(String(i)), `message ${i} was acked`);
    });

    test("drain lets in-flight work finish and ack, then closes", async () => {
      await fresh();
      const q = await queues(bus, { ackWaitMs: ms(5000) });
      const other = await connect();
      let finished = 0;
      let started = 0;
      bus.consume(
        q.work,
        async (d) => {
          started++;
          await sleep(ms(150));
          await d.ack();
          finished++;
        },
        { maxInFlight: 3 },
      );
      for (let i = 0; i < 3; i++) {
        await bus.enqueue(`${prefix}.task.a`, bytes(String(i)), { msgId: `${prefix}-dr${i}` });
      }
      await until(() => started === 3, ms(3000), "three in flight");
      await bus.drain();
      assert.equal(finished, 3);
      assert.throws(() => bus.publish(`${prefix}.x`, bytes("x")), ClosedError);
      await bus.drain();
      await bus.close();
      assert.equal(await bus.closed(), undefined);
      await sleep(ms(100));
      assert.equal((await other.queueInfo(q.work)).pending, 0);
    });
  });
}
