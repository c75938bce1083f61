import assert from "node:assert/strict";
import { test } from "node:test";
import { CLOCK_OFFSET_ENV, clockFromEnvironment } from "../../src/cli/clock-offset.js";
import { ManualClock } from "../../src/core/clock.js";
import { offsetClock } from "../../src/core/offset-clock.js";
import { ConfigError } from "../../src/errors/index.js";

test("offsetClock moves now() and keeps timers' durations", () => {
  const base = new ManualClock(1_000);
  const ahead = offsetClock(base, 300_000);
  assert.equal(ahead.now(), 301_000);
  let fired = false;
  ahead.setTimer(() => {
    fired = true;
  }, 50);
  base.advance(49);
  assert.equal(fired, false);
  base.advance(1);
  assert.equal(fired, true);
  assert.equal(offsetClock(base, -300_000).now(), 1_050 - 300_000);
  assert.equal(offsetClock(base, 0), base, "no offset: the same clock");
});

test(`${CLOCK_OFFSET_ENV}: unset is the default clock, a whole number offsets it, anything else is a ConfigError`, () => {
  assert.equal(clockFromEnvironment({}), undefined);
  assert.equal(clockFromEnvironment({ [CLOCK_OFFSET_ENV]: "" }), undefined);
  const behind = clockFromEnvironment({ [CLOCK_OFFSET_ENV]: "-300000" });
  assert.ok(behind);
  assert.ok(Math.abs(behind.now() - (Date.now() - 300_000)) < 1_000);
  assert.throws(() => clockFromEnvironment({ [CLOCK_OFFSET_ENV]: "5m" }), ConfigError);
  assert.throws(() => clockFromEnvironment({ [CLOCK_OFFSET_ENV]: "1.5" }), ConfigError);
});
