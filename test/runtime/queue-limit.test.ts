/**
 * A role's bounded queue (`maxPending` in the swarm file): a submit into a
 * full queue waits, sending again with backoff, until the consumers make
 * room, and says so with a `queue.full` event; then every task runs once.
 * Before, the submit resolved at once with the task left in the store's
 * outbox, so a producer never slowed down (the `overload` chaos scenario).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { until } from "../helpers/until.js";

test("a submit into a full queue waits until there is room (queue.full), then every task runs once", async () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-queue-limit-"));
  const config = parseSwarmConfig(
    `swarm: queue-limit
dataDir: ./data
roles: { lead: {}, worker: { tasks: [job], maxPending: 2 } }
agents:
  - { id: lead, role: lead }
  - { id: w-1, role: worker, concurrency: 1 }
`,
    { baseDir: work },
  );
  assert.equal(config.roles["worker"]?.maxPending, 2);
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const ran: number[] = [];
  const swarm = await openSwarm(config, {
    module: {
      setup(agent) {
        agent.handle<{ n: number }>("job", async (ctx) => {
          await gate;
          ran.push(ctx.body.n);
          return ctx.body.n;
        });
      },
    },
  });
  const full: string[] = [];
  swarm.on((event) => {
    if (event.type === "queue.full") full.push(event.queue);
  });
  try {
    await swarm.start();
    const first = [
      await swarm.submit("worker", "job", { n: 1 }, { as: "lead" }),
      await swarm.submit("worker", "job", { n: 2 }, { as: "lead" }),
    ];
    let third: string | undefined;
    const submitting = swarm.submit("worker", "job", { n: 3 }, { as: "lead" }).then((id) => {
      third = id;
      return id;
    });
    await sleep(400);
    assert.equal(third, undefined, "the third submit waits while the queue holds 2");
    assert.ok(full.length >= 1, "a queue.full event says why");
    release();
    const id = await submitting;
    for (const task of [...first, id]) await swarm.wait(task, { timeoutMs: 10_000 });
    await until(() => ran.length === 3, 5_000, "three runs");
    assert.deepEqual(
      [...ran].sort((a, b) => a - b),
      [1, 2, 3],
    );
  } finally {
    await swarm.close();
    rmSync(work, { recursive: true, force: true });
  }
});
