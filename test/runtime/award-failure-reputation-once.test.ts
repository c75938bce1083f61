import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { agentAccount } from "../../src/ledger/index.js";
import { updateMarketReputation } from "../../src/market/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { queueNames } from "../../src/runtime/subjects.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Delivery, DeliveryHandler, Transport } from "../../src/transport/port.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

/** The memory transport, but the first `failures` acks of the dead-letter queue fail (a link lost at the ack). */
function ackFailingTransport(journalPath: string, swarm: string, failures: number) {
  const inner = createMemoryTransport({ journalPath });
  const state = { acks: 0, failures };
  const dlq = queueNames.deadLetters(swarm);
  const wrap = (delivery: Delivery): Delivery =>
    new Proxy(delivery, {
      get(target, prop) {
        if (prop === "ack") {
          return async () => {
            state.acks++;
            if (state.failures > 0) {
              state.failures--;
              throw new Error("connection lost while acking");
            }
            await target.ack();
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const transport = new Proxy(inner, {
    get(target, prop) {
      if (prop === "consume") {
        return (queue: string, handler: DeliveryHandler, options: { maxInFlight: number }) =>
          target.consume(queue, queue === dlq ? (d) => handler(wrap(d)) : handler, options);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Transport;
  return { transport, state };
}

describe("an awarded task that dies counts one failure for its winner", () => {
  test("the dead letter's ack fails and it is delivered again: reputation learns the failure once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-test-"));
    const { transport, state } = ackFailingTransport(join(dir, "journal.db"), "test", 1);
    const swarm = createSwarm({
      name: "test",
      keys: () => generateAgentKeyPair(),
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
      transport,
      store: openSqliteStore({ path: join(dir, "store.db") }),
    });
    try {
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
      swarm
        .agent({ id: "dev-1", role: "dev" })
        .bid(() => ({ price: 30 }))
        .handle("review", () => {
          throw new Error("cannot review");
        });
      await swarm.start();
      await live(swarm, ["dev-1"]);
      const won = await swarm.auction(
        "review",
        { pr: 1 },
        { as: "lead", rule: "first-price", reserve: 100, roundMs: 100 },
      );
      assert.equal(won.winner, "dev-1");
      await until(
        () => events.some((e) => e.type === "task.dead_lettered" && e.id === won.task),
        20000,
        "the awarded task dead-lettered and its dead letter acked",
      );
      assert.equal(state.acks, 2, "the first ack failed, the redelivery's went through");
      const [record] = await swarm.store.reputations(["dev-1"]);
      const once = updateMarketReputation(undefined, { success: false }, 0.2);
      assert.equal(record?.score, once, "one failure, not two");
      assert.equal(record?.observations, 1);
      assert.equal(
        await swarm.store.balance(agentAccount("lead")),
        1000,
        "the price refunded once",
      );

      // Redriven, it dies again: that is a second failure, and it counts.
      const deaths = () =>
        events.filter((e) => e.type === "task.dead_lettered" && e.id === won.task).length;
      await swarm.redrive(won.task as string, { by: "test", unpaid: true });
      await until(() => deaths() === 2, 20000, "the redriven task dead-lettered again");
      const [again] = await swarm.store.reputations(["dev-1"]);
      assert.equal(again?.observations, 2);
      assert.equal(again?.score, updateMarketReputation(once, { success: false }, 0.2));
    } finally {
      await swarm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
