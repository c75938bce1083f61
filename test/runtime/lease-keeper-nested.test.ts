/**
 * One delivery held twice (the task pipeline holds it while its handler
 * runs; a store call inside waits out an outage holding it too) stays
 * extended until both holds end: the inner release used to end the outer
 * hold as well, so a slow handler lost its lease and was redelivered while
 * still running.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { LeaseKeeper } from "../../src/runtime/lease.js";
import type { Delivery } from "../../src/transport/port.js";

test("a delivery held twice is kept until both holds end", () => {
  const clock = new ManualClock(0);
  const keeper = new LeaseKeeper(clock);
  let working = 0;
  const delivery = { working: () => void working++ } as unknown as Delivery;
  const outer = keeper.keep(delivery, 300);
  const inner = keeper.keep(delivery, 300);
  clock.advance(100);
  assert.equal(working, 1, "one extension per period, not one per hold");
  inner();
  clock.advance(100);
  assert.equal(working, 2, "still held by the outer hold");
  inner();
  clock.advance(100);
  assert.equal(working, 3, "a release called twice ends its own hold only");
  outer();
  clock.advance(100);
  assert.equal(working, 3, "released");
  keeper.close();
});
