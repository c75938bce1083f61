/**
 * The README's sample summary is what `conclave demo` prints today. The
 * lines the README says are the same on every run (tasks submitted, lost,
 * duplicate effects, the ledger, consensus) appear exactly in a real run's
 * summary; the others (the time, retries, completions against dead letters,
 * halted agents, auctions, per-agent counts) vary within what the README
 * describes.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { root, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-readme-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Lines of the sample that every run prints as they are. */
const STABLE = /^\s+(tasks submitted|lost|duplicate effects|ledger|consensus)\s/;

test("the README's sample summary matches a run of conclave demo", async () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const sample = /```text\n(swarm review-swarm — nothing lost[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(sample, "the README has a sample summary");
  const stable = sample.split("\n").filter((line) => STABLE.test(line));
  assert.equal(stable.length, 5, "the sample shows the stable lines");
  const result = await run(["demo", "--data-dir", join(work, "demo")], work);
  assert.equal(result.code, 0, result.stderr.slice(-2000));
  const printed = new Set(result.stdout.split("\n").map((line) => line.trimEnd()));
  for (const line of stable) {
    assert.ok(
      printed.has(line.trimEnd()),
      `the README says "${line}", the demo printed:\n${result.stdout}`,
    );
  }
  assert.match(result.stdout, /^swarm review-swarm — nothing lost in [\d.]+s$/m);
  assert.match(
    result.stdout,
    /halted agents\s+.*dev-2/,
    "dev-2, which never passes an audit, is halted",
  );
  // The impossible specs always die; the flaky developer may use up one more task's deliveries.
  const completed = Number(/completed\s+(\d+)/.exec(result.stdout)?.[1]);
  const dead = Number(/dead-lettered\s+(\d+)/.exec(result.stdout)?.[1]);
  assert.equal(completed + dead, 200);
  assert.ok(dead >= 5 && dead <= 10, `dead-lettered ${dead}`);
  assert.match(result.stdout, /auctions\s+50 held: \d+ awarded, \d+ unsold; \d+ bids refused/);
});
