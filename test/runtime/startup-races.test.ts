/**
 * Start-up races are retries, not errors: a node that starts after its
 * peer has already sent it work (the peer's card not yet heard, the
 * handshake not yet done) handles the work, and reports the wait as
 * `trust.retrying`, never as an `error` or a rejected message.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type Clock, systemClock } from "../../src/core/clock.js";
import { type AgentKeyPair, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { subjects } from "../../src/runtime/subjects.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

/**
 * Nodes of one swarm on one in-memory broker, each with a store of its own:
 * a node cannot learn another's agents from a shared registry snapshot,
 * only from the bus, as a node on another machine would.
 */
function racingNodes(
  maxDeliver: number,
  keys: (id: string) => AgentKeyPair = () => generateAgentKeyPair(),
) {
  const dir = mkdtempSync(join(tmpdir(), "conclave-races-"));
  const broker = new MemoryBroker({ journalPath: join(dir, "journal.db") });
  const made: Swarm[] = [];
  const node = (name: string, clock?: Clock) => {
    const swarm = createSwarm({
      name: "races",
      nodeId: name,
      ...(clock ? { clock } : {}),
      roles: { lead: {}, dev: { tasks: ["code"] } },
      defaults: {
        heartbeatMs: 100,
        ackWaitMs: 2000,
        maxDeliver,
        backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
      },
      transport: createMemoryTransport({ broker }),
      store: openSqliteStore({ path: join(dir, `${name}.db`) }),
      keys,
    });
    made.push(swarm);
    return swarm;
  };
  const close = async () => {
    for (const swarm of made) await swarm.close();
    broker.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { broker, node, close };
}

test("work sent before its receiver has heard of the sender is handled, and the wait is no error", async () => {
  const { node, close } = racingNodes(20);
  try {
    const a = node("node-a");
    const b = node("node-b");
    const events: SwarmEvent[] = [];
    b.on((e) => events.push(e));
    a.agent({ id: "lead", role: "lead" });
    let handled = 0;
    b.agent({ id: "dev", role: "dev" }).handle("code", () => {
      handled++;
    });
    await a.start();
    // Queued before node-b exists: its first sight of "lead" is this task.
    for (let n = 0; n < 3; n++) await a.submit("dev", "code", { n }, { as: "lead" });
    await b.start();
    await until(() => handled === 3, 30_000, "the three tasks");
    // Whether node-b waited (its card and handshake in flight) or not, waiting is no error.
    for (const e of events) {
      if (e.type === "trust.retrying") assert.equal(e.agent, "lead", e.reason);
    }
    const noisy = events.filter((e) => e.type === "error" || e.type === "message.rejected");
    assert.deepEqual(noisy, [], "a start-up race is not reported as an error or a rejection");
  } finally {
    await close();
  }
});

test("a task whose signer's card has not arrived yet is retried (trust.retrying), then handled once the card comes", async () => {
  const leadKeys = generateAgentKeyPair();
  const { broker, node, close } = racingNodes(50, (id) =>
    id === "lead" ? leadKeys : generateAgentKeyPair(),
  );
  const raw = createMemoryTransport({ broker });
  try {
    const b = node("node-b");
    const events: SwarmEvent[] = [];
    b.on((e) => events.push(e));
    let handled = 0;
    b.agent({ id: "dev", role: "dev" }).handle("code", () => {
      handled++;
    });
    await b.start();
    // Signed by "lead", whose node has not started: nobody has its card yet.
    const envelope = signEnvelope(
      createEnvelope({ type: "task.code", from: "lead", body: { n: 1 } }),
      leadKeys.privateKey,
    );
    await raw.enqueue(subjects.task("races", "dev", "code"), encodeEnvelope(envelope), {
      msgId: envelope.id,
    });
    await until(
      () => events.some((e) => e.type === "trust.retrying" && e.agent === "lead"),
      10_000,
      "the task retried while its signer is unknown",
    );
    assert.equal(handled, 0, "not run from an unknown signer");
    const a = node("node-a");
    a.agent({ id: "lead", role: "lead" });
    await a.start();
    await until(() => handled === 1, 30_000, "the task, once lead's card arrived");
    const noisy = events.filter((e) => e.type === "error" || e.type === "message.rejected");
    assert.deepEqual(noisy, [], "waiting for a card is not an error or a rejection");
  } finally {
    await raw.close();
    await close();
  }
});

test("a node that has just started waits in place for a signer it has not heard yet, instead of spending the task's deliveries (chaos nats-kill, seed 100)", async () => {
  // A restarted process took scan tasks signed by an agent of another
  // process that was itself restarting: it had not heard that agent's card
  // yet, spent the 4 deliveries in under a second, and dead-lettered 25
  // tasks for an unknown signer; the signer's process came back 5 s after
  // the receiver's. Here: 4 deliveries, 100 ms heartbeats (so leftAfterMs is
  // 1 s), and the signer's node starting 3 s after the receiver.
  const leadKeys = generateAgentKeyPair();
  const { broker, node, close } = racingNodes(4, (id) =>
    id === "lead" ? leadKeys : generateAgentKeyPair(),
  );
  const raw = createMemoryTransport({ broker });
  try {
    const b = node("node-b");
    const events: SwarmEvent[] = [];
    b.on((e) => events.push(e));
    let handled = 0;
    b.agent({ id: "dev", role: "dev" }).handle("code", () => {
      handled++;
    });
    await b.start();
    const started = Date.now();
    for (let n = 0; n < 3; n++) {
      const envelope = signEnvelope(
        createEnvelope({ type: "task.code", from: "lead", body: { n } }),
        leadKeys.privateKey,
      );
      await raw.enqueue(subjects.task("races", "dev", "code"), encodeEnvelope(envelope), {
        msgId: envelope.id,
      });
    }
    await new Promise((r) => setTimeout(r, 3000 - (Date.now() - started)));
    const a = node("node-a");
    a.agent({ id: "lead", role: "lead" });
    await a.start();
    await until(
      () => handled === 3 || events.some((e) => e.type === "task.dead_lettered"),
      30_000,
      "the three tasks handled or one dead-lettered",
    );
    const dead = events.filter((e) => e.type === "task.dead_lettered");
    assert.deepEqual(dead, [], "no task dead-lettered while its signer was on its way");
    assert.equal(handled, 3);
  } finally {
    await raw.close();
    await close();
  }
});

test("a signer still unknown once the node has settled in is refused as before", async () => {
  const { broker, node, close } = racingNodes(2);
  const raw = createMemoryTransport({ broker });
  try {
    // node-b's clock jumps past the start-up window (at least 10 s) once it runs.
    let jump = 0;
    const b = node("node-b", {
      now: () => systemClock.now() + jump,
      setTimer: (fn, ms) => systemClock.setTimer(fn, ms),
    });
    const events: SwarmEvent[] = [];
    b.on((e) => events.push(e));
    b.agent({ id: "dev", role: "dev" }).handle("code", () => undefined);
    await b.start();
    jump = 11_000;
    const stranger = generateAgentKeyPair();
    const envelope = signEnvelope(
      createEnvelope({ type: "task.code", from: "stranger", body: {} }),
      stranger.privateKey,
    );
    const started = Date.now();
    await raw.enqueue(subjects.task("races", "dev", "code"), encodeEnvelope(envelope), {
      msgId: envelope.id,
    });
    await until(
      () => events.some((e) => e.type === "task.dead_lettered"),
      10_000,
      "the stranger's task dead-lettered",
    );
    assert.ok(Date.now() - started < 3000, "a stranger's task does not hold a slot for long");
  } finally {
    await raw.close();
    await close();
  }
});
