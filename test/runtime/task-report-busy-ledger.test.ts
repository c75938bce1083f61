import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import type { LedgerOperation } from "../../src/ledger/operations.js";
import { taskReport } from "../../src/runtime/task-report.js";
import type { Store } from "../../src/store/port.js";
import { createUlidFactory } from "../../src/wire/ulid.js";

// The ledger is read oldest first, at most 100,000 operations: once a swarm's
// ledger held more, `tasks show` of any recent task listed none of its
// charges (nor its attempts). A task's operations come after its id (a
// ULID) was made, so the read starts there.
test("a recent task's ledger operations are found in a ledger of more than 100,000", async () => {
  const taskAt = 1_800_000_000_000;
  const taskId = createUlidFactory(new ManualClock(taskAt))();
  const old: LedgerOperation[] = Array.from({ length: 100_001 }, (_, i) => ({
    id: `fee:01OTHER${i}:1:0`,
    kind: "fee",
    entries: [],
    memo: { task: `other-${i}` },
    at: taskAt - 86_400_000 + i,
  }));
  const mine: LedgerOperation = {
    id: `fee:${taskId}:2:0`,
    kind: "fee",
    entries: [],
    memo: { task: taskId },
    at: taskAt + 1000,
  };
  const operations = [...old, mine];
  const store = {
    taskOutcome: async () => ({ status: "completed", agent: "a", at: taskAt + 2000, corr: taskId }),
    steps: async () => [],
    taskEffects: async () => [],
    deadLetter: async () => undefined,
    effects: async () => [],
    ledgerOperations: async (o: { since?: number; limit?: number } = {}) =>
      operations.filter((op) => op.at >= (o.since ?? 0)).slice(0, o.limit ?? 10_000),
    latestCompletions: async () => [],
    deadLetters: async () => [],
  } as unknown as Store;
  const report = await taskReport(store, taskId);
  assert.deepEqual(
    report?.ledger.map((op) => op.id),
    [mine.id],
  );
  assert.equal(report?.attempts, 2);
});
