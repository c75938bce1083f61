/**
 * The delivery rules every adapter settles through (src/transport/settlement.ts),
 * checked on their own against a recording lease: what each outcome becomes,
 * and what a dead letter says. The conformance suite checks the same rules
 * end to end on each backend.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DeadLetterHeaders, type DeliveryHandler } from "../../src/transport/port.js";
import {
  ackDeadlineReason,
  createDelivery,
  deadLetterHeaders,
  deadLetterMsgId,
  decideRedelivery,
  fromRedrive,
  handlerFailedReason,
  invokeHandler,
  isExhausted,
  type LeaseOperations,
  redriveLineage,
  redriveMsgId,
  redriveSuffix,
} from "../../src/transport/settlement.js";

type Call =
  | { op: "ack" }
  | { op: "redeliver"; delayMs: number }
  | { op: "dead-letter"; reason: string; deliveries: number }
  | { op: "extend" };

/** A lease that records what the rules asked of the adapter. */
function recordingLease(options: { maxDeliver?: number; held?: boolean } = {}) {
  const calls: Call[] = [];
  const state = { maxDeliver: options.maxDeliver ?? 3, held: options.held ?? true };
  const lease: LeaseOperations = {
    leaseHeld: () => state.held,
    maxDeliver: () => state.maxDeliver,
    ack: async () => {
      calls.push({ op: "ack" });
    },
    redeliver: async (delayMs) => {
      calls.push({ op: "redeliver", delayMs });
    },
    deadLetter: async (reason, deliveries) => {
      calls.push({ op: "dead-letter", reason, deliveries });
    },
    extendLease: () => {
      calls.push({ op: "extend" });
    },
  };
  return { calls, state, lease };
}

const message = (deliveryCount: number) => ({
  subject: "app.task.build",
  data: new Uint8Array([1]),
  headers: { "x-trace": "t" },
  queue: "work",
  msgId: "m-1",
  deliveryCount,
});

/** Lets queued microtasks and promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("settlement: deciding a nak", () => {
  test("below maxDeliver the message is redelivered after the delay, in whole ms, never negative", () => {
    assert.deepEqual(decideRedelivery(1, 3), { kind: "redeliver", delayMs: 0 });
    assert.deepEqual(decideRedelivery(2, 3, { delayMs: 250 }), {
      kind: "redeliver",
      delayMs: 250,
    });
    assert.deepEqual(decideRedelivery(1, 3, { delayMs: 12.6 }), {
      kind: "redeliver",
      delayMs: 13,
    });
    assert.deepEqual(decideRedelivery(1, 3, { delayMs: -5 }), { kind: "redeliver", delayMs: 0 });
  });

  test("at maxDeliver (or past it) the message is dead-lettered, naming the last failure", () => {
    assert.deepEqual(decideRedelivery(3, 3, { delayMs: 100, reason: "Error: boom" }), {
      kind: "dead-letter",
      reason: "delivered 3 times (maxDeliver 3); last failure: Error: boom",
      deliveries: 3,
    });
    assert.deepEqual(decideRedelivery(1, 1), {
      kind: "dead-letter",
      reason: "delivered 1 times (maxDeliver 1); last failure: nak",
      deliveries: 1,
    });
    assert.equal(decideRedelivery(5, 3).kind, "dead-letter");
  });

  test("a message arriving after its last allowed delivery is exhausted", () => {
    assert.equal(isExhausted(3, 3), false);
    assert.equal(isExhausted(4, 3), true);
  });
});

describe("settlement: a delivery", () => {
  test("settles once: whatever comes after the first settlement does nothing", async () => {
    const { calls, lease } = recordingLease();
    const d = createDelivery(message(1), lease);
    assert.equal(d.settled, false);
    await d.ack();
    await d.nak({ reason: "late" });
    await d.term("late");
    d.working();
    assert.equal(d.settled, true);
    assert.deepEqual(calls, [{ op: "ack" }]);
  });

  test("a nak redelivers, or dead-letters on the last allowed delivery", async () => {
    const first = recordingLease({ maxDeliver: 2 });
    await createDelivery(message(1), first.lease).nak({ delayMs: 40 });
    assert.deepEqual(first.calls, [{ op: "redeliver", delayMs: 40 }]);

    const last = recordingLease({ maxDeliver: 2 });
    await createDelivery(message(2), last.lease).nak({ reason: "timeout" });
    assert.deepEqual(last.calls, [
      {
        op: "dead-letter",
        reason: "delivered 2 times (maxDeliver 2); last failure: timeout",
        deliveries: 2,
      },
    ]);
  });

  test("maxDeliver is read when the nak is decided, so an ensureQueue meanwhile applies", async () => {
    const { calls, state, lease } = recordingLease({ maxDeliver: 5 });
    const d = createDelivery(message(2), lease);
    state.maxDeliver = 2;
    await d.nak();
    assert.equal(calls[0]?.op, "dead-letter");
  });

  test("a nak after the lease was taken back does nothing; a late ack or term is passed on", async () => {
    const nak = recordingLease({ held: false });
    await createDelivery(message(3), nak.lease).nak();
    assert.deepEqual(nak.calls, []);

    const ack = recordingLease({ held: false });
    await createDelivery(message(1), ack.lease).ack();
    assert.deepEqual(ack.calls, [{ op: "ack" }]);

    const term = recordingLease({ held: false });
    await createDelivery(message(1), term.lease).term("bad input");
    assert.deepEqual(term.calls, [{ op: "dead-letter", reason: "bad input", deliveries: 1 }]);
  });

  test("term dead-letters at once with its reason and the deliveries so far", async () => {
    const { calls, lease } = recordingLease({ maxDeliver: 10 });
    await createDelivery(message(2), lease).term("SignatureError: bad signature");
    assert.deepEqual(calls, [
      { op: "dead-letter", reason: "SignatureError: bad signature", deliveries: 2 },
    ]);
  });

  test("working() extends the lease only while it is held and unsettled", async () => {
    const held = recordingLease();
    const d = createDelivery(message(1), held.lease);
    d.working();
    held.state.held = false;
    d.working();
    assert.deepEqual(held.calls, [{ op: "extend" }]);

    const settled = recordingLease();
    const s = createDelivery(message(1), settled.lease);
    await s.ack();
    s.working();
    assert.deepEqual(settled.calls, [{ op: "ack" }]);
  });

  test("an exhausted arrival is dead-lettered counting the deliveries actually made", async () => {
    const { calls, lease } = recordingLease({ maxDeliver: 3 });
    const d = createDelivery(message(4), lease);
    await d.exhausted(ackDeadlineReason(500));
    await d.ack();
    assert.deepEqual(calls, [
      {
        op: "dead-letter",
        reason: "delivered 3 times (maxDeliver 3); last failure: ack deadline of 500 ms passed",
        deliveries: 3,
      },
    ]);
  });
});

describe("settlement: invoking the handler", () => {
  const run = async (handler: DeliveryHandler, failNak = false) => {
    const { calls, lease } = recordingLease();
    if (failNak) {
      lease.redeliver = async () => {
        throw new Error("broker gone");
      };
    }
    const reported: Error[] = [];
    invokeHandler(handler, createDelivery(message(1), lease), (e) => reported.push(e));
    await settle();
    return { calls, reported };
  };

  test("a handler that throws, or rejects, without settling naks with the error", async () => {
    const thrown = await run(() => {
      throw new Error("sync boom");
    });
    const rejected = await run(async () => {
      throw new Error("async boom");
    });
    assert.deepEqual(thrown.calls, [{ op: "redeliver", delayMs: 0 }]);
    assert.deepEqual(rejected.calls, [{ op: "redeliver", delayMs: 0 }]);
    assert.equal(
      handlerFailedReason(new Error("sync boom")),
      "handler failed without settling: sync boom",
    );
  });

  test("the nak of a failed handler carries the error into the dead letter's reason", async () => {
    const { calls, lease } = recordingLease({ maxDeliver: 1 });
    invokeHandler(
      () => {
        throw new TypeError("no such field");
      },
      createDelivery(message(1), lease),
      () => undefined,
    );
    await settle();
    assert.deepEqual(calls, [
      {
        op: "dead-letter",
        reason:
          "delivered 1 times (maxDeliver 1); last failure: handler failed without settling: no such field",
        deliveries: 1,
      },
    ]);
  });

  test("a handler that settled and then threw is not nak'ed, and its failure is reported", async () => {
    const { calls, reported } = await run(async (d) => {
      await d.ack();
      throw new Error("after ack");
    });
    assert.deepEqual(calls, [{ op: "ack" }]);
    assert.deepEqual(
      reported.map((e) => e.message),
      ["after ack"],
    );
  });

  test("a nak that fails is reported, not thrown into the bus", async () => {
    const { reported } = await run(() => {
      throw new Error("boom");
    }, true);
    assert.deepEqual(
      reported.map((e) => e.message),
      ["broker gone"],
    );
  });
});

describe("settlement: dead letters", () => {
  test("keep the original's headers and add the dead-letter headers", () => {
    const headers = deadLetterHeaders({
      headers: { "x-trace": "t", [DeadLetterHeaders.reason]: "an older reason" },
      reason: "schema says no",
      queue: "work",
      subject: "app.task.build",
      deliveries: 2,
      at: 1_732_000_000_000,
      msgId: "m-1",
    });
    assert.deepEqual(headers, {
      "x-trace": "t",
      "conclave-dead-reason": "schema says no",
      "conclave-dead-queue": "work",
      "conclave-original-subject": "app.task.build",
      "conclave-deliveries": "2",
      "conclave-dead-at": "1732000000000",
      "conclave-original-msg-id": "m-1",
    });
  });

  test("are enqueued under an id derived from the original's, so a repeated move stores one", () => {
    assert.equal(deadLetterMsgId("01JD7JMTG0HRMN78RS4GA9Z8V2"), "dlq:01JD7JMTG0HRMN78RS4GA9Z8V2");
  });
});

describe("message ids of copies (redrives, resends)", () => {
  test("a copy's id names what it was made from, and its lineage lists every step", () => {
    const copy = redriveMsgId(redriveMsgId("01J", 2), 1);
    assert.equal(copy, "01J.redrive.2.redrive.1");
    assert.equal(fromRedrive(copy), "01J");
    assert.equal(redriveSuffix(copy), ".redrive.2.redrive.1");
    assert.deepEqual(redriveLineage(copy), ["01J", "01J.redrive.2", "01J.redrive.2.redrive.1"]);
    assert.deepEqual(redriveLineage("01J"), ["01J"]);
    // Only a trailing suffix counts.
    assert.deepEqual(redriveLineage("a.redrive.x"), ["a.redrive.x"]);
    assert.deepEqual(redriveLineage("a.redrive.1b"), ["a.redrive.1b"]);
  });
});
