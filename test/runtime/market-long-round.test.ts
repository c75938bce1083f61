/**
 * An auction round longer than a Node timer can hold (roundMs over ~24.8
 * days) is waited for, not re-armed every millisecond: `setTimeout` fires a
 * longer delay after 1 ms with a TimeoutOverflowWarning, and the market used
 * to ask for one on every wake-up until the round ended. The system clock
 * now chains such waits (`setLongTimer`), for every timer of the runtime.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Clock,
  MAX_TIMER_MS,
  ManualClock,
  setLongTimer,
  systemClock,
} from "../../src/core/clock.js";
import { createTestSwarm } from "../../src/testkit/index.js";

describe("market: rounds longer than a Node timer", () => {
  test("a 35-day round is waited for: no TimeoutOverflowWarning, no timer re-armed every millisecond", async () => {
    const asked: number[] = [];
    const clock: Clock = {
      now: () => systemClock.now(),
      setTimer: (fn, ms) => {
        asked.push(ms);
        return systemClock.setTimer(fn, ms);
      },
    };
    let overflows = 0;
    const onWarning = (warning: Error) => {
      if (warning.name === "TimeoutOverflowWarning") overflows++;
    };
    process.on("warning", onWarning);
    const t = createTestSwarm({ clock, roles: { lead: {}, dev: { tasks: ["review"] } } });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead" });
      await swarm.start();
      const pending = swarm
        .auction("review", {}, { as: "lead", rule: "first-price", roundMs: 3_000_000_000 })
        .catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const round = asked.filter((ms) => ms > MAX_TIMER_MS);
      assert.equal(round.length, 1, `the round's timer is asked for once, not re-armed: ${round}`);
      assert.equal(overflows, 0, "no TimeoutOverflowWarning");
      await swarm.close();
      assert.equal(((await pending) as Error).name, "ClosedError", "the open auction ends with it");
    } finally {
      process.off("warning", onWarning);
      await t.cleanup();
    }
  });

  test("setLongTimer fires once, at its time, however long the wait; cancelled, never", () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    setLongTimer(clock, () => fired.push(clock.now()), 3 * MAX_TIMER_MS + 5);
    const cancel = setLongTimer(clock, () => fired.push(-1), 2 * MAX_TIMER_MS);
    clock.advance(MAX_TIMER_MS);
    cancel();
    clock.advance(3 * MAX_TIMER_MS);
    assert.deepEqual(fired, [3 * MAX_TIMER_MS + 5]);
  });
});
