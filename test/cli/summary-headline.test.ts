/**
 * The run summary's headline says what the exit code says: a run that lost
 * nothing but whose ledger does not balance (or whose audit log does not
 * verify) exits 1, and its headline used to read "nothing lost" all the
 * same.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RunCounters } from "../../src/cli/progress.js";
import { buildSummary, humanSummary, summaryHolds } from "../../src/cli/run.js";

const progress = {
  submitted: 2,
  completed: 2,
  deadLettered: 0,
  pending: 0,
  followUps: 0,
  duplicateEffects: 0,
};

test("an unbalanced ledger or an unverified audit log reads PROBLEMS, as the exit code says", () => {
  const counters = new RunCounters();
  const unbalanced = { ledger: { minted: 100, sum: 90, negative: 0, halted: [] } };
  const cases = [
    [{}, "nothing lost"],
    [unbalanced, "PROBLEMS"],
    [{ auditProblem: "the audit log does not verify at entry 3" }, "PROBLEMS"],
  ] as const;
  for (const [sections, headline] of cases) {
    const summary = buildSummary("s", progress, counters, sections, Date.now());
    const text = humanSummary(summary, counters, false, summaryHolds(summary, sections));
    assert.match(text.split("\n")[1] ?? "", new RegExp(headline), JSON.stringify(sections));
  }
});
