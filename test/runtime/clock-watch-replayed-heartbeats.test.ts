/**
 * A heartbeat refused as stale is either a clock that is off or a replay
 * (docs/PROTOCOL.md, heartbeats: "an older one is a replay"). ClockWatch
 * took every refusal as the peer's clock: replaying one old heartbeat of
 * each of two peers (or a broker delivering them late) right after their
 * fresh ones made a node with a good clock blame its own, and stop taking
 * tasks. A peer whose heartbeat this node accepted within the window is
 * not minutes off: a stale one from it is a replay, not a verdict on our
 * clock. A peer that stays refused for the whole window counts again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClockWatch } from "../../src/runtime/clock-watch.js";

test("old heartbeats replayed from peers just accepted do not make this node an outlier", () => {
  const watch = new ClockWatch(10_000);
  watch.accepted("a", 0);
  watch.accepted("b", 0);
  watch.skewed("a", -60_000, 100);
  watch.skewed("b", -60_000, 100);
  assert.equal(watch.outlier(100), undefined, "replays of peers accepted 100 ms ago");
});

test("peers refused for longer than the window after their last acceptance count again", () => {
  const watch = new ClockWatch(10_000);
  watch.accepted("a", 0);
  watch.accepted("b", 0);
  // This node's clock jumped: from now on every peer is refused.
  for (let now = 100; now <= 12_000; now += 1000) {
    watch.skewed("a", -300_000, now);
    watch.skewed("b", -300_000, now);
  }
  assert.deepEqual(watch.outlier(12_000), { offsetMs: -300_000, peers: 2 });
});
