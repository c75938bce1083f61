/**
 * A task the broker acknowledged and then lost (chaos `nats-r3-partition`
 * 2,000-task seed 701 on nats-server 2.10.27: hops sent while a stream
 * leader was cut off, acknowledged, never delivered; see
 * nats-io/nats-server#6236) is sent again by the outbox's watch.
 *
 * On a private nats-server, one node (the lead's) submits two tasks; the
 * first is then deleted from its stream behind the bus's back, as the
 * broker losing it after its acknowledgement. A second node sharing the
 * store hosts the worker. Before the watch, the first task stayed lost
 * (nothing in the store or the stream remembered it); now its outbox entry
 * stays, marked sent, until the worker's completion deletes it, and the
 * watch sends it again once the broker no longer holds it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { PermanentError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport } from "../../src/transport/nats/nats-transport.js";
import { until } from "../helpers/until.js";
import { assertAvailable, randomSwarmName, requirement } from "./fixtures/processes.js";

const missing = natsServerAvailable() ? undefined : "no nats-server binary on PATH";

describe("a task the broker lost after acknowledging it", {
  skip: requirement("nats-server", missing),
}, () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-lost-send-"));
  let server: NatsServer | undefined;
  const swarms: Swarm[] = [];
  after(async () => {
    for (const s of swarms.reverse()) await s.close().catch(() => undefined);
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * A node of swarm `name` on the private server, sharing the store at
   * `path`; not started. One server: its sent tasks are watched only when
   * asked (by default with replicas above 1), as most of these tests do.
   */
  const nodeOf = async (
    name: string,
    path: string,
    events: SwarmEvent[],
    options: { readonly watchSent?: boolean } = { watchSent: true },
  ) => {
    const swarm = createSwarm({
      name,
      transport: await createNatsTransport({ servers: (server as NatsServer).url, ...options }),
      store: openSqliteStore({ path }),
      keys: () => generateAgentKeyPair(),
      roles: { lead: {}, worker: {} },
      defaults: { heartbeatMs: 100, ackWaitMs: 5000 },
      sentWatch: { afterMs: 300, graceMs: 300 },
    });
    swarms.push(swarm);
    swarm.on((e) => events.push(e));
    return swarm;
  };

  /** The broker losing a message it acknowledged: deleted from its stream behind the bus's back. */
  const loseFromStream = async (receipt: string) => {
    const [seq, stream] = receipt.split(":") as [string, string];
    const nc = await connect({ servers: (server as NatsServer).url });
    try {
      const jsm = await jetstreamManager(nc);
      assert.equal(await jsm.streams.deleteMessage(stream, Number(seq), false), true);
    } finally {
      await nc.close();
    }
  };

  test("is sent again by the outbox's watch and runs once; nothing stays watched", {
    timeout: 60_000,
  }, async () => {
    assertAvailable("nats-server", missing);
    server ??= await startNatsServer();
    const name = randomSwarmName("lost");
    const path = join(work, "swarm.db");
    const events: SwarmEvent[] = [];

    const lead = await nodeOf(name, path, events);
    lead.agent({ id: "boss", role: "lead" });
    await lead.start();
    const lost = await lead.submit("worker", "job", { n: 1 }, { as: "boss" });
    const kept = await lead.submit("worker", "job", { n: 2 }, { as: "boss" });

    // Marked sent with the broker's receipt (one write after the sends).
    let receipt: string | undefined;
    await until(
      async () => {
        const sent = await lead.store.sentOutbox({ sentBefore: Date.now() + 1000 });
        receipt = sent.find((e) => e.id === lost)?.receipt;
        return receipt !== undefined && sent.some((e) => e.id === kept);
      },
      10_000,
      "both tasks marked sent",
    );
    assert.deepEqual(await lead.store.pendingOutbox(), [], "nothing left unsent");
    await loseFromStream(receipt as string);

    const worker = await nodeOf(name, path, events);
    worker.agent({ id: "w-1", role: "worker" }).handle<{ n: number }>("job", (ctx) => {
      ctx.effect("job.done", String(ctx.body.n));
      return ctx.body.n;
    });
    await worker.start();

    await until(
      async () =>
        (await lead.store.taskOutcome(lost))?.status === "completed" &&
        (await lead.store.taskOutcome(kept))?.status === "completed",
      30_000,
      "both tasks completed",
      50,
    );
    const resent = events.filter((e) => e.type === "task.resent");
    assert.ok(resent.length >= 1, "the lost task was sent again");
    assert.ok(
      resent.every((e) => e.type === "task.resent" && e.id === lost && e.resends === 1),
      JSON.stringify(resent),
    );
    const done = await lead.store.effects("job.done");
    assert.deepEqual(done.map((e) => e.key).sort(), ["1", "2"], "each ran once");
    // Settled: the completions deleted both entries; nothing is watched.
    assert.deepEqual(await lead.store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER }), []);
    assert.deepEqual(await lead.store.deadLetters(), []);
  });

  test("a redriven dead letter the broker lost is sent again too, and settles its redrive", {
    timeout: 60_000,
  }, async () => {
    assertAvailable("nats-server", missing);
    server ??= await startNatsServer();
    const name = randomSwarmName("lostredrive");
    const path = join(work, "redrive.db");
    const events: SwarmEvent[] = [];
    let broken = true;
    const node = async (worker?: string) => {
      const swarm = await nodeOf(name, path, events);
      if (worker === undefined) swarm.agent({ id: "boss", role: "lead" });
      else {
        swarm.agent({ id: worker, role: "worker" }).handle("job", (ctx) => {
          if (broken) throw new PermanentError("the upstream API key is revoked; rotate it");
          ctx.effect("job.done", ctx.task.id);
          return "done";
        });
      }
      await swarm.start();
      return swarm;
    };

    const lead = await node();
    const first = await node("w-1");
    const id = await lead.submit("worker", "job", {}, { as: "boss" });
    await until(async () => (await lead.store.deadLetter(id)) !== undefined, 20_000, "dead");
    await first.close();
    broken = false;

    const redriven = await lead.redrive(id, { by: "oncall" });
    assert.equal(redriven.sent, true);
    let copy = "";
    let receipt: string | undefined;
    await until(
      async () => {
        const sent = await lead.store.sentOutbox({ sentBefore: Date.now() + 1000 });
        const entry = sent.find((e) => e.id.startsWith(`${id}.redrive.`));
        copy = entry?.id ?? "";
        receipt = entry?.receipt;
        return receipt !== undefined;
      },
      10_000,
      "the redrive marked sent",
    );
    // Lost by the broker after it acknowledged it. Before, nothing remembered it.
    await loseFromStream(receipt as string);

    await node("w-2");
    await until(
      async () => (await lead.store.taskOutcome(id))?.status === "completed",
      30_000,
      "the redriven task completed",
      50,
    );
    assert.ok(
      events.some((e) => e.type === "task.resent" && e.id === copy),
      "the lost redrive was sent again",
    );
    const done = (await lead.store.effects("job.done")).filter((e) => e.key === id);
    assert.equal(done.length, 1, "it ran once");
    // The completion of the copy's copy settled the redrive's entry.
    assert.deepEqual(await lead.store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER }), []);
    assert.deepEqual(await lead.store.deadLetters(), []);
  });

  test("a copy delivered after its task completed settles its own entry: nothing is sent again", {
    timeout: 60_000,
  }, async () => {
    assertAvailable("nats-server", missing);
    server ??= await startNatsServer();
    const name = randomSwarmName("dupsettle");
    const path = join(work, "duplicate.db");
    const events: SwarmEvent[] = [];
    const lead = await nodeOf(name, path, events);
    lead.agent({ id: "boss", role: "lead" });
    await lead.start();
    const id = await lead.submit("worker", "job", {}, { as: "boss" });
    let entry: { subject: string; data: Uint8Array } | undefined;
    await until(
      async () => {
        const sent = await lead.store.sentOutbox({ sentBefore: Date.now() + 1000 });
        entry = sent.find((e) => e.id === id);
        return entry !== undefined;
      },
      10_000,
      "the task marked sent",
    );
    // A second copy of the task died (as RabbitMQ's double delivery once did)
    // while the first is still queued; redriven, the task is queued twice.
    const { subject, data } = entry as { subject: string; data: Uint8Array };
    await lead.store.recordDeadLetter({
      id,
      subject,
      reason: "a second copy died",
      deliveries: 1,
      at: Date.now(),
      data: Buffer.from(data).toString("base64"),
    });
    await lead.redrive(id, { by: "oncall" });
    await until(
      async () =>
        (await lead.store.sentOutbox({ sentBefore: Date.now() + 1000 })).some((e) =>
          e.id.startsWith(`${id}.redrive.`),
        ),
      10_000,
      "the redrive marked sent",
    );

    // The first copy completes (settling its own entry); the redrive then
    // arrives as a duplicate and must settle the redrive's entry. Before, it
    // stayed, and the watch sent it again and again (the broker no longer
    // held what had been acked) until it gave up with an error.
    const worker = await nodeOf(name, path, events);
    worker.agent({ id: "w-1", role: "worker" }).handle("job", (ctx) => {
      ctx.effect("job.done", ctx.task.id);
      return "done";
    });
    await worker.start();
    await until(
      () => events.some((e) => e.type === "task.duplicate" && e.id === id),
      20_000,
      "the redrive delivered as a duplicate",
      50,
    );
    await until(
      async () =>
        (await lead.store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER })).length === 0,
      10_000,
      "every entry settled",
      50,
    );
    // Past the watch's afterMs and grace (300 ms each), twice over.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(
      events.filter((e) => e.type === "task.resent" || e.type === "error"),
      [],
    );
    const done = (await lead.store.effects("job.done")).filter((e) => e.key === id);
    assert.equal(done.length, 1, "it ran once");
  });

  test("on one server, a task a client in another language took is not sent again", {
    timeout: 60_000,
  }, async () => {
    assertAvailable("nats-server", missing);
    server ??= await startNatsServer();
    const name = randomSwarmName("foreign");
    const events: SwarmEvent[] = [];
    // Not watched by default with one replica (see NatsTransportConfig.watchSent).
    const lead = await nodeOf(name, join(work, "foreign.db"), events, {});
    lead.agent({ id: "boss", role: "lead" });
    await lead.start();
    assert.equal(lead.transport.features.watchSent, false);
    await lead.submit("worker", "job", { n: 1 }, { as: "boss" });

    // A raw JetStream client takes and acks it; it records nothing in the store.
    const nc = await connect({ servers: server.url });
    let taken = 0;
    try {
      const consumer = await jetstream(nc).consumers.get(`${name}-task-worker`, "conclave");
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline) {
        const message = await consumer.next({ expires: 1000 });
        if (message === null) continue;
        taken++;
        message.ack();
      }
    } finally {
      await nc.close();
    }
    assert.equal(taken, 1, "taken once, never sent again");
    assert.equal(
      events.some((e) => e.type === "task.resent"),
      false,
    );
    assert.deepEqual(await lead.store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER }), []);
  });
});
