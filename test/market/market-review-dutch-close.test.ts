/**
 * A Dutch auction's round ends when `roundMs` runs out, if its clock would
 * run longer: no take is accepted after that (the auction refuses it as
 * late), so the auctioneer ends the auction then, not when the clock would
 * have reached its stop price hours later; and a bidder whose limit the
 * clock reaches only after the round closed sets no timer to take it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Clock, systemClock } from "../../src/core/clock.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

describe("market review: a Dutch round shorter than its clock", () => {
  test("the auction is timed to end at the round's close and ends unsold there", async () => {
    const asked: number[] = [];
    let opened = false;
    const clock: Clock = {
      now: () => systemClock.now(),
      setTimer: (fn, ms) => {
        if (opened) asked.push(ms);
        return systemClock.setTimer(fn, ms);
      },
    };
    const t = createTestSwarm({
      clock,
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      swarm.on((e) => {
        if (e.type === "auction.opened") opened = true;
      });
      swarm.agent({ id: "lead", role: "lead" });
      // Would take the clock at 50, five hours in: after the round closed.
      swarm.agent({ id: "dev-1", role: "dev" }).bid(() => ({ price: 50 }));
      await swarm.start();
      await live(swarm, ["dev-1"]);
      const hour = 3_600_000;
      // The clock steps once an hour from 100 down to 0: it would expire in 11 hours.
      const pending = swarm
        .auction(
          "review",
          {},
          {
            as: "lead",
            rule: "dutch",
            side: "sale",
            startPrice: 100,
            step: 10,
            stepMs: hour,
            roundMs: 300,
          },
        )
        .catch((error: unknown) => error);
      await until(() => asked.length > 0, 5000, "the auction's timer is set");
      assert.ok(asked[0] !== undefined && asked[0] <= 301, `timed to the round's close: ${asked}`);
      const outcome = (await pending) as { status?: string; reason?: string };
      assert.ok(
        asked.every((ms) => ms <= 301),
        `timed to the round's close (300 ms), not the clock's expiry, and no take is timed after it: ${asked}`,
      );
      assert.equal(outcome.status, "unsold");
      assert.equal(outcome.reason, "no-taker");
    } finally {
      await t.cleanup();
    }
  });
});
