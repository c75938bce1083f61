/**
 * `conclave report roi` printed its two table headers with no rows under
 * them: on a store without ensemble decisions (then also the "nothing to
 * report" error), and the model table's header on a store whose ensembles
 * made no model call (code agents). A header without rows tells the reader
 * nothing; a section with nothing to show should say so, or not print.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { showRoi } from "../../src/cli/roi.js";
import { ENSEMBLE_DECIDED, type EnsembleDecision } from "../../src/runtime/ensemble.js";
import { openStore } from "../../src/store/open-store.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-roi-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `showRoi` on `url`, capturing what it writes. */
async function roi(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof write.out;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof write.err;
  try {
    const code = await showRoi({ store: url }, false);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

test("report roi on a store without ensemble decisions prints no table, only what to do", async () => {
  const url = `sqlite:${join(dir, "empty.db")}`;
  await (await openStore(url)).close();
  const r = await roi(url);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no ensemble decision in this store/);
  assert.equal(r.stdout, "", `printed headers without rows:\n${r.stdout}`);
});

test("report roi without model calls prints the task types and no empty model table", async () => {
  const url = `sqlite:${join(dir, "decided.db")}`;
  const store = await openStore(url);
  try {
    const decision: EnsembleDecision = {
      task: "classify",
      taskId: "t-1",
      record: {
        rule: "weighted-vote",
        answers: [{ member: "a", answer: "billing" }],
      } as unknown as EnsembleDecision["record"],
      answer: "billing",
      asked: ["a"],
      failures: [],
      callsSaved: 0,
      agreed: true,
      truth: "billing",
    };
    await store.completeTask({
      taskId: "t-1",
      agent: "desk-1",
      at: 1,
      effects: [{ kind: ENSEMBLE_DECIDED, key: "t-1", data: decision }],
      outbox: [],
    });
  } finally {
    await store.close();
  }
  const r = await roi(url);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^classify\s+1\s+100\.0 %/m);
  const lines = r.stdout.trimEnd().split("\n");
  assert.doesNotMatch(lines.at(-1) ?? "", /^model\s+calls/, `an empty model table:\n${r.stdout}`);
});
