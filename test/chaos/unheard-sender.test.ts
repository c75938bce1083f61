/**
 * Found by the chaos scenario nats-r3-pause (seed 42, docs/CHAOS.md): a node
 * that starts while a sender is unreachable (the sender's NATS server
 * SIGSTOPped) has never seen the sender's card, so the sender's queued tasks
 * fail to verify as from an "unknown signer". They were naked a heartbeat
 * apart and dead-lettered once `maxDeliver` deliveries were spent (under a
 * second with a 300 ms heartbeat): 166 of 200 tasks in that run, although
 * the sender was heard again 9 s later. Now such a task is retried at the
 * pace of a lost delivery (`ackWaitMs` apart), so a sender that comes back
 * within `maxDeliver` ack waits gets its tasks run.
 *
 * Node A submits three tasks, then it neither sends nor hears core messages
 * (cards, heartbeats, handshakes), as a process on a stopped server; node B starts with the only
 * developer and takes the tasks; A is heard again after a second.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 1500,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

describe("a node that never heard a sender which is silent for a while", () => {
  test("runs the sender's queued tasks once it hears it, instead of dead-lettering them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-unheard-"));
    const broker = new MemoryBroker({ journalPath: join(dir, "journal.db") });
    const made: Swarm[] = [];
    const node = (name: string, silent: { on: boolean }) => {
      const transport = createMemoryTransport({ broker });
      const publish = transport.publish.bind(transport);
      transport.publish = (subject, data, options) => {
        if (!silent.on) publish(subject, data, options);
      };
      // Deaf too while silent: no handshake or roster request is answered.
      const subscribe = transport.subscribe.bind(transport);
      transport.subscribe = (pattern, handler, options) =>
        subscribe(pattern, (message) => (silent.on ? undefined : handler(message)), options);
      const swarm = createSwarm({
        name: "unheard",
        roles: { lead: {}, dev: { tasks: ["code"] } },
        defaults,
        transport,
        store: openSqliteStore({ path: join(dir, "store.db") }),
        keys: () => generateAgentKeyPair(),
        nodeId: name,
      });
      made.push(swarm);
      return swarm;
    };
    try {
      const silentA = { on: false };
      const a = node("node-a", silentA);
      a.agent({ id: "lead", role: "lead" });
      await a.start();
      for (let n = 1; n <= 3; n++) await a.submit("dev", "code", { n }, { as: "lead" });
      silentA.on = true;

      const b = node("node-b", { on: false });
      const handled: number[] = [];
      b.agent({ id: "dev", role: "dev", concurrency: 1 }).handle<{ n: number }>(
        "code",
        async (ctx) => {
          handled.push(ctx.body.n);
        },
      );
      await b.start();
      // B takes the tasks while A is silent; A is heard again a second later.
      await sleep(1_000);
      silentA.on = false;
      await until(
        async () => handled.length + (await b.store.deadLetters()).length === 3,
        15_000,
        "the three tasks settled",
      );
      assert.deepEqual(
        (await b.store.deadLetters()).map((d) => d.reason),
        [],
        "nothing dead-lettered",
      );
      assert.deepEqual(
        [...handled].sort((x, y) => x - y),
        [1, 2, 3],
      );
    } finally {
      for (const s of made) await s.close();
      broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
