/**
 * Bad input to `swarm.auction`: every one is refused at once with a typed
 * error saying what to fix, and nothing is held, recorded or sent.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuctionTermsError, ConfigError } from "../../src/errors/index.js";
import { agentAccount } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";

describe("market: bad input to swarm.auction", () => {
  test("an auction for a role the swarm does not define is refused with ConfigError, not run to the end of its round", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["review"] } } });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 100, minBalance: 0 } });
      swarm.agent({ id: "dev-1", role: "dev" }).bid(() => ({ price: 10 }));
      await swarm.start();
      const started = Date.now();
      await assert.rejects(
        swarm.auction("review", {}, { as: "lead", role: "devs", roundMs: 2000 }),
        (error: unknown) =>
          error instanceof ConfigError &&
          /role "devs"/.test(error.message) &&
          /dev/.test(error.message),
      );
      assert.ok(Date.now() - started < 1500, "refused at once, not after the round");
      assert.equal(events.filter((e) => e.type === "auction.opened").length, 0);
      assert.equal(await swarm.store.getAuction("x"), undefined);
      assert.equal(await swarm.store.balance(agentAccount("lead")), 100);
    } finally {
      await t.cleanup();
    }
  });

  test("NaN, negative and fractional reserves and a zero roundMs are AuctionTermsErrors", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["review"] } } });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead" });
      await swarm.start();
      for (const bad of [
        { reserve: Number.NaN },
        { reserve: -1 },
        { reserve: 2.5 },
        { reserve: Number.POSITIVE_INFINITY },
        { roundMs: 0 },
      ]) {
        await assert.rejects(
          swarm.auction("review", {}, { as: "lead", ...bad }),
          AuctionTermsError,
          JSON.stringify(bad),
        );
      }
    } finally {
      await t.cleanup();
    }
  });
});
