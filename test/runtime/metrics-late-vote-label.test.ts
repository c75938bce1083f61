/**
 * A late vote's `choice` is whatever its voter signed: used as a label as
 * it came, a voter made one series per value (up to an envelope's size
 * each). It is a label from a small set: approve, reject, abstain, other.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SwarmMetrics } from "../../src/runtime/metrics.js";

test("late votes are counted by a bounded choice label", async () => {
  const metrics = new SwarmMetrics();
  const late = (choice: string) =>
    metrics.observe({
      type: "consensus.late_vote",
      proposal: "p-1",
      agent: "voter-1",
      choice,
      lateByMs: 10,
    });
  late("approve");
  late("reject");
  for (let i = 0; i < 50; i++) late(`junk-${i}-${"x".repeat(1000)}`);
  const text = await metrics.render();
  const series = text
    .split("\n")
    .filter((l) => l.startsWith("conclave_consensus_late_votes_total{"));
  assert.equal(series.length, 3, `${series.length} series, not 3`);
  assert.equal(await metrics.get("conclave_consensus_late_votes_total", { choice: "approve" }), 1);
  assert.equal(await metrics.get("conclave_consensus_late_votes_total", { choice: "other" }), 50);
});
