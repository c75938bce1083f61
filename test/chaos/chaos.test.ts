/**
 * The short version of `npm run chaos` for `npm test`: two scenarios on a
 * private nats-server, each on the review swarm over three processes behind
 * chaos proxies, with fewer tasks. Fixed seeds, so a failure here replays
 * with `npm run chaos -- --only NAME --seed N`.
 *
 * - nats-cut-producer: the producer's link is cut longer than leftAfterMs;
 *   before the fix in Node's onLeft the producer forgot its own agents' keys
 *   and refused their messages for good (stuck, tasks lost).
 * - nats-pause: a worker process SIGSTOPped past the ack deadline; its tasks
 *   are redelivered to the other worker and nothing is applied twice.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { requirement } from "../integration/fixtures/processes.js";
import { scenarios } from "./scenarios/index.js";

const SHORT = [
  { name: "nats-cut-producer", seed: 3 },
  { name: "nats-pause", seed: 7 },
] as const;

describe("chaos (short)", () => {
  for (const { name, seed } of SHORT) {
    const scenario = scenarios.find((s) => s.name === name);
    if (!scenario) throw new Error(`no scenario ${name}`);
    const missing = scenario.missing();
    test(`${name} seed ${seed}: nothing lost, nothing applied twice, ledger balanced, audit verified, not stuck`, {
      timeout: 60_000,
      skip: requirement(name, missing),
    }, async (t) => {
      const result = await scenario.run(seed, (line) => t.diagnostic(line), { tasks: 80 });
      t.diagnostic(`${name} seed ${seed}: ${(result.durationMs / 1000).toFixed(1)} s`);
      assert.ok(result.faults.length > 0, "at least one fault landed mid-run");
      assert.deepEqual(
        result.verdict.problems,
        [],
        `replay: npm run chaos -- --only ${name} --seed ${seed}`,
      );
      assert.equal(result.verdict.ok, true);
      assert.equal(result.verdict.tasks, 80);
    });
  }
});
