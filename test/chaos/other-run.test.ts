/**
 * Defect "one run's leftovers leak into another's store" (issue 17,
 * docs/CHAOS.md Finding 9): a new run on the same broker and swarm name,
 * with fresh keys and a fresh store, took the old run's still-queued tasks,
 * dead-lettered them for an unknown signer and recorded those dead letters
 * in its own store. Now each task carries its run's id (`conclave-run`):
 * the new run parks the old run's tasks in `<swarm>-other-runs`, unrun and
 * unrecorded, reports each (`task.other_run`) and counts them in its summary.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RunCounters } from "../../src/cli/progress.js";
import { buildSummary, humanSummary } from "../../src/cli/run.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { RUN_META_KEY } from "../../src/runtime/run-identity.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { workloadProgress } from "../../src/runtime/workload.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport } from "../../src/transport/nats/nats-transport.js";
import { until } from "../helpers/until.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("one run's leftovers stay out of another run's store", {
  skip: natsServerAvailable() ? false : "no nats-server on PATH",
}, () => {
  let server: NatsServer;
  const dir = mkdtempSync(join(tmpdir(), "conclave-other-run-"));

  before(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One run: its own store and fresh keys, on the shared private server. */
  const run = async (name: string) =>
    createSwarm({
      name: "leak",
      nodeId: name,
      roles: { lead: {}, dev: { tasks: ["code"] } },
      defaults: {
        heartbeatMs: 100,
        ackWaitMs: 2000,
        maxDeliver: 2,
        backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
      },
      transport: await createNatsTransport({ servers: server.url }),
      store: openSqliteStore({ path: join(dir, `${name}.db`) }),
      keys: () => generateAgentKeyPair(),
    });

  test("a new run parks the old run's queued tasks, records none of them, and counts them in its summary", async () => {
    // Run 1 queues three tasks for a role nobody of its own consumes, and ends.
    const first = await run("run-1");
    first.agent({ id: "lead", role: "lead" });
    await first.start();
    const firstRun = await first.store.getMeta(RUN_META_KEY);
    for (let n = 0; n < 3; n++) await first.submit("dev", "code", { n }, { as: "lead" });
    await first.close();

    // Run 2: same broker and swarm name, fresh keys, fresh store.
    const second = await run("run-2");
    const events: SwarmEvent[] = [];
    const counters = new RunCounters();
    second.on((e) => {
      events.push(e);
      counters.observe(e);
    });
    second.agent({ id: "lead", role: "lead" });
    const handled: unknown[] = [];
    second.agent({ id: "dev", role: "dev" }).handle("code", (ctx) => {
      handled.push(ctx.body);
      ctx.effect("code.done", ctx.task.id);
    });
    const started = Date.now();
    try {
      await second.start();
      const secondRun = await second.store.getMeta(RUN_META_KEY);
      assert.ok(firstRun && secondRun && firstRun !== secondRun, "each store has its own run");
      // Its own work runs as usual.
      const own = await second.submit("dev", "code", { own: true }, { as: "lead" });
      await until(async () => (await second.outcome(own)) !== undefined, 10_000, "run 2's task");
      // Long enough for dead letters to be made and recorded, as they were before.
      await sleep(1500);
      assert.deepEqual(handled, [{ own: true }], "none of run 1's tasks ran");
      assert.deepEqual(await second.store.deadLetters(), [], "no dead letter from run 1");
      await until(
        () => events.filter((e) => e.type === "task.other_run").length === 3,
        15_000,
        "run 1's three tasks parked",
      );
      for (const e of events) {
        if (e.type === "task.other_run") {
          assert.equal(e.run, firstRun);
          assert.equal(e.parkedIn, "leak-other-runs");
        }
      }
      const parked = await second.transport.queueInfo("leak-other-runs");
      assert.equal(parked.pending, 3, "run 1's tasks wait where an operator sees them");

      const summary = buildSummary(
        "leak",
        await workloadProgress(second.store),
        counters,
        {},
        started,
      );
      assert.equal(summary.otherRunTasks, 3);
      assert.equal(summary.tasks.deadLettered, 0);
      assert.match(humanSummary(summary, counters, false, true), /other runs' tasks\s+3 parked/);
    } finally {
      await second.close();
    }
  });
});
