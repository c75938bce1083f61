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
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createNatsTransport } from "../../src/transport/nats/nats-transport.js";
import { type NatsServer, natsServerAvailable, startNatsServer } from "../helpers/nats-server.js";
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

  test("is sent again by the outbox's watch and runs once; nothing stays watched", {
    timeout: 60_000,
  }, async () => {
    assertAvailable("nats-server", missing);
    server = await startNatsServer();
    const url = server.url;
    const name = randomSwarmName("lost");
    const path = join(work, "swarm.db");
    const events: SwarmEvent[] = [];
    const node = async () =>
      createSwarm({
        name,
        transport: await createNatsTransport({ servers: url }),
        store: openSqliteStore({ path }),
        keys: () => generateAgentKeyPair(),
        roles: { lead: {}, worker: {} },
        defaults: { heartbeatMs: 100, ackWaitMs: 5000 },
        sentWatch: { afterMs: 300, graceMs: 300 },
      });

    const lead = await node();
    swarms.push(lead);
    lead.agent({ id: "boss", role: "lead" });
    lead.on((e) => events.push(e));
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
    const [seq, stream] = (receipt as string).split(":") as [string, string];
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      assert.equal(await jsm.streams.deleteMessage(stream, Number(seq), false), true);
    } finally {
      await nc.close();
    }

    const worker = await node();
    swarms.push(worker);
    worker.on((e) => events.push(e));
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
});
