/**
 * Moving a NATS delivery to its dead letters when the server refuses them
 * (src/transport/nats/dead-letter-move.ts, owed-dead-letters.ts), on a
 * manual clock against a scripted host: the attempts while the message is
 * held (kept alive with WORKING), the parked copy that owes the dead letter,
 * and the local record when even that copy is refused. The same on a real
 * server: nats-dead-letter-refused.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import { ManualClock } from "../../src/core/clock.js";
import { QueueFullError } from "../../src/errors/index.js";
import {
  type DeadLetterMoveHost,
  type MovedMessage,
  moveToDeadLetter,
  ORIGINAL_SEQ_HEADER,
} from "../../src/transport/nats/dead-letter-move.js";
import type { JsMsg } from "../../src/transport/nats/driver.js";
import {
  OwedDeadLetters,
  ParkedHeaders,
  parkedHeaders,
  readParked,
} from "../../src/transport/nats/owed-dead-letters.js";
import { settingsOf } from "../../src/transport/nats/queue-settings.js";
import { DeadLetterHeaders, type Headers } from "../../src/transport/port.js";

const settings = settingsOf({
  name: "w",
  subjects: "t.w.>",
  ackWaitMs: 3_000,
  maxDeliver: 3,
  deadLetterSubject: "t.dlq.w",
});

interface Published {
  readonly at: number;
  readonly subject: string;
  readonly msgId: string;
  readonly headers: Headers;
}

/** A host whose publishes to the subjects in `refuse` fail with `QueueFullError`. */
function scripted(refuse: Set<string>) {
  const clock = new ManualClock(0);
  const log: string[] = [];
  const published: Published[] = [];
  const reports: Error[] = [];
  const host: DeadLetterMoveHost = {
    clock,
    async publishDeadLetter(subject, _data, msgId, headers) {
      published.push({ at: clock.now(), subject, msgId, headers });
      if (refuse.has(subject)) throw new QueueFullError(subject, 1);
    },
    flush: async () => undefined,
    report: (error) => reports.push(error),
    isClosed: () => false,
  };
  const message = {
    seq: 7,
    subject: "t.w.a",
    data: new Uint8Array([1]),
    info: { stream: "w" },
    working: () => log.push(`working ${clock.now()}`),
    nak: (ms?: number) => log.push(`nak ${ms}`),
    term: () => log.push("term"),
  } as unknown as JsMsg;
  let stopping = false;
  const owed = new OwedDeadLetters();
  const moved: MovedMessage = {
    message,
    settings: () => settings,
    headers: { "x-trace": "t1" },
    msgId: "m1",
    storedId: "m1",
    stopping: () => stopping,
    pause: (ms) => new Promise((resolve) => clock.setTimer(resolve, ms)),
    owed,
  };
  return {
    clock,
    host,
    moved,
    log,
    published,
    reports,
    owed,
    stop: () => {
      stopping = true;
    },
  };
}

/** Lets the move run, advancing the clock `step` ms at a time up to `ms`. */
async function run(clock: ManualClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t <= ms; t += step) {
    for (let i = 0; i < 5; i++) await turn();
    clock.advance(step);
  }
}

describe("nats: moving a delivery whose dead letter is refused", () => {
  test("tried again with backoff while the message is held alive, then stored and the original removed", async () => {
    const refuse = new Set(["t.dlq.w"]);
    const s = scripted(refuse);
    const moving = moveToDeadLetter(s.host, s.moved, "not for us", 1);
    await run(s.clock, 2_500);
    refuse.clear();
    await run(s.clock, 1_000);
    assert.equal(await moving, "dead-lettered");
    assert.deepEqual(
      s.published.map((p) => p.at),
      [0, 1_000, 3_000],
      "attempts 1 s, then 2 s apart",
    );
    const stored = s.published.at(-1) as Published;
    assert.equal(stored.msgId, "dlq:m1");
    assert.equal(stored.headers[DeadLetterHeaders.reason], "not for us");
    assert.equal(stored.headers[DeadLetterHeaders.deliveries], "1");
    assert.equal(stored.headers[ORIGINAL_SEQ_HEADER], "7");
    assert.equal(stored.headers["x-trace"], "t1");
    assert.equal(s.reports.length, 2, "each refusal reported");
    const working = s.log.filter((l) => l.startsWith("working")).length;
    assert.ok(working >= 3, `its lease kept alive while held (${working} WORKING)`);
    assert.equal(s.log.filter((l) => l === "term").length, 1);
    assert.equal(
      s.log.some((l) => l.startsWith("nak")),
      false,
      "never given back to a handler",
    );
  });

  test("refused throughout: a copy owing the dead letter is parked at the tail of its queue", async () => {
    const s = scripted(new Set(["t.dlq.w"]));
    const moving = moveToDeadLetter(s.host, s.moved, "boom", 3);
    await run(s.clock, 8_000);
    assert.equal(await moving, "parked");
    assert.deepEqual(
      s.published.map((p) => `${p.at} ${p.subject}`),
      ["0 t.dlq.w", "1000 t.dlq.w", "3000 t.dlq.w", "7000 t.dlq.w", "7000 t.w.a"],
    );
    const parked = s.published.at(-1) as Published;
    assert.equal(
      parked.msgId,
      "m1.redrive.7",
      "a unique id: the original's is in the duplicate window",
    );
    const read = readParked(parked.headers);
    assert.deepEqual(read.owed, { reason: "boom", deliveries: 3, msgId: "m1" });
    assert.deepEqual(read.parkedFrom, { seq: 7, storedId: "m1" });
    assert.deepEqual(
      read.headers,
      { "x-trace": "t1" },
      "its own headers, without the parking ones",
    );
    assert.deepEqual(
      s.log.filter((l) => !l.startsWith("working")),
      ["term"],
    );
    assert.match(s.reports.at(-1)?.message ?? "", /tail of its queue/);
  });

  test("its consumer stopping: parked after the attempt under way, not held for more", async () => {
    const s = scripted(new Set(["t.dlq.w"]));
    s.stop();
    const moving = moveToDeadLetter(s.host, s.moved, "boom", 1);
    await run(s.clock, 200);
    assert.equal(await moving, "parked");
    assert.deepEqual(
      s.published.map((p) => p.subject),
      ["t.dlq.w", "t.w.a"],
    );
  });

  test("the copy refused too: given back after a pause, remembered here as owing its dead letter", async () => {
    const s = scripted(new Set(["t.dlq.w", "t.w.a"]));
    const moving = moveToDeadLetter(s.host, s.moved, "boom", 2);
    const outcome = moving.then(
      () => undefined,
      (error: unknown) => error,
    );
    await run(s.clock, 8_000);
    assert.ok((await outcome) instanceof QueueFullError, "rejects with the dead letter's refusal");
    assert.deepEqual(
      s.log.filter((l) => !l.startsWith("working")),
      ["nak 3000"],
    );
    assert.deepEqual(s.owed.get("w", 7, "m1"), { reason: "boom", deliveries: 2, msgId: "m1" });
    assert.match(s.reports.at(-1)?.message ?? "", /could not park/);
  });
});

describe("nats: the record of owed dead letters", () => {
  test("a message is owed under its stored id only: a stream declared again numbers from 1 anew", () => {
    const owed = new OwedDeadLetters();
    owed.owe("w", 1, "m1", { reason: "r", deliveries: 1, msgId: "m1" });
    assert.equal(owed.get("w", 1, "other"), undefined);
    assert.equal(owed.get("w", 1, "m1")?.reason, "r");
    owed.forget("w", 1);
    assert.equal(owed.get("w", 1, "m1"), undefined);
    for (let seq = 0; seq < 20_000; seq++) {
      owed.owe("w", seq, `m${seq}`, { reason: "r", deliveries: 1, msgId: `m${seq}` });
    }
    assert.ok(owed.size <= 10_000, "bounded");
  });

  test("an ordinary message owes nothing; a parked copy's headers read back", () => {
    assert.deepEqual(readParked({ a: "1" }), { headers: { a: "1" } });
    const headers = parkedHeaders(
      { a: "1" },
      { reason: "why", deliveries: 4, msgId: "m9" },
      { seq: 12, storedId: "m9.redrive.3" },
    );
    assert.equal(headers[ParkedHeaders.reason], "why");
    const read = readParked(headers);
    assert.deepEqual(read.headers, { a: "1" });
    assert.deepEqual(read.owed, { reason: "why", deliveries: 4, msgId: "m9" });
    assert.deepEqual(read.parkedFrom, { seq: 12, storedId: "m9.redrive.3" });
  });
});
