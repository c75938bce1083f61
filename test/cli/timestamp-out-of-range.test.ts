/**
 * A time the store holds beyond what a Date can show (more than 8.64e15 ms
 * from 1970, e.g. a corrupt row or one a hostile node wrote) is printed as
 * its raw number with a note, and the command goes on: `new
 * Date(ts).toISOString()` threw a RangeError, so `audit head`, `tasks show`
 * and `dead-letters list` died with a stack trace.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { timeText } from "../../src/cli/time-text.js";
import { SIGNED_HEAD_META_KEY } from "../../src/runtime/consensus/audit-heads.js";
import { openStore } from "../../src/store/open-store.js";
import { run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-timestamp-range-"));
const store = `sqlite:${join(work, "odd.db")}`;
const FAR = 9e15;

before(async () => {
  const s = await openStore(store, { create: true });
  try {
    await s.recordStep({ taskId: "task-far", position: 0, name: "fetch", result: null, at: FAR });
    await s.recordDeadLetter({
      id: "dead-far",
      subject: "task.job",
      reason: "boom",
      deliveries: 3,
      at: FAR,
      data: "",
    });
    await s.setMeta(
      SIGNED_HEAD_META_KEY,
      JSON.stringify({ swarm: "odd", seq: 1, headHash: "h", ts: FAR, signer: "a", sig: "s" }),
    );
  } finally {
    await s.close();
  }
});
after(() => rmSync(work, { recursive: true, force: true }));

test("timeText() shows a time a Date can hold as ISO, any other number raw with a note", () => {
  assert.equal(timeText(0), "1970-01-01T00:00:00.000Z");
  assert.equal(timeText(8.64e15), "+275760-09-13T00:00:00.000Z");
  assert.equal(timeText(FAR), "(invalid time 9000000000000000)");
  assert.equal(timeText(-FAR), "(invalid time -9000000000000000)");
  assert.equal(timeText(Number.NaN), "(invalid time NaN)");
});

for (const [args, shown] of [
  [["audit", "head", "--store", store], /signed by a at \(invalid time 9000000000000000\): s/],
  [
    ["tasks", "show", "task-far", "--store", store],
    /0 {2}fetch {2}\(invalid time 9000000000000000\)/,
  ],
  [
    ["dead-letters", "list", "--store", store],
    /dead-far {2}\(invalid time 9000000000000000\) {2}\? {2}×3 {2}boom/,
  ],
] as const) {
  test(`${args.slice(0, 2).join(" ")}: a time out of range is shown raw, exit 0`, async () => {
    const r = await run([...args], work);
    assert.doesNotMatch(r.stderr, /RangeError/);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, shown);
  });
}
