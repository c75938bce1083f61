/**
 * A pool whose spawns keep failing (a template whose setup always throws, a
 * host out of capacity) backs off between attempts instead of trying, and
 * reporting an error, every interval forever; once a spawn succeeds it looks
 * at its queue every interval again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import type { Agent } from "../../src/runtime/agent.js";
import { AgentPool, type PoolHost } from "../../src/runtime/agent-pool.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { queueNames, subjects } from "../../src/runtime/subjects.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

test("failing spawns back off (capped), and the pool looks every interval again once one succeeds", async () => {
  const transport = createMemoryTransport();
  const clock = new ManualClock(0);
  try {
    await transport.ensureQueue({
      name: "s-dead",
      subjects: "s.dead",
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deadLetterSubject: "s.dead",
    });
    await transport.ensureQueue({
      name: queueNames.role("s", "worker"),
      subjects: subjects.roleTasks("s", "worker"),
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deadLetterSubject: "s.dead",
    });
    const hosted = new Map<string, Agent>();
    const events: SwarmEvent[] = [];
    let failing = true;
    const attempts: number[] = [];
    const host: PoolHost = {
      clock,
      transport,
      swarm: "s",
      hosted: (id) => hosted.get(id),
      async spawn(id) {
        attempts.push(clock.now());
        if (failing) throw new Error("template setup failed");
        const agent = { id, role: "worker", inFlight: 0, paused: false } as unknown as Agent;
        hosted.set(id, agent);
        return agent;
      },
      async retire(id) {
        hosted.delete(id);
      },
      on: () => () => undefined,
      emit: (event) => events.push(event),
      announce: () => undefined,
    };
    const pool = new AgentPool(
      { role: "worker", min: 1, max: 2, intervalMs: 100, spawn: () => undefined as never },
      host,
    );
    pool.start();
    // Ten minutes in steps of one interval.
    for (let t = 0; t < 6_000; t++) {
      clock.advance(100);
      await settle();
    }
    const errors = events.filter((e) => e.type === "error");
    assert.ok(attempts.length >= 5, `it keeps trying: ${attempts.length}`);
    assert.ok(
      attempts.length <= 30,
      `backed off instead of trying every interval: ${attempts.length} attempts in 10 min`,
    );
    assert.equal(errors.length, attempts.length, "each failure reported once");
    const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] as number));
    assert.ok(
      gaps.every((gap) => gap <= 60_000 + 100),
      `the wait is capped: ${gaps.join(", ")}`,
    );
    assert.ok((gaps.at(-1) as number) > 100, "still backing off at the end");

    failing = false;
    const before = attempts.length;
    for (let t = 0; t < 700 && pool.serving === 0; t++) {
      clock.advance(100);
      await settle();
    }
    assert.equal(pool.serving, 1, "a worker once spawns succeed");
    assert.equal(attempts.length, before + 1);
    // Back to one look per interval: losing the worker is noticed at the next one.
    hosted.clear();
    const at = clock.now();
    for (let t = 0; t < 3 && attempts.length === before + 1; t++) {
      clock.advance(100);
      await settle();
    }
    assert.equal(attempts.length, before + 2, "a replacement spawned");
    assert.ok((attempts.at(-1) as number) - at <= 200, "within an interval or two");
    await pool.stop();
  } finally {
    await transport.close();
  }
});
