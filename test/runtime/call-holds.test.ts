/**
 * `Budgets.holdCall` (src/runtime/budget.ts), on a real SQLite store: the
 * hold of one metered call (a model step, an MCP tool call) is reused when
 * the call is asked again after a crash, and taken anew when the call is
 * run again after its hold was settled (released after a failed attempt,
 * or charged before a crash lost the record of the answer).
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { agentAccount, escrowAccount, InsufficientCreditsError } from "../../src/ledger/index.js";
import { Budgets } from "../../src/runtime/budget.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";

describe("the hold of one metered call", () => {
  let store: SqliteStore;
  let budgets: Budgets;
  const balance = () => store.balance(agentAccount("a"));

  beforeEach(async () => {
    store = openSqliteStore({ path: ":memory:" });
    budgets = new Budgets({
      store,
      clock: new ManualClock(1000),
      prices: undefined,
      emit: () => {},
      halt: () => {},
      resume: () => {},
    });
    budgets.add("a", { initial: 1000, minBalance: 0 });
    await budgets.start();
  });
  afterEach(() => store.close());

  test("asked again while its hold is open (a crash before the charge): the same hold", async () => {
    assert.equal(await budgets.holdCall("a", "k", 300), "k");
    assert.equal(await budgets.holdCall("a", "k", 300), "k");
    assert.equal(await balance(), 700, "held once");
    assert.equal(await budgets.settleCall("a", "k", 300, 120, { kind: "llm" }), 120);
    assert.equal(await balance(), 880);
  });

  test("run again after its hold was released or charged: a new hold, a new charge", async () => {
    await budgets.holdCall("a", "k", 300);
    await budgets.releaseCall("a", "k", 300);
    assert.equal(await balance(), 1000);
    const again = await budgets.holdCall("a", "k", 300);
    assert.equal(again, "k.2");
    assert.equal(await balance(), 700);
    assert.equal(await budgets.settleCall("a", again, 300, 200, { kind: "llm" }), 200);
    assert.equal(await balance(), 800);
    // Charged, then run again (the record of its answer lost): charged again.
    const third = await budgets.holdCall("a", "k", 300);
    assert.equal(third, "k.3");
    assert.equal(await budgets.settleCall("a", third, 300, 200, { kind: "llm" }), 200);
    assert.equal(await balance(), 600);
  });

  test("run again when the agent can no longer cover it: refused", async () => {
    await budgets.holdCall("a", "k", 900);
    await budgets.releaseCall("a", "k", 900);
    await budgets.holdCall("a", "other", 500);
    await assert.rejects(budgets.holdCall("a", "k", 900), InsufficientCreditsError);
    assert.equal(await balance(), 500);
  });

  test("asked again for another amount (prices changed): the stale hold goes back, a new one is taken", async () => {
    await budgets.holdCall("a", "k", 300);
    assert.equal(await budgets.holdCall("a", "k", 400), "k.2");
    assert.equal(await balance(), 600, "only the new hold is held");
    assert.equal(await store.balance(escrowAccount("k")), 0);
  });
});
