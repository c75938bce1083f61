/**
 * Redriving a dead letter: once what made a task fail is fixed, the same
 * task (same envelope, same signature) goes to its queue again with fresh
 * deliveries; the redrive is in the audit log (who, when, which attempt);
 * a task whose escrow was refunded runs only when asked to run unpaid; and
 * what cannot be redriven is refused with the reason.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { PermanentError, RedriveRefusedError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { REDRIVEN_KIND } from "../../src/runtime/dead-letters.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { EnqueueOptions, Transport } from "../../src/transport/port.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { until } from "../helpers/until.js";

describe("redriving dead letters", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-redrive-"));
  let swarm: Swarm;
  let broken = true;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: redrive
dataDir: ./data
defaults: { maxDeliver: 2, backoff: { baseMs: 5, maxMs: 10 } }
roles: { lead: { tasks: [plan] }, worker: { tasks: [fetch] }, meter: { tasks: [measure] } }
agents:
  - { id: lead, role: lead, budget: { initial: 1000 } }
  - { id: w-1, role: worker }
  - { id: m-1, role: meter, budget: { initial: 100 } }
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          agent.handle("fetch", () => {
            if (broken) throw new PermanentError("the upstream API key is revoked; rotate it");
            return { fetched: true };
          });
          agent.handle("measure", async (ctx) => {
            await ctx.spend({ kind: "tool", credits: 5 });
            if (broken) throw new PermanentError("the instrument is off; calibrate it");
            return { measured: true };
          });
          agent.handle<{ budget: number }>("plan", async (ctx) => {
            await ctx.delegate("worker", "fetch", {}, { budget: ctx.body.budget });
          });
        },
      },
    });
    await swarm.start();
  });
  after(async () => {
    await swarm.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("a fixed task runs again and completes; the redrive is audited; a second one is refused", async () => {
    broken = true;
    const id = await swarm.submit("worker", "fetch", { url: "x" }, { as: "lead" });
    await assert.rejects(swarm.wait(id, { timeoutMs: 10_000 }), /upstream API key is revoked/);
    broken = false;
    const redriven = await swarm.redrive(id, { by: "oncall" });
    assert.deepEqual(redriven, {
      id,
      subject: "redrive.task.worker.fetch",
      attempt: 1,
      sent: true,
    });
    assert.deepEqual(await swarm.wait(id, { timeoutMs: 10_000 }), { fetched: true });
    const audit = (await swarm.store.auditLog()).filter((r) => r.kind === REDRIVEN_KIND);
    assert.equal(audit.length, 1);
    assert.deepEqual(
      { ...(audit[0]?.data as object), at: 0 },
      {
        id,
        subject: "redrive.task.worker.fetch",
        type: "task.fetch",
        reason: (audit[0]?.data as { reason: string } | undefined)?.reason,
        deliveries: 1,
        by: "oncall",
        at: 0,
        attempt: 1,
      },
    );
    await assert.rejects(swarm.redrive(id, { by: "oncall" }), (error: Error) => {
      assert.ok(error instanceof RedriveRefusedError);
      assert.match(error.message, /no dead letter/);
      return true;
    });
  });

  test("a task dead-lettered again after a redrive can be redriven again (attempt 2)", async () => {
    broken = true;
    const id = await swarm.submit("worker", "fetch", {}, { as: "lead" });
    await assert.rejects(swarm.wait(id, { timeoutMs: 10_000 }));
    await swarm.redrive(id, { by: "oncall" });
    await assert.rejects(swarm.wait(id, { timeoutMs: 10_000 }), /revoked/);
    broken = false;
    assert.equal((await swarm.redrive(id, { by: "oncall" })).attempt, 2);
    assert.deepEqual(await swarm.wait(id, { timeoutMs: 10_000 }), { fetched: true });
  });

  test("a redriven task that pays for its work pays again: its attempts count from 1 again, under other fee ids", async () => {
    broken = true;
    const start = await swarm.budgets.balance("m-1");
    const id = await swarm.submit("meter", "measure", {}, { as: "lead" });
    await assert.rejects(swarm.wait(id, { timeoutMs: 10_000 }), /calibrate/);
    assert.equal(await swarm.budgets.balance("m-1"), start - 5);
    broken = false;
    await swarm.redrive(id, { by: "oncall" });
    // Before: the copy's first attempt reused the fee id of the first run's
    // and was refused as a different operation under the same id.
    assert.deepEqual(await swarm.wait(id, { timeoutMs: 10_000 }), { measured: true });
    assert.equal(await swarm.budgets.balance("m-1"), start - 10, "it did the work twice");
  });

  test("an escrowed task whose budget was refunded runs again only unpaid, and nobody pays twice", async () => {
    broken = true;
    const before = await swarm.budgets.balance("lead");
    const plan = await swarm.submit("lead", "plan", { budget: 100 }, { as: "lead" });
    await swarm.wait(plan, { timeoutMs: 10_000 });
    let dead: string | undefined;
    await until(
      async () => {
        dead = (await swarm.store.deadLetters()).find((d) => d.corr === plan)?.id;
        return dead !== undefined;
      },
      10_000,
      "the delegated task to die",
    );
    await until(async () => (await swarm.budgets.balance("lead")) === before, 5000, "the refund");
    broken = false;
    await assert.rejects(
      swarm.redrive(dead ?? "", { by: "oncall" }),
      /carried 100 credits of lead's escrow, refunded when it died; redrive it with --unpaid/,
    );
    await swarm.redrive(dead ?? "", { by: "oncall", unpaid: true });
    await swarm.wait(dead ?? "", { timeoutMs: 10_000 });
    assert.equal(await swarm.budgets.balance("lead"), before, "the delegator did not pay again");
  });

  test("a task past its deadline is refused: it would die again at once", async () => {
    broken = true;
    const id = await swarm.submit(
      "worker",
      "fetch",
      {},
      { as: "lead", deadline: Date.now() + 2000 },
    );
    await assert.rejects(swarm.wait(id, { timeoutMs: 10_000 }), /upstream API key is revoked/);
    broken = false;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await assert.rejects(swarm.redrive(id, { by: "oncall" }), (error: Error) => {
      assert.ok(error instanceof RedriveRefusedError);
      assert.match(error.message, /deadline passed at .*submit it anew with a later deadline/);
      return true;
    });
    assert.ok(await swarm.store.deadLetter(id), "still in the dead-letter queue");
  });

  test("parked input (a forged heartbeat) is refused: it is not a task, there is nothing to run", async () => {
    const forged = createEnvelope({ type: "registry.heartbeat", from: "mallory", body: {} });
    swarm.transport.publish("redrive.registry.heartbeat", encodeEnvelope(forged));
    const parked = async () =>
      (await swarm.store.deadLetters()).find((d) => d.subject === "redrive.registry.heartbeat");
    await until(async () => (await parked()) !== undefined, 5000, "the heartbeat parked");
    const id = (await parked())?.id ?? "";
    await assert.rejects(swarm.redrive(id, { by: "oncall" }), (error: Error) => {
      assert.ok(error instanceof RedriveRefusedError);
      assert.match(error.message, /not a task: there is nothing to run again/);
      return true;
    });
    assert.ok(await swarm.store.deadLetter(id), "still listed, for a person to read");
  });

  test("an unknown id is refused with where to look", async () => {
    await assert.rejects(
      swarm.redrive("01NOSUCHDEADLETTER", { by: "x" }),
      /conclave dead-letters list/,
    );
  });
});

describe("a redrive cut short before the bus took it", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-redrive-cut-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("is not lost: the next node sends it from the store's outbox, and it runs once", {
    timeout: 30_000,
  }, async () => {
    let broken = true;
    let hang = false;
    // The same agents, with the same keys, on both nodes.
    const keys = new Map<string, ReturnType<typeof generateAgentKeyPair>>();
    const keyOf = (agent: string) => {
      const known = keys.get(agent) ?? generateAgentKeyPair();
      keys.set(agent, known);
      return known;
    };
    const node = () => {
      const memory = createMemoryTransport({ journalPath: join(work, "journal.db") });
      // The process dies while the redrive's send is under way: it never returns.
      const enqueue = (subject: string, data: Uint8Array, options: EnqueueOptions) =>
        hang && options.msgId.includes(".redrive.")
          ? new Promise<never>(() => {})
          : memory.enqueue(subject, data, options);
      const transport = new Proxy(memory, {
        get: (target, key) => {
          if (key === "enqueue") return enqueue;
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }) as Transport;
      const swarm = createSwarm({
        name: "cut",
        transport,
        store: openSqliteStore({ path: join(work, "store.db") }),
        keys: (agent: string) => keyOf(agent),
        roles: { lead: {}, worker: { maxDeliver: 1 } },
      });
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "w-1", role: "worker" }).handle("fetch", (ctx) => {
        if (broken) throw new PermanentError("the upstream API key is revoked; rotate it");
        ctx.effect("fetched", ctx.task.id);
        return { fetched: true };
      });
      return swarm;
    };
    const first = node();
    await first.start();
    const id = await first.submit("worker", "fetch", {}, { as: "lead" });
    await assert.rejects(first.wait(id, { timeoutMs: 10_000 }), /revoked/);
    broken = false;
    hang = true;
    void first.redrive(id, { by: "oncall" });
    // Before: the dead letter was removed here, and its task with it.
    await until(async () => (await first.store.deadLetter(id)) === undefined, 5000, "removed");
    await first.close();

    hang = false;
    const second = node();
    await second.start();
    try {
      assert.deepEqual(await second.wait(id, { timeoutMs: 15_000 }), { fetched: true });
      const fetched = (await second.store.effects("fetched")).filter((e) => e.key === id);
      assert.equal(fetched.length, 1, "it ran once");
      assert.deepEqual(await second.store.deadLetters(), []);
    } finally {
      await second.close();
    }
  });
});
