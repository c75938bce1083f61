/**
 * Messages near the NATS server's `max_payload` (src/transport/nats/
 * dead-letter-size.ts, publisher.ts, nats-consumer.ts).
 *
 * A message that fit when enqueued could exceed `max_payload` once the
 * dead-letter headers were added: the dead letter was refused, `term()`
 * failed, and the message was redelivered forever. Checked: the header size
 * is counted as the driver encodes it; a dead letter is trimmed to fit (the
 * original's own headers dropped, the reason shortened, conclave's ids
 * kept); on a private server with a small `max_payload` such a message is
 * dead-lettered once; and an enqueue over `max_payload` fails with
 * `PayloadTooLargeError` naming max_payload, not a server failure.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PermanentError } from "../../src/errors/index.js";
import { natsServerAvailable, startNatsServer } from "../../src/testkit/brokers/nats-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { encodedHeadersSize, fitDeadLetter } from "../../src/transport/nats/dead-letter-size.js";
import { loadDriver } from "../../src/transport/nats/driver.js";
import { toNatsHeaders } from "../../src/transport/nats/headers.js";
import { createNatsTransport, PayloadTooLargeError } from "../../src/transport/nats/index.js";
import { DeadLetterHeaders } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

const dead = {
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  [DeadLetterHeaders.reason]: `handler failed: ${"x".repeat(400)}`,
  [DeadLetterHeaders.queue]: "q-work",
  [DeadLetterHeaders.subject]: "q.task.a",
  [DeadLetterHeaders.deliveries]: "3",
  [DeadLetterHeaders.at]: "1712345678901",
  [DeadLetterHeaders.msgId]: "01J0000000000000000000000",
  "conclave-original-seq": "42",
};
const extra = { "Nats-Msg-Id": "dlq:01J0000000000000000000000" };
const optional = [DeadLetterHeaders.at, DeadLetterHeaders.deliveries, "conclave-original-seq"];

describe("a dead letter fits max_payload", () => {
  test("the header size is what the driver encodes", async () => {
    const driver = await loadDriver();
    const samples: Record<string, string>[] = [dead, { a: "b" }, { k: " välue, spaced " }];
    for (const headers of samples) {
      const encoded = toNatsHeaders(driver, headers) as unknown as { encode(): Uint8Array };
      assert.equal(encodedHeadersSize(headers), encoded.encode().byteLength);
    }
    assert.equal(encodedHeadersSize({}), 0);
  });

  test("it is left whole when it fits, else trimmed only as far as needed", () => {
    const size = (h: Record<string, string>) => encodedHeadersSize({ ...h, ...extra });
    assert.equal(fitDeadLetter(100, dead, extra, 10_000, optional), dead);
    assert.equal(fitDeadLetter(100, dead, extra, undefined, optional), dead);

    // Without the original's own headers it fits.
    const limit = 100 + size(dead) - 10;
    const noOwn = fitDeadLetter(100, dead, extra, limit, optional);
    assert.equal(noOwn.traceparent, undefined);
    assert.equal(noOwn[DeadLetterHeaders.reason], dead[DeadLetterHeaders.reason]);
    assert.ok(100 + size({ ...noOwn }) <= limit);

    // Tighter: the reason is shortened, every conclave header kept.
    const tight = 100 + size(dead) - 300;
    const short = fitDeadLetter(100, dead, extra, tight, optional);
    assert.match(short[DeadLetterHeaders.reason] ?? "", /^handler failed: x+…$/);
    assert.equal(short[DeadLetterHeaders.at], dead[DeadLetterHeaders.at]);
    assert.equal(short[DeadLetterHeaders.msgId], dead[DeadLetterHeaders.msgId]);
    assert.ok(100 + size({ ...short }) <= tight);

    // Tighter still: optional headers go, the original's id and queue stay.
    const tightest =
      100 +
      size({
        [DeadLetterHeaders.queue]: "q-work",
        [DeadLetterHeaders.msgId]: "01J0000000000000000000000",
        [DeadLetterHeaders.subject]: "q.task.a",
        [DeadLetterHeaders.reason]: "handler failed",
      }) +
      40;
    const least = fitDeadLetter(100, dead, extra, tightest, optional);
    assert.equal(least[DeadLetterHeaders.queue], "q-work");
    assert.equal(least[DeadLetterHeaders.msgId], dead[DeadLetterHeaders.msgId]);
    assert.equal(least[DeadLetterHeaders.at], undefined);
    assert.ok(100 + size({ ...least }) <= tightest);
  });
});

const missing = natsServerAvailable() ? undefined : "nats-server is not on PATH";

describe("on a nats-server with max_payload 4096", { skip: missing ?? false }, () => {
  test("a message near max_payload that is termed is dead-lettered, once", {
    timeout: 60_000,
  }, async () => {
    const server = await startNatsServer({ jetstream: true, config: "max_payload: 4096\n" });
    const bus = await createNatsTransport({ servers: server.url, onError: () => undefined });
    try {
      const { work, dlq } = await declareTaskQueues(bus, "mp", {
        work: { ackWaitMs: 1_000, maxDeliver: 3 },
      });
      // Fits with the enqueue's own headers; not with the dead letter's.
      const data = new Uint8Array(4096 - 200).fill(120);
      await bus.enqueue("mp.task.x", data, {
        msgId: "big-1",
        headers: { traceparent: dead.traceparent },
      });
      const deliveries: number[] = [];
      const termErrors: string[] = [];
      bus.consume(
        work.name,
        async (d) => {
          deliveries.push(d.deliveryCount);
          await d
            .term(`permanent failure: ${"bad input ".repeat(30)}`)
            .catch((e: Error) => termErrors.push(`${e.name}: ${e.message}`));
        },
        { maxInFlight: 1 },
      );
      const got: { id: string; reason: string; data: number }[] = [];
      bus.consume(
        dlq,
        async (d) => {
          got.push({
            id: d.msgId,
            reason: d.headers[DeadLetterHeaders.reason] ?? "",
            data: d.data.byteLength,
          });
          await d.ack();
        },
        { maxInFlight: 1 },
      );
      await until(() => got.length > 0 || termErrors.length > 0, 10_000, "the dead letter");
      await sleep(2_500); // past the ack deadline: nothing comes back
      assert.deepEqual(termErrors, []);
      assert.deepEqual(deliveries, [1]);
      assert.equal(got.length, 1);
      assert.equal(got[0]?.id, "dlq:big-1");
      assert.equal(got[0]?.data, data.byteLength);
      // Shortened to what room there is, and said so.
      const reason = got[0]?.reason ?? "";
      assert.match(reason, /^perm.*…$/);
      assert.ok(`permanent failure: ${"bad input ".repeat(30)}`.startsWith(reason.slice(0, -1)));
    } finally {
      await bus.close();
      await server.stop();
    }
  });

  test("an enqueue over max_payload fails with PayloadTooLargeError naming it", {
    timeout: 30_000,
  }, async () => {
    const server = await startNatsServer({ jetstream: true, config: "max_payload: 4096\n" });
    const bus = await createNatsTransport({ servers: server.url, onError: () => undefined });
    try {
      await declareTaskQueues(bus, "mp");
      const error = await bus.enqueue("mp.task.x", new Uint8Array(5000), { msgId: "huge" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof PayloadTooLargeError, `got ${String(error)}`);
      assert.ok(error instanceof PermanentError);
      assert.equal(error.code, "E_PAYLOAD_TOO_LARGE");
      assert.equal(error.limit, 4096);
      assert.match(error.message, /max_payload/);
      assert.match(error.message, /4096-byte/);
    } finally {
      await bus.close();
      await server.stop();
    }
  });
});
