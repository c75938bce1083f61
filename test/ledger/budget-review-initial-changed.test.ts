/**
 * An agent's `budget.initial` is minted once, the first time the swarm
 * starts on a store (operation `budget-initial:<agent>`). Starting again
 * with another `initial` in the config (the operator raised it, or two
 * nodes host the agent with different configs) reused that operation id
 * for a different amount: `Budgets.start` threw OperationConflictError and
 * the node did not start. The first mint stands; the start goes on.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { Budgets } from "../../src/runtime/budget.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

test("budgets: a restart with another initial budget starts, and the first mint stands", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-initial-"));
  const path = join(dir, "store.db");
  const start = async (initial: number, minBalance: number) => {
    const store = openSqliteStore({ path });
    const events: SwarmEvent[] = [];
    const halted: string[] = [];
    const budgets = new Budgets({
      store,
      clock: systemClock,
      prices: undefined,
      emit: (event) => events.push(event),
      halt: (agent) => halted.push(agent),
      resume: () => undefined,
    });
    budgets.add("dev", { initial, minBalance });
    try {
      await budgets.start();
      return { balance: await budgets.balance("dev"), halted, events };
    } finally {
      await store.close();
    }
  };
  try {
    assert.equal((await start(100, 0)).balance, 100);
    const again = await start(500, 0);
    assert.equal(again.balance, 100, "minted once: the first start's amount");
    // The balance is still judged against the minimum at start.
    const strict = await start(500, 200);
    assert.deepEqual(strict.halted, ["dev"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
