import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { DECISION_SECONDS_BUCKETS, SwarmMetrics } from "../../src/runtime/metrics.js";

const decided = (
  protocol: "quorum" | "pbft",
  outcome: "approved" | "rejected" | "vetoed" | "no-quorum",
  durationMs: number,
): SwarmEvent => ({
  type: "consensus.decided",
  proposal: `p-${durationMs}`,
  action: "funds.transfer",
  protocol,
  outcome,
  seal: "0".repeat(64),
  seq: 1,
  byzantine: 0,
  durationMs,
});

describe("consensus metrics", () => {
  test("proposals, votes, decisions by outcome, Byzantine evidence by kind", async () => {
    const metrics = new SwarmMetrics();
    const events: SwarmEvent[] = [
      {
        type: "consensus.proposed",
        proposal: "p-1",
        action: "funds.transfer",
        proposer: "lead",
        protocol: "quorum",
        voters: 4,
      },
      {
        type: "consensus.proposed",
        proposal: "p-2",
        action: "funds.transfer",
        proposer: "lead",
        protocol: "pbft",
        voters: 4,
      },
      { type: "consensus.voted", proposal: "p-1", agent: "a", choice: "approve", reason: "" },
      { type: "consensus.voted", proposal: "p-1", agent: "b", choice: "reject", reason: "no" },
      {
        type: "consensus.byzantine",
        proposal: "p-1",
        agent: "m",
        kind: "equivocation",
        detail: "",
      },
      {
        type: "consensus.byzantine",
        proposal: "p-1",
        agent: "m",
        kind: "equivocation",
        detail: "",
      },
      { type: "consensus.byzantine", proposal: "p-2", agent: "x", kind: "replay", detail: "" },
      decided("quorum", "approved", 3),
      decided("quorum", "no-quorum", 2_000),
      decided("pbft", "approved", 40),
    ];
    for (const event of events) metrics.observe(event);
    assert.equal(
      await metrics.get("conclave_consensus_proposals_total", {
        action: "funds.transfer",
        protocol: "pbft",
      }),
      1,
    );
    assert.equal(await metrics.total("conclave_consensus_proposals_total"), 2);
    assert.equal(await metrics.get("conclave_consensus_votes_total", { choice: "reject" }), 1);
    assert.equal(
      await metrics.get("conclave_consensus_byzantine_total", { kind: "equivocation" }),
      2,
    );
    assert.equal(await metrics.get("conclave_consensus_byzantine_total", { kind: "replay" }), 1);
    const quorum = { action: "funds.transfer", protocol: "quorum" };
    assert.equal(
      await metrics.get("conclave_consensus_decisions_total", { ...quorum, outcome: "approved" }),
      1,
    );
    assert.equal(
      await metrics.get("conclave_consensus_decisions_total", { ...quorum, outcome: "no-quorum" }),
      1,
    );
    assert.equal(await metrics.total("conclave_consensus_decisions_total"), 3);
  });

  test("decision latency is a histogram per protocol with cumulative buckets, in the exposition format", async () => {
    const metrics = new SwarmMetrics();
    for (const ms of [3, 8, 40, 2_000, 120_000]) metrics.observe(decided("quorum", "approved", ms));
    metrics.observe(decided("pbft", "approved", 4));
    const histogram = await metrics.histogram("conclave_consensus_decision_seconds", {
      protocol: "quorum",
    });
    assert.ok(histogram);
    assert.equal(histogram.count, 5);
    assert.ok(Math.abs(histogram.sum - 122.051) < 1e-9);
    const at = (le: number) => histogram.buckets.find((b) => b.le === le)?.count;
    assert.equal(at(0.005), 1);
    assert.equal(at(0.01), 2);
    assert.equal(at(0.05), 3);
    assert.equal(at(2.5), 4);
    assert.equal(at(60), 4, "two minutes is beyond the last bound");
    assert.equal(at(Number.POSITIVE_INFINITY), 5);
    assert.equal(histogram.buckets.length, DECISION_SECONDS_BUCKETS.length + 1);
    assert.equal(
      (await metrics.histogram("conclave_consensus_decision_seconds", { protocol: "pbft" }))?.count,
      1,
    );
    assert.equal(
      await metrics.histogram("conclave_consensus_decision_seconds", { protocol: "x" }),
      undefined,
    );

    const text = await metrics.render();
    assert.match(text, /^# TYPE conclave_consensus_decision_seconds histogram$/m);
    assert.match(
      text,
      /^conclave_consensus_decision_seconds_bucket\{le="0\.01",protocol="quorum"\} 2$/m,
    );
    assert.match(
      text,
      /^conclave_consensus_decision_seconds_bucket\{le="\+Inf",protocol="quorum"\} 5$/m,
    );
    assert.match(text, /^conclave_consensus_decision_seconds_count\{protocol="quorum"\} 5$/m);
    assert.match(text, /^conclave_consensus_decision_seconds_sum\{protocol="pbft"\} 0\.004$/m);
    assert.match(text, /^# TYPE conclave_consensus_decisions_total counter$/m);
    assert.equal(text.match(/# TYPE conclave_consensus_decision_seconds /g)?.length, 1);
  });
});

describe("a bad figure in an event", () => {
  test("is skipped, never thrown at the code that emitted it", async () => {
    const metrics = new SwarmMetrics();
    metrics.observe({
      type: "task.completed",
      agent: "a",
      role: "r",
      task: "t",
      durationMs: Number.NaN,
    } as SwarmEvent);
    metrics.observe({
      type: "llm.call",
      model: "m",
      replayed: false,
      inputTokens: -3,
      outputTokens: 2,
      cachedInputTokens: 0,
      cost: Number.POSITIVE_INFINITY,
      latencyMs: 5,
    } as unknown as SwarmEvent);
    assert.equal(
      await metrics.get("conclave_tasks_total", { role: "r", task: "t", outcome: "completed" }),
      1,
    );
    assert.equal(
      await metrics.histogram("conclave_task_duration_seconds", { task: "t" }),
      undefined,
    );
    assert.equal(await metrics.get("conclave_llm_tokens_total", { model: "m", kind: "input" }), 0);
    assert.equal(await metrics.get("conclave_llm_tokens_total", { model: "m", kind: "output" }), 2);
    assert.equal(await metrics.total("conclave_llm_cost_credits_total"), 0);
  });
});
