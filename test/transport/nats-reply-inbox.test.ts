/**
 * The NATS adapter's own request path (src/transport/nats/reply-inbox.ts),
 * which carries every enqueue's publish acknowledgement and every ack's
 * confirmation, against a private nats-server; and the readers of
 * JetStream's answers it relies on.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { ClosedError, NoRespondersError, TimeoutError } from "../../src/errors/index.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import {
  ackSubject,
  type Driver,
  loadDriver,
  type Msg,
  type NatsConnection,
} from "../../src/transport/nats/driver.js";
import { createNatsTransport, deleteNatsQueue } from "../../src/transport/nats/index.js";
import { parsePubAck } from "../../src/transport/nats/publisher.js";
import { ReplyInbox } from "../../src/transport/nats/reply-inbox.js";
import { until } from "../helpers/until.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("parsePubAck reads JetStream's answers to a publish", () => {
  test("an acknowledgement, first time and duplicate", () => {
    assert.deepEqual(parsePubAck(enc.encode('{"stream":"q","seq":7}')), {
      ok: true,
      stream: "q",
      seq: 7,
      duplicate: false,
    });
    assert.deepEqual(parsePubAck(enc.encode('{"stream":"q","seq":7,"duplicate":true}')), {
      ok: true,
      stream: "q",
      seq: 7,
      duplicate: true,
    });
  });

  test("an API error keeps its JetStream code and description", () => {
    const answer =
      '{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}';
    assert.deepEqual(parsePubAck(enc.encode(answer)), {
      ok: false,
      code: 10077,
      description: "maximum messages exceeded",
    });
    // Without err_code (older servers) the HTTP-like code stands in.
    assert.deepEqual(parsePubAck(enc.encode('{"error":{"code":503}}')), {
      ok: false,
      code: 503,
      description: "unknown error",
    });
  });

  test("anything else is refused, never read as success", () => {
    for (const answer of [
      "",
      "not json",
      "null",
      "[]",
      '{"stream":""}',
      '{"stream":"q"}',
      '{"seq":1}',
    ]) {
      const parsed = parsePubAck(enc.encode(answer));
      assert.equal(parsed.ok, false, answer);
    }
  });
});

const available = natsServerAvailable();
if (!available && process.env.CI === "true") {
  test("nats reply inbox", () => {
    throw new Error(
      "nats-server is not on PATH; CI must install it (v2.9+) to test the NATS adapter",
    );
  });
}

describe("nats reply inbox", { skip: available ? false : "nats-server is not on PATH" }, () => {
  let server: NatsServer;
  let driver: Driver;
  const connections: NatsConnection[] = [];

  const connect = async () => {
    const nc = await driver.core.connect({ servers: server.url, noAsyncTraces: true });
    connections.push(nc);
    return nc;
  };
  /** A responder that answers each request on `subject` with `answer(data)`, or not at all for undefined. */
  const responder = async (subject: string, answer: (data: string) => string | undefined) => {
    const nc = await connect();
    nc.subscribe(subject, {
      callback: (_error, msg) => {
        const reply = answer(dec.decode(msg.data));
        if (reply !== undefined) msg.respond(enc.encode(reply));
      },
    });
    await nc.flush();
  };
  const subject = () => `inbox.${randomBytes(5).toString("hex")}`;

  before(async () => {
    server = await startNatsServer({ jetstream: true });
    driver = await loadDriver();
  });

  after(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
    await server?.stop();
  });

  test("each request gets its own reply, however many wait at once", async () => {
    const s = subject();
    await responder(s, (data) => `re:${data}`);
    const inbox = new ReplyInbox(driver, await connect(), new ManualClock());
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        inbox.request(s, enc.encode(String(i)), undefined, 1_000, "test"),
      ),
    );
    assert.deepEqual(
      replies.map((r) => dec.decode(r.data)),
      Array.from({ length: 500 }, (_, i) => `re:${i}`),
    );
    assert.equal(inbox.waiting, 0);
    inbox.close();
  });

  test("requests reach the server in the order they were made", async () => {
    const s = subject();
    const arrived: string[] = [];
    await responder(s, (data) => {
      arrived.push(data);
      return "ok";
    });
    const inbox = new ReplyInbox(driver, await connect(), new ManualClock());
    const first = Array.from({ length: 200 }, (_, i) =>
      inbox.request(s, enc.encode(`a${i}`), undefined, 1_000, "test"),
    );
    // Some made in a later turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    const second = Array.from({ length: 200 }, (_, i) =>
      inbox.request(s, enc.encode(`b${i}`), undefined, 1_000, "test"),
    );
    await Promise.all([...first, ...second]);
    assert.deepEqual(arrived, [
      ...Array.from({ length: 200 }, (_, i) => `a${i}`),
      ...Array.from({ length: 200 }, (_, i) => `b${i}`),
    ]);
    inbox.close();
  });

  test("a subject nobody subscribes to is NoRespondersError", async () => {
    const inbox = new ReplyInbox(driver, await connect(), new ManualClock());
    const s = subject();
    await assert.rejects(
      inbox.request(s, enc.encode("x"), undefined, 1_000, "test"),
      (e: unknown) => e instanceof NoRespondersError && e.subject === s,
    );
    assert.equal(inbox.waiting, 0);
    inbox.close();
  });

  test("no reply by the deadline is TimeoutError naming the operation; a later reply is ignored", async () => {
    const s = subject();
    const held: Msg[] = [];
    const responderConnection = await connect();
    responderConnection.subscribe(s, {
      callback: (_error, msg) => {
        if (dec.decode(msg.data) === "fast") msg.respond(enc.encode("ok"));
        else held.push(msg);
      },
    });
    await responderConnection.flush();
    const clock = new ManualClock();
    const inbox = new ReplyInbox(driver, await connect(), clock);
    const slow = inbox.request(s, enc.encode("slow"), undefined, 100, "enqueue to x");
    const patient = inbox.request(s, enc.encode("patient"), undefined, 10_000, "test");
    const outcome = slow.then(
      () => "resolved",
      (e: unknown) => e,
    );
    await until(() => held.length === 2, 5_000, "the responder to see both requests");
    clock.advance(99);
    assert.equal(inbox.waiting, 2, "nothing is due before its deadline");
    clock.advance(1);
    const error = await outcome;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.match(error.message, /^enqueue to x: .*100 ms.*apiTimeoutMs/);
    assert.equal(inbox.waiting, 1, "the request with the later deadline still waits");
    // The slow request's reply now arrives, late: nothing happens to the other.
    held[0]?.respond(enc.encode("late"));
    await responderConnection.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(inbox.waiting, 1);
    // The timer was re-armed for the other request's deadline.
    clock.advance(10_000);
    await assert.rejects(patient, TimeoutError);
    assert.equal(inbox.waiting, 0);
    // A fresh request on the same inbox still works.
    const fast = await inbox.request(s, enc.encode("fast"), undefined, 1_000, "test");
    assert.equal(dec.decode(fast.data), "ok");
    inbox.close();
  });

  test("close() rejects every waiting request with ClosedError, and any later one", async () => {
    const s = subject();
    const arrived: string[] = [];
    await responder(s, (data) => {
      arrived.push(data);
      return undefined;
    });
    const inbox = new ReplyInbox(driver, await connect(), new ManualClock());
    const sent = inbox.request(s, enc.encode("sent"), undefined, 60_000, "test");
    await until(() => arrived.length === 1, 5_000, "the first request to arrive");
    // These are closed before the end of the turn that would send them.
    const waiting = [1, 2, 3].map((i) =>
      inbox.request(s, enc.encode(String(i)), undefined, 60_000, "test"),
    );
    waiting.push(sent);
    inbox.close();
    for (const w of waiting) await assert.rejects(w, ClosedError);
    await assert.rejects(inbox.request(s, enc.encode("x"), undefined, 1_000, "test"), ClosedError);
    assert.equal(inbox.waiting, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(arrived, ["sent"], "requests closed before they were sent never leave");
  });

  test("a publish the driver refuses rejects at once and leaves nothing waiting", async () => {
    const nc = await connect();
    const inbox = new ReplyInbox(driver, nc, new ManualClock());
    await nc.close();
    await assert.rejects(inbox.request(subject(), enc.encode("x"), undefined, 1_000, "test"));
    assert.equal(inbox.waiting, 0);
    inbox.close();
  });

  test("a delivered JetStream message exposes its ack subject, so acks take this path", async () => {
    // If a driver upgrade hid it, acks would fall back to the driver's
    // ackAck: still correct, but this test says the fast path is gone.
    const bus = await createNatsTransport({ servers: server.url, onError: () => undefined });
    const p = `r${randomBytes(5).toString("hex")}`;
    await bus.ensureQueue({
      name: `${p}-dlq`,
      subjects: `${p}.dlq.>`,
      ackWaitMs: 30_000,
      maxDeliver: 10,
      deadLetterSubject: `${p}.dlq.dlq`,
    });
    const nc = await connect();
    const { jetstream } = driver.jetstream;
    const js = jetstream(nc);
    await js.publish(`${p}.dlq.x`, enc.encode("x"));
    const consumer = await js.consumers.get(`${p}-dlq`, "conclave");
    const message = await consumer.next({ expires: 5_000 });
    assert.ok(message, "a message was delivered");
    const reply = ackSubject(message);
    assert.ok(reply?.startsWith("$JS.ACK."), String(reply));
    message.ack();
    await deleteNatsQueue(bus, `${p}-dlq`);
    await bus.close();
  });
});
