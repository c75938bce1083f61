/**
 * Defect "credits stranded in escrow" (issue 17): a delegation's hold and the
 * task it pays for commit together or not at all. A handler that delegates
 * and then fails (a crash loop, an unaffordable plan) leaves its credits
 * where they were; `ledger show` names escrow that no committed task holds.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ledgerReport } from "../../src/cli/ledger.js";
import { agentAccount, InsufficientCreditsError, operations } from "../../src/ledger/index.js";
import type { Store } from "../../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { ulid } from "../../src/wire/ulid.js";
import { until } from "../helpers/until.js";

const postgresUrl =
  process.env["CONCLAVE_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

async function escrowHeld(balances: { account: string; balance: number }[]): Promise<number> {
  return balances.filter((b) => b.account.startsWith("escrow:")).reduce((s, b) => s + b.balance, 0);
}

describe("escrow commits with the task it pays for", () => {
  test("a handler that delegates and then fails on every attempt holds nothing in escrow and sends nothing", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["work"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      let attempts = 0;
      let worked = 0;
      swarm.agent({ id: "ops", role: "lead" });
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 250, minBalance: 0 } })
        .handle("plan", async (ctx) => {
          attempts++;
          await ctx.delegate("dev", "work", { n: 1 }, { budget: 100 });
          await ctx.delegate("dev", "work", { n: 2 }, { budget: 100 });
          throw new Error("the handler crashes after delegating");
        });
      swarm.agent({ id: "dev", role: "dev" }).handle("work", () => {
        worked++;
      });
      await swarm.start();
      const id = await swarm.submit("lead", "plan", {}, { as: "ops" });
      await until(
        async () => (await swarm.store.deadLetter(id)) !== undefined,
        10_000,
        "the dead letter",
      );
      assert.equal(attempts, 3);
      assert.equal(worked, 0, "no delegated task was sent");
      assert.equal(
        await swarm.store.balance(agentAccount("lead")),
        250,
        "the credits stayed with the delegator",
      );
      assert.equal(await escrowHeld(await swarm.store.balances()), 0, "nothing in escrow");
      const check = await swarm.store.ledgerCheck();
      assert.equal(check.sum, check.minted);
    } finally {
      await t.cleanup();
    }
  });

  test("a handler that wins an auction and then fails on every attempt holds nothing in escrow and sends nothing", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["review"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      const outcomes: (string | undefined)[] = [];
      let reviewed = 0;
      swarm.agent({ id: "ops", role: "lead" });
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 250, minBalance: 0 } })
        .handle("plan", async (ctx) => {
          const won = await ctx.auction("review", { pr: 1 }, { rule: "first-price", roundMs: 300 });
          outcomes.push(won.winner);
          throw new Error("the handler crashes after the award");
        });
      swarm
        .agent({ id: "dev", role: "dev" })
        .bid(() => ({ price: 120 }))
        .handle("review", () => {
          reviewed++;
        });
      await swarm.start();
      await until(() => swarm.registry.get("dev")?.liveness === "alive", 5000, "dev alive");
      const id = await swarm.submit("lead", "plan", {}, { as: "ops" });
      await until(
        async () => (await swarm.store.deadLetter(id)) !== undefined,
        10_000,
        "the dead letter",
      );
      assert.deepEqual(outcomes, ["dev", "dev", "dev"], "each retry got the recorded award");
      assert.equal(reviewed, 0, "the awarded task was not sent");
      assert.equal(
        await swarm.store.balance(agentAccount("lead")),
        250,
        "the price stayed with the auctioneer",
      );
      assert.equal(await escrowHeld(await swarm.store.balances()), 0, "nothing in escrow");
      assert.deepEqual((await ledgerReport(swarm.store)).strandedEscrow, []);
    } finally {
      await t.cleanup();
    }
  });

  test("an award whose hold commits with its task is released to the winner; ledger show judges it", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["review"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "ops", role: "lead" });
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 250, minBalance: 0 } })
        .handle("plan", async (ctx) => {
          await ctx.auction("review", { pr: 1 }, { rule: "first-price", roundMs: 300 });
        });
      // The winner never takes the task: its escrow stays held, by a committed task.
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      swarm
        .agent({ id: "dev", role: "dev", budget: { initial: 0, minBalance: 0 } })
        .bid(() => ({ price: 120 }))
        .handle("review", () => gate);
      await swarm.start();
      await until(() => swarm.registry.get("dev")?.liveness === "alive", 5000, "dev alive");
      const id = await swarm.submit("lead", "plan", {}, { as: "ops" });
      await until(async () => (await swarm.store.isCompleted(id)) === true, 10_000, "the plan");
      assert.equal(await swarm.store.balance(agentAccount("lead")), 130);
      assert.equal(await escrowHeld(await swarm.store.balances()), 120);
      assert.deepEqual((await ledgerReport(swarm.store)).strandedEscrow, [], "its task is live");
      release();
      await until(
        async () => (await swarm.store.balance(agentAccount("dev"))) === 120,
        10_000,
        "the escrow released to the winner",
      );
      assert.equal(await escrowHeld(await swarm.store.balances()), 0);
    } finally {
      await t.cleanup();
    }
  });

  test("an award an earlier version recorded and held at the award is not held again by the retried handler", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["review"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "ops", role: "lead" });
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 250, minBalance: 0 } })
        .handle("plan", async (ctx) => {
          await ctx.auction("review", { pr: 1 }, { rule: "first-price", roundMs: 300 });
        });
      let reviewed = 0;
      swarm
        .agent({ id: "dev", role: "dev", budget: { initial: 0, minBalance: 0 } })
        .bid(() => ({ price: 120 }))
        .handle("review", () => {
          reviewed++;
        });
      await swarm.start();
      // What an earlier version left when it crashed after the award: the
      // auction recorded (no holdWith) and its price held, with no memo.
      const plan = ulid();
      const auction = `${plan}-lead-1`;
      await swarm.store.saveAuction({
        id: auction,
        auctioneer: "lead",
        task: "review",
        rule: "first-price",
        status: "awarded",
        winner: "dev",
        price: 120,
        bids: 1,
        rejectedBids: 0,
        record: { side: "procurement", escrowed: true },
        at: Date.now(),
      });
      await swarm.store.applyLedgerOperation(
        operations.hold(`hold:auction-${auction}`, "lead", `auction-${auction}`, 120, Date.now()),
      );
      await swarm.submit("lead", "plan", {}, { as: "ops", id: plan });
      await until(
        async () => (await swarm.store.balance(agentAccount("dev"))) === 120,
        10_000,
        "the winner paid",
      );
      assert.equal(reviewed, 1);
      assert.equal((await swarm.outcome(plan))?.status, "completed");
      assert.equal(await swarm.store.balance(agentAccount("lead")), 130, "held once");
      assert.equal(await escrowHeld(await swarm.store.balances()), 0);
    } finally {
      await t.cleanup();
    }
  });

  test("a sale's winner that spends the price before the auctioneer commits: that task dies saying so, nothing is held", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["slot"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "ops", role: "lead" });
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 10, minBalance: 0 } })
        .handle("plan", async (ctx) => {
          const won = await ctx.auction(
            "slot",
            {},
            { side: "sale", rule: "first-price", roundMs: 300 },
          );
          assert.equal(won.status, "awarded");
          // The winner spends what it bid before this handler commits.
          if (ctx.attempt === 1)
            await swarm.budgets.spend("dev", "spend", { kind: "tool", credits: 100 });
        });
      let ran = 0;
      swarm
        .agent({ id: "dev", role: "dev", budget: { initial: 150, minBalance: 0 } })
        .bid(() => ({ price: 120 }))
        .handle("slot", () => {
          ran++;
        });
      await swarm.start();
      await until(() => swarm.registry.get("dev")?.liveness === "alive", 5000, "dev alive");
      const id = await swarm.submit("lead", "plan", {}, { as: "ops" });
      await until(
        async () => (await swarm.store.deadLetter(id)) !== undefined,
        10_000,
        "dead letter",
      );
      assert.match(
        (await swarm.store.deadLetter(id))?.reason ?? "",
        /account "agent:dev" holds 50 credits and the operation needs 120/,
      );
      assert.equal(ran, 0, "the awarded task was never sent");
      assert.equal(await swarm.store.balance(agentAccount("dev")), 50, "only its own spend");
      assert.equal(await swarm.store.balance(agentAccount("lead")), 10);
      assert.equal(await escrowHeld(await swarm.store.balances()), 0);
    } finally {
      await t.cleanup();
    }
  });

  test("a sale won and then abandoned by the auctioneer's failing handler leaves the winner its credits", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["slot"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "ops", role: "lead" });
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 10, minBalance: 0 } })
        .handle("plan", async (ctx) => {
          await ctx.auction("slot", {}, { side: "sale", rule: "first-price", roundMs: 300 });
          throw new Error("the auctioneer crashes after the award");
        });
      swarm
        .agent({ id: "dev", role: "dev", budget: { initial: 150, minBalance: 0 } })
        .bid(() => ({ price: 120 }))
        .handle("slot", () => {});
      await swarm.start();
      await until(() => swarm.registry.get("dev")?.liveness === "alive", 5000, "dev alive");
      const id = await swarm.submit("lead", "plan", {}, { as: "ops" });
      await until(
        async () => (await swarm.store.deadLetter(id)) !== undefined,
        10_000,
        "dead letter",
      );
      assert.equal(await swarm.store.balance(agentAccount("dev")), 150);
      assert.equal(await escrowHeld(await swarm.store.balances()), 0);
    } finally {
      await t.cleanup();
    }
  });

  test("a task delegated with a budget and allocated by auction is paid by the price; the budget goes back", async () => {
    const t = createTestSwarm({
      roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["review"] } },
      defaults,
      tasks: {
        review: {
          allocation: "auction",
          role: "dev",
          auction: {
            rule: "first-price",
            side: "procurement",
            roundMs: 300,
            onUnsold: "queue",
            maxRounds: 5,
            criteria: [],
          },
        },
      },
    });
    try {
      const { swarm } = t;
      let reviewed = 0;
      swarm.agent({ id: "ops", role: "lead" });
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } })
        .handle("plan", async (ctx) => {
          await ctx.delegate("dev", "review", { pr: 1 }, { budget: 100 });
        });
      swarm
        .agent({ id: "dev", role: "dev" })
        .bid(() => ({ price: 60 }))
        .handle("review", () => {
          reviewed++;
        });
      await swarm.start();
      await until(() => swarm.registry.get("dev")?.liveness === "alive", 5000, "dev alive");
      await swarm.submit("lead", "plan", {}, { as: "ops" });
      await until(
        async () => (await swarm.store.balance(agentAccount("dev"))) === 60,
        10_000,
        "the winner paid",
      );
      assert.equal(reviewed, 1);
      assert.equal(await swarm.store.balance(agentAccount("lead")), 940, "the price, once");
      assert.equal(await escrowHeld(await swarm.store.balances()), 0);
    } finally {
      await t.cleanup();
    }
  });

  test("an unaffordable plan fails with InsufficientCreditsError naming the plan's total, and holds nothing", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["work"] } }, defaults });
    try {
      const { swarm } = t;
      let refused: unknown;
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 250, minBalance: 0 } })
        .onStart(async (ctx) => {
          try {
            await ctx.once("plan", async (plan) => {
              for (let n = 0; n < 3; n++)
                await plan.delegate("dev", "work", { n }, { budget: 100 });
            });
          } catch (error) {
            refused = error;
          }
        });
      swarm.agent({ id: "dev", role: "dev" }).handle("work", () => {});
      await swarm.start();
      assert.ok(refused instanceof InsufficientCreditsError, `refused with ${String(refused)}`);
      assert.match(refused.message, /holds 250 credits and the operation needs 300/);
      assert.equal(await swarm.store.balance(agentAccount("lead")), 250);
      assert.equal(await escrowHeld(await swarm.store.balances()), 0);
    } finally {
      await t.cleanup();
    }
  });

  test("ledger show flags escrow that no committed task holds", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["work"] } }, defaults });
    try {
      const { swarm } = t;
      swarm
        .agent({ id: "lead", role: "lead", budget: { initial: 500, minBalance: 0 } })
        .onStart((ctx) =>
          ctx.once("plan", async (plan) => {
            await plan.delegate("dev", "work", {}, { budget: 100 });
          }),
        );
      // The delegated task is never taken: its escrow stays held, by a committed task.
      swarm.agent({ id: "dev", role: "dev" });
      await swarm.start();
      // A hold made outside any task's commit (what versions before the fix did on every delegation).
      await swarm.budgets.hold("lead", "orphan.1", 70);
      const report = await ledgerReport(swarm.store);
      assert.equal(report.escrow, 170);
      assert.deepEqual(report.strandedEscrow, [
        { account: "escrow:orphan.1", balance: 70, reason: "held outside the commit of any task" },
      ]);
    } finally {
      await t.cleanup();
    }
  });
});

/** The store's side of the rule, on each backend: a completion's ledger operations commit with it, or nothing does. */
describe("completeTask with ledger operations", () => {
  const backends: [string, () => Promise<{ store: Store; destroy: () => Promise<void> }>][] = [
    ...([true, false] as const).map(
      (prepared) =>
        [
          `sqlite (prepared hot path ${prepared ? "on" : "off"})`,
          async () => {
            const dir = mkdtempSync(join(tmpdir(), "conclave-escrow-"));
            return {
              store: openSqliteStore({ path: join(dir, "store.db"), preparedHotPath: prepared }),
              destroy: async () => rmSync(dir, { recursive: true, force: true }),
            };
          },
        ] as [string, () => Promise<{ store: Store; destroy: () => Promise<void> }>],
    ),
    [
      "postgres",
      async () => {
        const schema = `conclave_test_${randomBytes(6).toString("hex")}`;
        return {
          store: await openPostgresStore({ url: postgresUrl, schema, poolSize: 2 }),
          destroy: () => dropPostgresSchema({ url: postgresUrl, schema }),
        };
      },
    ],
  ];
  for (const [name, open] of backends) {
    test(`${name}: a refused hold rolls the whole completion back; a duplicate applies nothing`, async () => {
      const { store, destroy } = await open();
      try {
        await store.applyLedgerOperation(operations.mint("m", agentAccount("lead"), 150, 1));
        const hold = (n: number) =>
          operations.hold(`hold:t.${n}`, "lead", `t.${n}`, 100, 2, `sent-${n}`);
        const completion = (taskId: string, ledger: ReturnType<typeof hold>[]) => ({
          taskId,
          agent: "lead",
          at: 3,
          effects: [{ kind: "k", key: taskId }],
          outbox: [],
          ledger,
        });
        await assert.rejects(
          store.completeTask(completion("too-much", [hold(1), hold(2)])),
          InsufficientCreditsError,
        );
        assert.equal(await store.isCompleted("too-much"), false, "no completion without its holds");
        assert.equal(
          await store.balance(agentAccount("lead")),
          150,
          "no hold without its completion",
        );
        assert.equal(await store.balance("escrow:t.1"), 0);

        assert.deepEqual(await store.completeTask(completion("fits", [hold(3)])), {
          duplicate: false,
        });
        assert.deepEqual(await store.completeTask(completion("fits", [hold(3)])), {
          duplicate: true,
        });
        assert.equal(await store.balance(agentAccount("lead")), 50);
        assert.equal(await store.balance("escrow:t.3"), 100);
        assert.equal((await store.effects("k")).length, 1);
      } finally {
        await store.close();
        await destroy();
      }
    });

    test(`${name}: completions sharing a commit: a refused hold rolls back its own completion only`, async () => {
      const { store, destroy } = await open();
      try {
        await store.applyLedgerOperation(operations.mint("m", agentAccount("lead"), 150, 1));
        const entry = (id: string) => ({
          id,
          mode: "enqueue" as const,
          subject: "task.x",
          data: new Uint8Array([1]),
        });
        // The deliveries the completions below settle.
        await store.completeTask({
          taskId: "parent",
          agent: "lead",
          at: 2,
          effects: [],
          outbox: [entry("in-a"), entry("in-b"), entry("in-c")],
        });
        const hold = (n: number) =>
          operations.hold(`hold:t.${n}`, "lead", `t.${n}`, 100, 3, `sent-${n}`);
        const completion = (
          taskId: string,
          settles: string,
          ledger: ReturnType<typeof hold>[],
        ) => ({
          taskId,
          agent: "lead",
          at: 3,
          effects: [{ kind: "k", key: taskId }],
          outbox: [entry(`out-${taskId}`)],
          settles: [settles],
          ledger,
        });
        // Called in one turn: the group commit takes them together.
        const outcomes = await Promise.allSettled([
          store.completeTask(completion("a", "in-a", [hold(1)])),
          store.completeTask(completion("b", "in-b", [hold(2)])),
          store.completeTask(completion("c", "in-c", [])),
          store.completeTask(completion("a", "in-a", [hold(1)])),
        ]);
        assert.deepEqual(outcomes[0], { status: "fulfilled", value: { duplicate: false } });
        assert.equal(outcomes[1]?.status, "rejected");
        assert.ok(
          outcomes[1]?.status === "rejected" &&
            outcomes[1].reason instanceof InsufficientCreditsError,
        );
        assert.deepEqual(outcomes[2], { status: "fulfilled", value: { duplicate: false } });
        assert.deepEqual(outcomes[3], { status: "fulfilled", value: { duplicate: true } });

        assert.equal(await store.isCompleted("b"), false, "the refused completion is not written");
        assert.equal(await store.balance(agentAccount("lead")), 50, "one hold, applied once");
        assert.equal(await store.balance("escrow:t.1"), 100);
        assert.equal(await store.balance("escrow:t.2"), 0);
        assert.deepEqual((await store.effects("k")).map((e) => e.key).sort(), ["a", "c"]);
        assert.deepEqual(
          (await store.pendingOutbox()).map((o) => o.id).sort(),
          ["in-b", "out-a", "out-c"],
          "the refused completion neither settles its delivery nor stages its sends",
        );
        assert.deepEqual(
          await store.completeTask(completion("b", "in-b", [])),
          {
            duplicate: false,
          },
          "the refused task id is still free",
        );
      } finally {
        await store.close();
        await destroy();
      }
    });
  }
});
