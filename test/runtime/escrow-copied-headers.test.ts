/**
 * A task's escrow headers are written by its sender, so any agent can copy
 * another delegation's: naming lead's escrow with itself as the delegator,
 * it had its own task die and the escrow was "refunded" to it, and the
 * worker of the real delegation went unpaid; an auditor's `ctx.settle` on
 * such a task released the escrow just as well. An escrow now settles only
 * when the ledger's hold names the delegator the headers name.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PermanentError } from "../../src/errors/index.js";
import { agentAccount, escrowAccount, operations } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("copied escrow headers settle nothing; the real delegation still pays", async () => {
  const t = createTestSwarm({
    roles: {
      lead: {},
      dev: { tasks: ["work"] },
      sink: { tasks: ["fail", "audit"] },
    },
    defaults: { maxDeliver: 1 },
  });
  try {
    const { swarm } = t;
    const errors: string[] = [];
    swarm.on((e: SwarmEvent) => {
      if (e.type === "error") errors.push(e.error);
    });
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const audits: unknown[] = [];
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
    swarm.agent({ id: "m", role: "lead", budget: { initial: 10, minBalance: 0 } });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("work", async (ctx) => {
      await released;
      await ctx.settle("pass", "dev-1");
    });
    swarm
      .agent({ id: "sink-1", role: "sink" })
      .handle("fail", () => {
        throw new PermanentError("this task dies");
      })
      .handle("audit", async (ctx) => {
        try {
          await ctx.settle("pass", "m");
          audits.push("settled");
        } catch (error) {
          audits.push(error);
        }
      });
    await swarm.start();
    const id = await swarm.delegate("dev", "work", {}, { as: "lead", budget: 100 });
    const escrow = `root.${id}`;
    assert.equal(await swarm.store.balance(escrowAccount(escrow)), 100);
    const copied = {
      "conclave-escrow": escrow,
      "conclave-escrow-amount": "100",
      "conclave-escrow-delegator": "m",
    };
    const dies = await swarm.submit("sink", "fail", {}, { as: "m", headers: copied });
    await assert.rejects(swarm.wait(dies, { timeoutMs: 10_000 }));
    await swarm.submit("sink", "audit", {}, { as: "m", headers: copied });
    await until(() => audits.length === 1, 10_000, "the audit");
    assert.ok(audits[0] instanceof PermanentError, String(audits[0]));
    assert.equal(await swarm.store.balance(escrowAccount(escrow)), 100, "the escrow is intact");
    assert.equal(await swarm.store.balance(agentAccount("m")), 10, "m gained nothing");
    assert.ok(
      errors.some((e) => e.includes(escrow) && /does not show/.test(e)),
      JSON.stringify(errors),
    );
    release();
    await swarm.wait(id, { timeoutMs: 10_000 });
    assert.equal(await swarm.store.balance(agentAccount("dev-1")), 100, "the worker is paid");
    assert.equal(await swarm.store.balance(escrowAccount(escrow)), 0);
  } finally {
    await t.cleanup();
  }
});

/**
 * The same copy with the real delegator named: the hold then matches, so
 * the task itself has to show it belongs to the delegation. A task settles
 * an escrow only as the delegated task (sent by the delegator) or as one
 * of its descendants, each sent by the agent that completed its cause (the
 * store's record of who completed what). Before, m's dying copy refunded
 * lead's escrow early and the worker went unpaid, and an auditor passing
 * m's forged audit paid m.
 */
test("copied escrow headers naming the real delegator settle nothing either", async () => {
  const t = createTestSwarm({
    roles: {
      lead: {},
      dev: { tasks: ["work"] },
      sink: { tasks: ["fail", "audit"] },
    },
    defaults: { maxDeliver: 1 },
  });
  try {
    const { swarm } = t;
    const errors: string[] = [];
    swarm.on((e: SwarmEvent) => {
      if (e.type === "error") errors.push(e.error);
    });
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const audits: unknown[] = [];
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
    swarm.agent({ id: "m", role: "lead", budget: { initial: 10, minBalance: 0 } });
    // The worker hands its result to the auditor: a descendant that settles.
    swarm.agent({ id: "dev-1", role: "dev" }).handle("work", async (ctx) => {
      await released;
      ctx.submit("sink", "audit", { worker: "dev-1" });
    });
    swarm
      .agent({ id: "sink-1", role: "sink" })
      .handle("fail", () => {
        throw new PermanentError("this task dies");
      })
      .handle("audit", async (ctx) => {
        try {
          await ctx.settle("pass", (ctx.body as { worker: string }).worker);
          audits.push("settled");
        } catch (error) {
          audits.push(error);
        }
      });
    await swarm.start();
    const id = await swarm.delegate("dev", "work", {}, { as: "lead", budget: 100 });
    const escrow = `root.${id}`;
    const copied = {
      "conclave-escrow": escrow,
      "conclave-escrow-amount": "100",
      "conclave-escrow-delegator": "lead",
    };
    const dies = await swarm.submit("sink", "fail", {}, { as: "m", headers: copied });
    await assert.rejects(swarm.wait(dies, { timeoutMs: 10_000 }));
    await swarm.submit("sink", "audit", { worker: "m" }, { as: "m", headers: copied });
    await until(() => audits.length === 1, 10_000, "the forged audit");
    assert.ok(audits[0] instanceof PermanentError, String(audits[0]));
    assert.equal(await swarm.store.balance(escrowAccount(escrow)), 100, "the escrow is intact");
    assert.equal(await swarm.store.balance(agentAccount("m")), 10, "m gained nothing");
    assert.equal(await swarm.store.balance(agentAccount("lead")), 900, "lead not refunded early");
    assert.ok(
      errors.some((e) => e.includes(escrow) && e.includes(dies)),
      JSON.stringify(errors),
    );
    release();
    await until(() => audits.length === 2, 10_000, "the real audit");
    assert.equal(audits[1], "settled");
    assert.equal(await swarm.store.balance(agentAccount("dev-1")), 100, "the worker is paid");
    assert.equal(await swarm.store.balance(escrowAccount(escrow)), 0);
  } finally {
    await t.cleanup();
  }
});

/**
 * The hold names who signs the task it paid for (`sentBy`): the delegator
 * for a delegation, the auctioneer for an awarded task (any local agent of
 * the node that ran the auction, not always the payer). That task settles
 * its escrow when it dies; the same id signed by anyone else does not.
 */
test("the task a hold paid for settles it only as signed by whom the hold names", async () => {
  const t = createTestSwarm({ roles: { lead: {} } });
  try {
    const { swarm } = t;
    const { store, budgets } = swarm;
    await store.applyLedgerOperation(operations.mint("mint:payer", agentAccount("payer"), 100, 1));
    await store.applyLedgerOperation(
      operations.hold("hold:auction-a1", "payer", "auction-a1", 40, 2, "task-1", "auctioneer"),
    );
    const escrow = { key: "auction-a1", amount: 40, delegator: "payer" };
    assert.equal(await budgets.whyNotHeld(escrow, { id: "task-1", from: "auctioneer" }), undefined);
    assert.match(
      (await budgets.whyNotHeld(escrow, { id: "task-1", from: "mallory" })) ?? "",
      /neither the delegated task task-1 nor descends from it/,
    );
    assert.match(
      (await budgets.whyNotHeld(escrow, { id: "task-2", from: "auctioneer", cause: "x" })) ?? "",
      /neither the delegated task/,
    );
    assert.match(
      (await budgets.whyNotHeld(
        { ...escrow, delegator: "mallory" },
        { id: "task-1", from: "auctioneer" },
      )) ?? "",
      /which the ledger does not show/,
    );
  } finally {
    await t.cleanup();
  }
});
