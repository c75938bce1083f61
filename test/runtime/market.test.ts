import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { agentAccount, escrowAccount } from "../../src/ledger/index.js";
import { createBid } from "../../src/market/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { escrowKey } from "../../src/runtime/market/engine.js";
import { subjects } from "../../src/runtime/subjects.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

describe("market: contract-net auctions over the bus", () => {
  test("a Vickrey auction pays the winner the second-lowest ask through escrow; reputation learns", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
      const ran: string[] = [];
      for (const [id, ask] of [
        ["dev-1", 100],
        ["dev-2", 80],
        ["dev-3", 120],
      ] as const) {
        swarm
          .agent({ id, role: "dev", budget: { initial: 10, minBalance: 0 } })
          .bid((cfp) => {
            assert.equal(cfp.task, "review");
            assert.deepEqual((cfp.item as { body?: unknown }).body, { pr: 42 });
            return { price: ask, criteria: { latency_ms: 1000 } };
          })
          .handle("review", (ctx) => {
            ran.push(ctx.agentId);
            assert.deepEqual(ctx.body, { pr: 42 });
          });
      }
      await swarm.start();
      await live(swarm, ["dev-1", "dev-2", "dev-3"]);

      const won = await swarm.auction(
        "review",
        { pr: 42 },
        { as: "lead", rule: "vickrey", reserve: 500, roundMs: 1000 },
      );
      assert.equal(won.status, "awarded");
      assert.equal(won.winner, "dev-2");
      assert.equal(won.price, 100, "the winner is paid the second-lowest ask");
      assert.equal(won.bids, 3);
      assert.ok(won.task, "the awarded task's id");

      await until(() => ran.length === 1, 5000, "the winner runs the task");
      assert.deepEqual(ran, ["dev-2"], "only the winner runs it, from its own queue");
      const store = swarm.store;
      await until(
        async () => (await store.balance(agentAccount("dev-2"))) === 110,
        5000,
        "the escrow released to the winner",
      );
      assert.equal(await store.balance(agentAccount("lead")), 900);
      assert.equal(await store.balance(escrowAccount(escrowKey(won.auction))), 0);
      const check = await store.ledgerCheck();
      assert.deepEqual(check.negative, []);
      assert.equal(check.sum, check.minted);

      const record = await store.getAuction(won.auction);
      assert.equal(record?.status, "awarded");
      assert.equal(record?.winner, "dev-2");
      const detail = record?.record as { bids: unknown[]; award: { bid: { from: string } } };
      assert.equal(detail.bids.length, 3);
      assert.equal(detail.award.bid.from, "dev-2", "the signed winning bid is kept");
      await until(
        async () => (await store.reputations(["dev-2"])).length === 1,
        5000,
        "the winner's reputation updated",
      );
      const [reputation] = await store.reputations(["dev-2"]);
      assert.ok(
        (reputation?.score ?? 0) > 0.5,
        `a success raises reputation: ${reputation?.score}`,
      );
      const closed = events.find((e) => e.type === "auction.closed");
      assert.equal(closed?.type === "auction.closed" && closed.winner, "dev-2");
      assert.deepEqual(await store.auctionStats(), {
        held: 1,
        awarded: 1,
        unsold: 0,
        rejectedBids: 0,
      });
    } finally {
      await t.cleanup();
    }
  });

  test("forged, duplicate and shill bids are refused with their reasons; the honest bid wins", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      const rejected: { bidder: string; reason: string }[] = [];
      swarm.on((e) => {
        if (e.type === "auction.bid_rejected")
          rejected.push({ bidder: e.bidder, reason: e.reason });
      });
      swarm.agent({ id: "lead", role: "lead" });
      swarm
        .agent({ id: "honest", role: "dev", owner: "acme" })
        .bid(() => ({ price: 90 }))
        .handle("review", () => undefined);
      // Same owner as "honest": a shill; its bid arrives second and is refused.
      swarm
        .agent({ id: "shill", role: "dev", owner: "acme" })
        .bid(async () => {
          await new Promise((r) => setTimeout(r, 30));
          return { price: 10 };
        })
        .handle("review", () => undefined);
      // A bidder that never answers keeps the round open to its deadline, so
      // the forged bids below still find it open once both others have bid.
      swarm
        .agent({ id: "quiet", role: "dev" })
        .bid(() => undefined)
        .handle("review", () => undefined);
      await swarm.start();
      await live(swarm, ["honest", "shill", "quiet"]);

      const forger = generateAgentKeyPair();
      const auction = swarm.auction(
        "review",
        {},
        { as: "lead", rule: "first-price", roundMs: 1000, id: "auction-forgery-1" },
      );
      await new Promise((r) => setTimeout(r, 60));
      // A bid claiming to be "honest" but signed by another key, and a stranger's bid.
      for (const from of ["honest", "stranger"]) {
        const bid = createBid(
          { auction: "auction-forgery-1", round: 1, from, price: 1, privateKey: forger.privateKey },
          {},
        );
        swarm.transport.publish(subjects.bid("test", "auction-forgery-1"), encodeEnvelope(bid));
      }
      const won = await auction;
      assert.equal(won.status, "awarded");
      assert.equal(won.winner, "honest");
      assert.equal(won.price, 90, "first price: the winner gets its own ask");
      const reasons = rejected.map((r) => `${r.bidder}:${r.reason}`).sort();
      assert.deepEqual(reasons, [
        "honest:bad-signature",
        "shill:duplicate-identity",
        "stranger:unknown-bidder",
      ]);
      assert.equal(won.rejectedBids, 3);
      // The same refusals, counted for Prometheus by reason.
      for (const reason of ["bad-signature", "duplicate-identity", "unknown-bidder"]) {
        assert.equal(
          await swarm.metrics.get("conclave_auction_bids_rejected_total", { reason }),
          1,
        );
      }
      assert.equal(
        await swarm.metrics.get("conclave_auctions_closed_total", {
          task: "review",
          outcome: "awarded",
        }),
        1,
      );
      assert.equal(
        (await swarm.metrics.histogram("conclave_auction_seconds", { task: "review" }))?.count,
        1,
      );
    } finally {
      await t.cleanup();
    }
  });

  test("allocation: auction in the swarm file: submitted tasks are auctioned; unsold ones queue to the role", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
      tasks: {
        review: {
          allocation: "auction",
          role: "dev",
          auction: {
            rule: "vickrey",
            side: "procurement",
            reserve: 50,
            roundMs: 500,
            maxRounds: 5,
            criteria: [],
            onUnsold: "queue",
          },
        },
      },
    });
    try {
      const { swarm } = t;
      const ran: { agent: string; n: number; awarded: boolean }[] = [];
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
      for (const [id, ask] of [
        ["cheap", 30],
        ["dear", 45],
      ] as const) {
        swarm
          .agent({ id, role: "dev" })
          // Bids only on even tasks: odd ones go unsold and fall back to the queue.
          .bid((cfp) =>
            (cfp.item as { body: { n: number } }).body.n % 2 === 0 ? { price: ask } : undefined,
          )
          .handle("review", (ctx) => {
            ran.push({
              agent: ctx.agentId,
              n: (ctx.body as { n: number }).n,
              awarded: ctx.task.headers?.["conclave-auction"] !== undefined,
            });
          });
      }
      await swarm.start();
      await live(swarm, ["cheap", "dear"]);
      for (let n = 0; n < 4; n++) await swarm.submit("dev", "review", { n }, { as: "lead" });
      await until(() => ran.length === 4, 10_000, "four tasks run");
      const byN = [...ran].sort((a, b) => a.n - b.n);
      assert.deepEqual(
        byN.map((r) => [r.n, r.awarded]),
        [
          [0, true],
          [1, false],
          [2, true],
          [3, false],
        ],
      );
      for (const r of byN.filter((x) => x.awarded)) assert.equal(r.agent, "cheap");
      assert.deepEqual(await swarm.store.auctionStats(), {
        held: 4,
        awarded: 2,
        unsold: 2,
        rejectedBids: 0,
      });
      // Two awards at the Vickrey price (the dearer ask, 45), paid into the winner's account.
      await until(
        async () => (await swarm.store.balance(agentAccount("cheap"))) === 90,
        5000,
        "both escrows released",
      );
      assert.equal(await swarm.store.balance(agentAccount("lead")), 910);
    } finally {
      await t.cleanup();
    }
  });

  test("a task the winner never completes is dead-lettered: escrow refunded, reputation falls", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 500, minBalance: 0 } });
      swarm
        .agent({ id: "flaky", role: "dev" })
        .bid(() => ({ price: 70 }))
        .handle("review", () => {
          throw new Error("cannot do it");
        });
      await swarm.start();
      await live(swarm, ["flaky"]);
      const won = await swarm.auction(
        "review",
        {},
        { as: "lead", rule: "first-price", roundMs: 1000 },
      );
      assert.equal(won.winner, "flaky");
      assert.equal(await swarm.store.balance(agentAccount("lead")), 430, "the price is held");
      await until(
        async () => (await swarm.store.balance(agentAccount("lead"))) === 500,
        10_000,
        "the escrow refunded after the dead letter",
      );
      await until(
        async () => (await swarm.store.reputations(["flaky"])).length === 1,
        5000,
        "reputation learned the failure",
      );
      const [reputation] = await swarm.store.reputations(["flaky"]);
      assert.ok(
        (reputation?.score ?? 1) < 0.5,
        `a failure lowers reputation: ${reputation?.score}`,
      );
    } finally {
      await t.cleanup();
    }
  });

  test("English rounds and a Dutch clock run over the bus; a sale is paid by its winner", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["slot"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 10, minBalance: 0 } });
      // Each bidder raises by the minimum while the price stays under its valuation.
      const valuations: Record<string, number> = { a: 100, b: 130, c: 60 };
      const rounds: number[] = [];
      for (const id of Object.keys(valuations)) {
        swarm
          .agent({ id, role: "dev", budget: { initial: 1000, minBalance: 0 } })
          .bid((cfp) => {
            const value = valuations[id] as number;
            if (cfp.rule === "dutch") return { price: value };
            rounds.push(cfp.round);
            if (cfp.standing?.bidder === id) return undefined;
            const next = cfp.standing ? Math.ceil(cfp.minimumEffective ?? 0) : (cfp.reserve ?? 0);
            return next <= value ? { price: next } : undefined;
          })
          .handle("slot", () => undefined);
      }
      await swarm.start();
      await live(swarm, ["a", "b", "c"]);
      const english = await swarm.auction(
        "slot",
        {},
        {
          as: "lead",
          side: "sale",
          rule: "english",
          reserve: 50,
          minIncrement: 10,
          roundMs: 300,
          maxRounds: 20,
        },
      );
      assert.equal(english.status, "awarded");
      assert.equal(english.winner, "b", "the highest valuation wins the ascending auction");
      // An ascending auction ends within one increment of the second-highest valuation (a's 100).
      assert.ok(Math.abs((english.price ?? 0) - 100) <= 10, `price ${english.price}`);
      assert.ok(Math.max(...rounds) >= 3, "several rounds were called");
      // Sale: the winner pays; the price waits in escrow until the task is done, then goes to lead.
      await until(
        async () => (await swarm.store.balance(agentAccount("lead"))) === 10 + (english.price ?? 0),
        5000,
        "the winner's payment reaches the auctioneer",
      );
      assert.equal(await swarm.store.balance(agentAccount("b")), 1000 - (english.price ?? 0));

      // Dutch, sale: the clock falls from 200 by 10 every 20 ms; b (130) takes first.
      const dutch = await swarm.auction(
        "slot",
        {},
        {
          as: "lead",
          side: "sale",
          rule: "dutch",
          startPrice: 200,
          step: 10,
          stepMs: 20,
          reserve: 20,
          roundMs: 2000,
        },
      );
      assert.equal(dutch.status, "awarded");
      assert.equal(dutch.winner, "b");
      assert.equal(dutch.price, 130, "the clock stops at the first taker's price");
    } finally {
      await t.cleanup();
    }
  });

  test("an auction closes once every live bidder of the role answered; a silent one makes it wait for the deadline", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      let quietAnswers = false;
      swarm.agent({ id: "lead", role: "lead" });
      swarm
        .agent({ id: "dev-1", role: "dev" })
        .bid(() => ({ price: 100 }))
        .handle("review", () => undefined);
      swarm
        .agent({ id: "dev-2", role: "dev" })
        .bid(() => ({ price: 80 }))
        .handle("review", () => undefined);
      // Declines to bid until told otherwise: an expected bidder that is silent.
      swarm
        .agent({ id: "quiet", role: "dev" })
        .bid(() => (quietAnswers ? { price: 90 } : undefined))
        .handle("review", () => undefined);
      await swarm.start();
      await live(swarm, ["dev-1", "dev-2", "quiet"]);
      const durations = new Map<string, number>();
      swarm.on((e) => {
        if (e.type === "auction.closed") durations.set(e.auction, e.durationMs);
      });

      // Everyone answers: closed long before the 20 s deadline.
      quietAnswers = true;
      const roundMs = 20_000;
      const started = Date.now();
      const all = await swarm.auction(
        "review",
        {},
        { as: "lead", rule: "vickrey", reserve: 500, roundMs, id: "early-all" },
      );
      assert.equal(all.status, "awarded");
      assert.equal(all.winner, "dev-2");
      assert.equal(all.price, 90, "Vickrey: the second-lowest ask");
      assert.equal(all.bids, 3);
      assert.ok(Date.now() - started < roundMs / 4, `closed early: ${Date.now() - started} ms`);
      assert.ok((durations.get("early-all") ?? roundMs) < roundMs / 4);

      // One bidder silent: the round runs to its deadline.
      quietAnswers = false;
      const shortRound = 700;
      const waited = await swarm.auction(
        "review",
        {},
        { as: "lead", rule: "vickrey", reserve: 500, roundMs: shortRound, id: "early-missing" },
      );
      assert.equal(waited.status, "awarded");
      assert.equal(waited.bids, 2);
      assert.equal(waited.price, 100);
      assert.ok(
        (durations.get("early-missing") ?? 0) >= shortRound,
        `waited for the deadline: ${durations.get("early-missing")} ms`,
      );
    } finally {
      await t.cleanup();
    }
  });
  test("a burst of auctions opens one at a time: the first call reaches its bidders before the last auction opens", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      const order: string[] = [];
      swarm.on((e) => {
        if (e.type === "auction.opened") order.push("opened");
      });
      swarm.agent({ id: "lead", role: "lead" });
      swarm
        .agent({ id: "dev-1", role: "dev" })
        .bid(() => {
          order.push("asked");
          return { price: 10 };
        })
        .handle("review", () => {});
      await swarm.start();
      await live(swarm, ["dev-1"]);
      const burst = Array.from({ length: 8 }, (_, i) =>
        swarm.auction("review", { i }, { as: "lead", rule: "vickrey", roundMs: 1000 }),
      );
      for (const won of await Promise.all(burst)) assert.equal(won.status, "awarded");
      assert.equal(order.filter((o) => o === "opened").length, 8);
      // Opened all at once, every call would be signed before the first is delivered.
      assert.ok(
        order.indexOf("asked") < order.lastIndexOf("opened"),
        `openings and calls interleave: ${order.join(" ")}`,
      );
    } finally {
      await t.cleanup();
    }
  });
});
