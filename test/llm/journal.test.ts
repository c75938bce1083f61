import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createMemoryJournal,
  DuplicateStepError,
  NonDeterminismError,
} from "../../src/llm/index.js";

test("a completed step replays its recorded result without running", async () => {
  const journal = createMemoryJournal();
  let runs = 0;
  const first = await journal.step("a", async () => ({ n: ++runs, at: new Date(0) }));
  const again = await journal.replay().step("a", async () => ({ n: ++runs }));
  assert.equal(runs, 1);
  assert.ok(first.at instanceof Date, "the first execution gets fn's own value");
  // What replay returns is the JSON round trip, as a store would give it back.
  assert.deepEqual(again, { n: 1, at: "1970-01-01T00:00:00.000Z" });
});

test("a step that throws records nothing and runs again on replay", async () => {
  const journal = createMemoryJournal();
  await assert.rejects(journal.step("a", async () => Promise.reject(new Error("boom"))));
  assert.equal(await journal.replay().step("a", async () => "second"), "second");
});

test("another step name at a recorded position is non-determinism; nothing runs", async () => {
  const journal = createMemoryJournal();
  await journal.step("fetch", async () => 1);
  await journal.step("summarise", async () => 2);
  const replay = journal.replay();
  await replay.step("fetch", async () => 0);
  let ran = false;
  await assert.rejects(
    replay.step("translate", async () => {
      ran = true;
      return 3;
    }),
    (error: unknown) =>
      error instanceof NonDeterminismError &&
      error.position === 1 &&
      error.expected === "summarise" &&
      error.actual === "translate" &&
      error.code === "E_NON_DETERMINISM",
  );
  assert.equal(ran, false);
});

test("a recorded name asked for at another position is non-determinism too", async () => {
  const journal = createMemoryJournal();
  await journal.step("a", async () => 1);
  await assert.rejects(
    journal.replay().step("b", async () => 2),
    (error: unknown) => error instanceof NonDeterminismError && error.expected === "a",
  );
  const skipped = createMemoryJournal();
  await skipped.step("a", async () => 1);
  await skipped.step("b", async () => 2);
  const replay = skipped.replay();
  await assert.rejects(
    replay.step("b", async () => 2),
    NonDeterminismError,
  );
});

test("positions follow call order, not completion order", async () => {
  const journal = createMemoryJournal();
  let release = () => {};
  const slow = journal.step(
    "slow",
    () =>
      new Promise<number>((resolve) => {
        release = () => resolve(1);
      }),
  );
  const fast = journal.step("fast", async () => 2);
  await fast;
  release();
  await slow;
  assert.deepEqual(journal.names, ["slow", "fast"]);
});

test("a name used twice in one execution is refused", async () => {
  const journal = createMemoryJournal();
  await journal.step("a", async () => 1);
  await assert.rejects(
    journal.step("a", async () => 2),
    DuplicateStepError,
  );
});
