/**
 * `ctx.spend` refuses a bad charge whether or not the agent is metered: an
 * agent without a budget used to return 0 for NaN, negative or fractional
 * credits, so the bug surfaced only once the agent was given a budget.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { ConfigError } from "../../src/errors/index.js";
import { InvalidAmountError } from "../../src/ledger/index.js";
import { Budgets } from "../../src/runtime/budget.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

async function withBudgets(fn: (budgets: Budgets) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-spend-"));
  const store = openSqliteStore({ path: join(dir, "store.db") });
  try {
    const budgets = new Budgets({
      store,
      clock: systemClock,
      prices: undefined,
      emit: () => undefined,
      halt: () => undefined,
      resume: () => undefined,
    });
    budgets.add("metered", { initial: 100, minBalance: 0 });
    await budgets.start();
    await fn(budgets);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("budgets: bad charges", () => {
  test("NaN, negative, fractional and infinite credits are InvalidAmountError, metered or not", async () => {
    await withBudgets(async (budgets) => {
      for (const credits of [Number.NaN, -5, 2.5, Number.POSITIVE_INFINITY]) {
        for (const agent of ["metered", "unmetered"]) {
          await assert.rejects(
            budgets.spend(agent, `fee:${agent}:${credits}`, { kind: "tool", credits }),
            InvalidAmountError,
            `${agent} spending ${credits}`,
          );
        }
      }
      assert.equal(await budgets.balance("metered"), 100, "nothing was charged");
    });
  });

  test("units that are not a whole count are refused with a message about units, not a malformed operation", async () => {
    await withBudgets(async (budgets) => {
      for (const agent of ["metered", "unmetered"]) {
        await assert.rejects(
          budgets.spend(agent, `fee:${agent}:units`, {
            kind: "tool",
            credits: 3,
            units: Number.NaN,
          }),
          (error: unknown) => error instanceof ConfigError && /units/.test(error.message),
          agent,
        );
      }
      assert.equal(await budgets.balance("metered"), 100);
      // A good charge still goes through, and zero is no charge.
      assert.equal(
        await budgets.spend("metered", "fee:ok", { kind: "tool", credits: 3, units: 1 }),
        3,
      );
      assert.equal(await budgets.spend("unmetered", "fee:ok", { kind: "tool", credits: 3 }), 0);
      assert.equal(await budgets.spend("metered", "fee:zero", { kind: "tool", credits: 0 }), 0);
      assert.equal(await budgets.balance("metered"), 97);
      assert.equal(await budgets.balance("unmetered"), 0);
    });
  });
});
