/**
 * Runs the PBFT safety property over a range of seeds and fails with the
 * first failing seed and the command that replays it.
 *
 * Environment: `PBFT_SEED=<n>` (with `PBFT_F=<f>`) runs that one seed;
 * `PBFT_SEED_BASE=<n>` shifts the seed range to explore new runs.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { runSafetySeed, type SafetyRun } from "./pbft-safety-runner.js";

export function safetyProperty(t: TestContext, f: number, seeds: number, file: string): void {
  const only = process.env.PBFT_SEED;
  const onlyF = process.env.PBFT_F === undefined ? undefined : Number(process.env.PBFT_F);
  if (only !== undefined && onlyF !== undefined && onlyF !== f) {
    t.skip(`replaying seed ${only} for f = ${onlyF}`);
    return;
  }
  const base = Number(process.env.PBFT_SEED_BASE ?? 0);
  const list =
    only !== undefined
      ? [Number(only)]
      : Array.from({ length: seeds }, (_, i) => base + f * 1_000_000 + i + 1);
  const started = performance.now();
  const totals = { committed: 0, withLiars: 0, viewChanges: 0, evidence: 0 };
  for (const seed of list) {
    let run: SafetyRun;
    try {
      run = runSafetySeed(seed, f);
    } catch (err) {
      throw new Error(`PBFT run threw at seed ${seed} (f = ${f}); ${replay(seed, f, file)}`, {
        cause: err,
      });
    }
    if (run.violations.length > 0) {
      assert.fail(
        `PBFT safety violated at seed ${seed} (f = ${f}):\n  ${run.violations.join("\n  ")}\n  ${run.description}\n${replay(seed, f, file)}`,
      );
    }
    if (only !== undefined) t.diagnostic(run.description);
    if (run.committedSeqs > 0) totals.committed++;
    if (run.byzantine.length > 0) totals.withLiars++;
    totals.viewChanges += run.viewChanges;
    totals.evidence += run.evidence;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  t.diagnostic(
    `f = ${f}: ${list.length} seeds in ${seconds} s; Byzantine replicas in ${totals.withLiars}, something committed in ${totals.committed}, ${totals.viewChanges} view changes, ${totals.evidence} pieces of evidence`,
  );
  if (only === undefined) {
    // Not vacuous: the runs commit, change views and catch liars.
    assert.ok(
      totals.committed > list.length / 2,
      `only ${totals.committed} runs committed anything`,
    );
    assert.ok(totals.viewChanges > 0 && totals.evidence > 0);
  }
}

function replay(seed: number, f: number, file: string): string {
  return `replay: PBFT_SEED=${seed} PBFT_F=${f} node --import tsx --test ${file}`;
}
