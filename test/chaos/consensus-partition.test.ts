/**
 * Consensus under a partition across OS processes (issue 17), the short
 * version of the `pbft-primary-blackhole` and `quorum-split` scenarios
 * (test/chaos/scenarios/consensus-partition.ts): four voter processes on a
 * private nats-server, each behind its own chaos proxy, two rounds each.
 *
 * - PBFT with the primary of view 0's process black-holed completes by a
 *   view change: approved, a commit certificate of view ≥ 1 without alice.
 * - A quorum round whose voters are split 2/2 by a black hole longer than
 *   its deadline decides no-quorum at the deadline, from either side.
 *
 * Both: one sealed decision per proposal in the audit log, the same outcome
 * in every process's events and reads, `conclave audit verify` accepts it.
 * Fixed seeds: replay with `npm run chaos -- --only NAME --seed N`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { natsServerAvailable } from "../../src/testkit/brokers/nats-server.js";
import { requirement } from "../integration/fixtures/processes.js";
import { runPartition } from "./scenarios/consensus-partition.js";

const missing = natsServerAvailable() ? undefined : "no nats-server binary on PATH";

describe("consensus under partition (processes)", () => {
  test("pbft-primary-blackhole seed 5: the primary's process black-holed, each round approved by a view change, one sealed decision", {
    timeout: 150_000,
    skip: requirement("pbft-primary-blackhole", missing),
  }, async (t) => {
    const result = await runPartition("pbft-primary-blackhole", 5, (l) => t.diagnostic(l), 2);
    t.diagnostic(`${(result.durationMs / 1000).toFixed(1)} s`);
    assert.deepEqual(
      result.verdict.problems,
      [],
      "replay: npm run chaos -- --only pbft-primary-blackhole --seed 5",
    );
    assert.equal(result.decisions.length, 2);
    for (const { decision } of result.decisions) {
      assert.equal(decision.outcome, "approved");
      assert.equal(decision.protocol, "pbft");
      assert.ok(decision.votes.every((v) => (v.body as { view: number }).view >= 1));
    }
  });

  test("quorum-split seed 5: voters split 2/2 past the deadline, no-quorum from either side, never two outcomes", {
    timeout: 150_000,
    skip: requirement("quorum-split", missing),
  }, async (t) => {
    const result = await runPartition("quorum-split", 5, (l) => t.diagnostic(l), 2);
    t.diagnostic(`${(result.durationMs / 1000).toFixed(1)} s`);
    assert.deepEqual(
      result.verdict.problems,
      [],
      "replay: npm run chaos -- --only quorum-split --seed 5",
    );
    assert.deepEqual(
      result.decisions.map((d) => [d.proposer, d.decision.outcome]),
      [
        ["alice", "no-quorum"],
        ["carol", "no-quorum"],
      ],
    );
  });
});
