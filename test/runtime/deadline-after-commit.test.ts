/**
 * A task whose handler committed (effects applied, completion recorded) but
 * whose ack was lost (a crash between commit and ack, or a lost ack) is
 * redelivered, and finds its marker: it only finishes sending. When its
 * deadline passed meanwhile, it used to be dead-lettered as "deadline
 * passed" before the marker was looked at, and its delegation's escrow was
 * refunded: the task ended both completed and dead-lettered, its worker
 * unpaid.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type {
  ConsumeOptions,
  Delivery,
  DeliveryHandler,
  Transport,
} from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

test("a committed task redelivered after its deadline is not dead-lettered (nor refunded)", {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "hunt-deadline-"));
  const memory = createMemoryTransport({ journalPath: join(dir, "journal.db") });
  let dropped = 0;
  // The first ack of a work task is lost (as if the process died right after the commit).
  const transport = new Proxy(memory, {
    get: (target, key) => {
      if (key === "consume") {
        return (queue: string, handler: DeliveryHandler, opts: ConsumeOptions) =>
          target.consume(
            queue,
            (d: Delivery) => {
              if (!queue.includes("dev") || dropped > 0) return handler(d);
              const wrapped = new Proxy(d, {
                get: (t, k) => {
                  if (k === "ack")
                    return async () => {
                      dropped++;
                    };
                  const v = Reflect.get(t, k, t);
                  return typeof v === "function" ? v.bind(t) : v;
                },
              });
              return handler(wrapped);
            },
            opts,
          );
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Transport;
  const swarm = createSwarm({
    name: "dl",
    transport,
    store: openSqliteStore({ path: join(dir, "store.db") }),
    keys: () => generateAgentKeyPair(),
    roles: { lead: {}, dev: { tasks: ["work"], ackWaitMs: 1000, maxDeliver: 5 } },
  });
  swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
  swarm
    .agent({ id: "dev-1", role: "dev", budget: { initial: 0, minBalance: 0 } })
    .handle("work", (ctx) => {
      ctx.effect("work.done", ctx.task.id);
      return { done: true };
    });
  try {
    await swarm.start();
    const id = await swarm.delegate(
      "dev",
      "work",
      {},
      { as: "lead", budget: 100, deadline: Date.now() + 600 },
    );
    await until(
      async () => (await swarm.store.isCompleted(id)) && dropped === 1,
      5000,
      "the commit",
    );
    assert.equal(await swarm.budgets.balance("lead"), 900, "100 held in escrow");
    // Wait past the ack wait: the task is redelivered once.
    await new Promise((r) => setTimeout(r, 2500));
    const dead = await swarm.store.deadLetter(id);
    const outcome = await swarm.outcome(id);
    const lead = await swarm.budgets.balance("lead");
    const effects = (await swarm.store.effects("work.done")).filter((e) => e.key === id).length;
    console.log(
      JSON.stringify({
        outcome: outcome?.status,
        effects,
        deadLetter: dead?.reason,
        leadBalance: lead,
      }),
    );
    assert.equal(dead, undefined, `a completed task was also dead-lettered: ${dead?.reason}`);
    assert.equal(lead, 900, "the escrow of completed work was refunded to the delegator");
  } finally {
    await swarm.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
