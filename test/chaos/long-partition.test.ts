/**
 * Open finding 2 of docs/CHAOS.md, fixed: when node B has not heard node A
 * for longer than `leftAfterMs`, B marks A's agents left, but it keeps the
 * keys their handshake proved. The tasks A's agents queued before the
 * partition are then verified and run, instead of being dead-lettered as
 * "unknown signer" in the moments before A returns; and A, back, is trusted
 * again without a new handshake.
 *
 * The partition is one-way and at the heartbeat level: node A's transport
 * drops its own heartbeats (the registry's only evidence that A is alive)
 * while its tasks already sit in the durable queue.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 3000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

describe("a node back from a partition longer than leftAfterMs", () => {
  test("its queued tasks are verified and run, not dead-lettered as from an unknown signer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-partition-"));
    const broker = new MemoryBroker({ journalPath: join(dir, "journal.db") });
    const made: Swarm[] = [];
    const node = (name: string, heartbeats: { cut: boolean }) => {
      const transport = createMemoryTransport({ broker });
      const publish = transport.publish.bind(transport);
      transport.publish = (subject, data, options) => {
        if (heartbeats.cut && subject.endsWith(".registry.heartbeat")) return;
        publish(subject, data, options);
      };
      const swarm = createSwarm({
        name: "partition",
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
      const partitionA = { cut: false };
      const a = node("node-a", partitionA);
      const b = node("node-b", { cut: false });
      const events: SwarmEvent[] = [];
      b.on((e) => events.push(e));
      a.agent({ id: "lead", role: "lead" });
      let open = () => {};
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const handled: number[] = [];
      b.agent({ id: "dev", role: "dev", concurrency: 1 }).handle<{ n: number }>(
        "code",
        async (ctx) => {
          await gate;
          handled.push(ctx.body.n);
        },
      );
      await a.start();
      await b.start();
      await until(
        () => events.some((e) => e.type === "agent.trusted" && e.agent === "lead"),
        5000,
        "node-b trusting lead",
      );
      // Five tasks queued; the first holds dev's only slot until the gate opens.
      for (let n = 1; n <= 5; n++) await a.submit("dev", "code", { n }, { as: "lead" });

      partitionA.cut = true;
      await until(
        () => events.some((e) => e.type === "agent.left" && e.card.id === "lead"),
        10_000,
        "node-b marking lead left",
      );
      // Still partitioned: node-b takes the queued tasks of an agent it no longer hears.
      open();
      await until(
        async () => handled.length + (await b.store.deadLetters()).length === 5,
        15_000,
        "the five tasks settled",
      );
      assert.deepEqual(await b.store.deadLetters(), [], "nothing dead-lettered");

      partitionA.cut = false;
      await until(
        () => events.some((e) => e.type === "agent.joined" && e.card.id === "lead"),
        10_000,
        "lead back",
      );
      await a.submit("dev", "code", { n: 6 }, { as: "lead" });
      await until(() => handled.length === 6, 10_000, "the task sent after the partition");
      assert.deepEqual(
        [...handled].sort((x, y) => x - y),
        [1, 2, 3, 4, 5, 6],
      );
    } finally {
      for (const s of made) await s.close();
      broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
