/**
 * An event published in a conversation needs its place in it: `conv`
 * without `seq` used to go out as seq 0 every time, so a subscriber ordering
 * by conversation delivered the first and dropped every later one as a
 * repeat; `seq` without `conv` was ignored. Both are refused now, saying
 * what to pass.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("conv needs seq, seq needs conv; numbered events arrive in order", async () => {
  const t = createTestSwarm({ roles: { ops: {} } });
  t.swarm.agent({ id: "a", role: "ops" });
  try {
    await t.swarm.start();
    const got: number[] = [];
    t.swarm.subscribe("note", (e) => void got.push((e.body as { n: number }).n), {
      ordering: "conversation",
    });
    assert.throws(
      () => t.swarm.publish("note", { n: 0 }, { as: "a", conv: "c1" }),
      (e: unknown) => e instanceof ConfigError && /seq/.test(e.message),
    );
    assert.throws(
      () => t.swarm.publish("note", { n: 0 }, { as: "a", seq: 3 }),
      (e: unknown) => e instanceof ConfigError && /conv/.test(e.message),
    );
    for (const n of [1, 0, 2]) t.swarm.publish("note", { n }, { as: "a", conv: "c1", seq: n });
    await until(() => got.length === 3, 3000, "the three events");
    assert.deepEqual(got, [0, 1, 2]);
  } finally {
    await t.cleanup();
  }
});
