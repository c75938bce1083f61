/**
 * `NatsTopology.holds` (src/transport/nats/topology.ts) against a scripted
 * JetStream manager: a message gone from its stream is lost (false) unless
 * its queue's dead-letter consumer still has dead letters to settle, among
 * which it may be (undefined: cannot tell). What the dead-letter stream
 * merely holds does not count: nats-server 2.9 can leave a stream holding
 * messages its consumer counts as acknowledged (CHAOS.md, Finding 19), and
 * two such messages kept every lost task "cannot tell", unsent, for five
 * minutes (chaos nats-r3-partition seed 1003, 2,000 tasks, on 2.9.10).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { DURABLE, describeSettings } from "../../src/transport/nats/queue-settings.js";
import { NatsTopology, type TopologyConfig } from "../../src/transport/nats/topology.js";

const work = {
  name: "s-task-w",
  subjects: "s.task.w.>",
  ackWaitMs: 30_000,
  maxDeliver: 3,
  deadLetterSubject: "s.dlq.w",
};

/** A topology whose manager answers: `work` declared, its message gone, its dead-letter stream as given. */
function topology(dlq: { streamMessages: number; pending: number; ackPending: number }) {
  const jsm = {
    streams: {
      // Another message at that sequence, or none: not the one asked about.
      getMessage: async () => null,
      find: async (subject: string) => (subject === work.deadLetterSubject ? "s-dlq" : "?"),
      info: async () => ({ state: { messages: dlq.streamMessages } }),
    },
    consumers: {
      info: async (stream: string, durable: string) => {
        assert.equal(durable, DURABLE);
        return stream === work.name
          ? { config: { description: describeSettings(work), ack_wait: 30e9 } }
          : { num_pending: dlq.pending, num_ack_pending: dlq.ackPending, config: {} };
      },
    },
  };
  return new NatsTopology({
    jsm,
    clock: systemClock,
    report: () => {},
    isClosed: () => false,
  } as unknown as TopologyConfig);
}

describe("whether the NATS broker still holds a sent task", () => {
  test("gone, with no dead letter left to settle: lost, even beside messages its dead-letter stream strands", async () => {
    const held = await topology({ streamMessages: 2, pending: 0, ackPending: 0 }).holds(
      work.name,
      7,
      "t1",
    );
    assert.equal(held, false);
  });

  test("gone while dead letters wait to be delivered or recorded: cannot tell", async () => {
    for (const dlq of [
      { streamMessages: 1, pending: 1, ackPending: 0 },
      { streamMessages: 1, pending: 0, ackPending: 1 },
    ]) {
      assert.equal(await topology(dlq).holds(work.name, 7, "t1"), undefined);
    }
  });
});
