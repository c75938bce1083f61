/**
 * The `LedgerStore` part of the store conformance suite: operations apply
 * once by id across handles and times, every rule of the ledger is enforced
 * with its typed error and nothing written, concurrent debits never
 * overdraw, and `ledgerCheck` stays consistent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClosedError } from "../../../errors/index.js";
import {
  agentAccount,
  escrowAccount,
  FEES,
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidOperationError,
  type LedgerOperation,
  LedgerOverflowError,
  OperationConflictError,
  operations,
  UnknownAccountError,
  WORLD,
} from "../../../ledger/index.js";
import type { AccountBalance, LedgerCheck, LedgerStore } from "../../../store/port.js";
import { type Closable, describeStorePart, id, type StorePartOptions } from "./backend.js";

/** The part of the store conformance suite for the `LedgerStore` (balanced, atomic credit operations); see the port's contract. */
export function runLedgerStoreConformance(options: StorePartOptions<LedgerStore & Closable>): void {
  describeStorePart("ledger store", options, (fixture) => {
    /** Fresh agent accounts per test: the suite shares one store. */
    const agents = (...names: string[]) => {
      const run = id();
      return names.map((n) => agentAccount(`${n}-${run}`));
    };
    const at = 1_700_000_000_000;

    /** Asserts that nothing was written: same balances, same row counts, a clean check. */
    async function unchanged(
      before: { balances: AccountBalance[]; check: LedgerCheck },
      what: string,
    ): Promise<void> {
      assert.deepEqual(
        await fixture.store.balances(),
        before.balances,
        `${what}: balances unchanged`,
      );
      const check = await fixture.store.ledgerCheck();
      assert.equal(check.operations, before.check.operations, `${what}: no operation row`);
      assert.equal(check.entries, before.check.entries, `${what}: no entry row`);
    }
    const snapshot = async () => ({
      balances: await fixture.store.balances(),
      check: await fixture.store.ledgerCheck(),
    });

    test("ledger: an operation applies once; replays (any handle, any time) apply nothing", async () => {
      const [lead, dev] = agents("lead", "dev") as [string, string];
      const mint = operations.mint(`mint-${id()}`, lead, 1000, at);
      assert.deepEqual(await fixture.store.applyLedgerOperation(mint), { applied: true });
      assert.deepEqual(await fixture.store.applyLedgerOperation(mint), { applied: false });
      const transfer = operations.transfer(`tr-${id()}`, lead, dev, 250, at + 1);
      const other = await fixture.reopen();
      try {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? fixture.store : other).applyLedgerOperation(
              // The time is not part of what makes a retry the same operation.
              operations.transfer(transfer.id, lead, dev, 250, at + i),
            ),
          ),
        );
        assert.equal(results.filter((r) => r.applied).length, 1, "exactly one call applied it");
        assert.equal(await other.balance(lead), 750);
      } finally {
        await other.close();
      }
      assert.equal(await fixture.store.balance(lead), 750);
      assert.equal(await fixture.store.balance(dev), 250);
      const entries = await fixture.store.ledgerEntries({ account: dev });
      assert.deepEqual(
        entries.map((e) => [e.operationId, e.seq, e.kind, e.account, e.delta, e.at]),
        [[transfer.id, 1, "transfer", dev, 250, entries[0]?.at]],
      );
    });

    test("ledger: an id reused for a different operation is refused with OperationConflictError", async () => {
      const [a, b] = agents("a", "b") as [string, string];
      const opId = `op-${id()}`;
      await fixture.store.applyLedgerOperation(operations.mint(opId, a, 100, at));
      const before = await snapshot();
      for (const reused of [
        operations.mint(opId, a, 101, at),
        operations.mint(opId, b, 100, at),
        operations.transfer(opId, a, b, 100, at),
      ]) {
        await assert.rejects(
          fixture.store.applyLedgerOperation(reused),
          (error: unknown) => error instanceof OperationConflictError && error.operationId === opId,
        );
      }
      await unchanged(before, "a conflicting reuse");
      assert.equal(await fixture.store.balance(a), 100);
    });

    test("ledger: an overdraft fails closed with InsufficientCreditsError and writes nothing", async () => {
      const [a, b] = agents("a", "b") as [string, string];
      await fixture.store.applyLedgerOperation(operations.mint(`m-${id()}`, a, 100, at));
      const before = await snapshot();
      const overdraft = operations.transfer(`od-${id()}`, a, b, 101, at);
      await assert.rejects(
        fixture.store.applyLedgerOperation(overdraft),
        (error: unknown) =>
          error instanceof InsufficientCreditsError &&
          error.account === a &&
          error.balance === 100 &&
          error.needed === 101,
      );
      // Also inside a batch with operations that do apply.
      const results = await Promise.allSettled([
        fixture.store.applyLedgerOperation(operations.transfer(`ok-${id()}`, a, b, 60, at)),
        fixture.store.applyLedgerOperation(operations.transfer(`no-${id()}`, a, b, 60, at)),
        fixture.store.applyLedgerOperation(
          operations.hold(`h-${id()}`, a.slice(6), `task-${id()}`, 41, at),
        ),
        fixture.store.applyLedgerOperation(operations.transfer(`ok-${id()}`, b, a, 10, at)),
      ]);
      assert.deepEqual(
        results.map((r) => (r.status === "fulfilled" ? r.value : r.reason.constructor.name)),
        [
          { applied: true },
          "InsufficientCreditsError",
          "InsufficientCreditsError",
          { applied: true },
        ],
      );
      assert.equal(await fixture.store.balance(a), 50);
      assert.equal(await fixture.store.balance(b), 50);
      // A refused id stays unused: once funded, the same operation applies.
      await assert.rejects(fixture.store.applyLedgerOperation(overdraft), InsufficientCreditsError);
      await fixture.store.applyLedgerOperation(operations.mint(`m-${id()}`, a, 51, at));
      assert.deepEqual(await fixture.store.applyLedgerOperation(overdraft), { applied: true });
      assert.equal(before.check.operations + 4, (await fixture.store.ledgerCheck()).operations);
    });

    test("ledger: debiting an account that never existed is refused with UnknownAccountError", async () => {
      const [ghost, b] = agents("ghost", "b") as [string, string];
      const before = await snapshot();
      await assert.rejects(
        fixture.store.applyLedgerOperation(operations.transfer(`t-${id()}`, ghost, b, 1, at)),
        (error: unknown) => error instanceof UnknownAccountError && error.account === ghost,
      );
      await assert.rejects(
        fixture.store.applyLedgerOperation(
          operations.release(`r-${id()}`, `task-${id()}`, "w", 1, at),
        ),
        UnknownAccountError,
      );
      await unchanged(before, "a debit of an unknown account");
      assert.equal(
        (await fixture.store.balances()).some((b) => b.account === ghost),
        false,
        "the refused operation did not create the account",
      );
      // A malformed account id, handed to the store without the builders.
      await assert.rejects(
        fixture.store.applyLedgerOperation({
          id: `bad-${id()}`,
          kind: "mint",
          entries: [
            { account: "world", delta: -1 },
            { account: "bank", delta: 1 },
          ],
          memo: {},
          at,
        }),
        UnknownAccountError,
      );
      await unchanged(before, "a malformed account");
    });

    test("ledger: bad amounts and malformed operations get typed errors; nothing is written", async () => {
      const [a, b] = agents("a", "b") as [string, string];
      await fixture.store.applyLedgerOperation(operations.mint(`m-${id()}`, a, 100, at));
      const before = await snapshot();
      for (const amount of [
        -1,
        0,
        2.5,
        "12abc",
        "1e3",
        Number.NaN,
        2 ** 53,
        "9007199254740993",
        null,
      ]) {
        assert.throws(
          () => operations.transfer(`t-${id()}`, a, b, amount, at),
          InvalidAmountError,
          `the builder accepted ${String(amount)}`,
        );
      }
      const handMade = (entries: { account: string; delta: number }[], extra = {}) => ({
        id: `hand-${id()}`,
        kind: "transfer" as const,
        entries,
        memo: {},
        at,
        ...extra,
      });
      const refusals: [LedgerOperation, new (...args: never[]) => Error][] = [
        [
          handMade([
            { account: a, delta: -2.5 },
            { account: b, delta: 2.5 },
          ]),
          InvalidAmountError,
        ],
        [
          handMade([
            { account: a, delta: -Number.NaN },
            { account: b, delta: 1 },
          ]),
          InvalidAmountError,
        ],
        [
          handMade([
            { account: a, delta: -(2 ** 53) },
            { account: b, delta: 2 ** 53 },
          ]),
          InvalidAmountError,
        ],
        [
          handMade([
            { account: a, delta: -5 },
            { account: b, delta: 4 },
          ]),
          InvalidOperationError,
        ],
        [
          handMade([
            { account: a, delta: 0 },
            { account: b, delta: 0 },
          ]),
          InvalidAmountError,
        ],
        [handMade([]), InvalidOperationError],
        [
          handMade(
            [
              { account: a, delta: -1 },
              { account: b, delta: 1 },
            ],
            { id: "" },
          ),
          InvalidOperationError,
        ],
        [
          handMade(
            [
              { account: a, delta: -1 },
              { account: b, delta: 1 },
            ],
            { kind: "steal" },
          ),
          InvalidOperationError,
        ],
        [
          handMade(
            [
              { account: a, delta: -1 },
              { account: b, delta: 1 },
            ],
            { at: 1.5 },
          ),
          InvalidOperationError,
        ],
        [
          handMade(
            [
              { account: a, delta: -1 },
              { account: b, delta: 1 },
            ],
            { memo: { x: {} } },
          ),
          InvalidOperationError,
        ],
      ];
      for (const [operation, expected] of refusals) {
        await assert.rejects(
          fixture.store.applyLedgerOperation(operation),
          expected,
          JSON.stringify(operation),
        );
      }
      await unchanged(before, "bad input");
    });

    test("ledger: a balance that would leave the exact-integer range is refused with LedgerOverflowError", async () => {
      const [rich] = agents("rich") as [string];
      // A transfer, not a mint: world, shared by the whole suite, must stay in range.
      const [source] = agents("source") as [string];
      await fixture.store.applyLedgerOperation(operations.mint(`m-${id()}`, source, 10, at));
      const big = Number.MAX_SAFE_INTEGER - 5;
      await assert.rejects(
        fixture.store.applyLedgerOperation({
          id: `hand-${id()}`,
          kind: "transfer",
          entries: [
            { account: source, delta: -10 },
            { account: rich, delta: 10 },
            { account: rich, delta: big },
            { account: rich, delta: -big },
          ],
          memo: {},
          at,
        }),
        LedgerOverflowError,
      );
      assert.equal(await fixture.store.balance(source), 10);
      assert.equal(await fixture.store.balance(rich), 0);
    });

    test("ledger: concurrent debits from several handles never overdraw", async () => {
      const [payer, payee] = agents("payer", "payee") as [string, string];
      await fixture.store.applyLedgerOperation(operations.mint(`m-${id()}`, payer, 100, at));
      const other = await fixture.reopen();
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 30 }, (_, i) =>
            (i % 2 === 0 ? fixture.store : other).applyLedgerOperation(
              operations.transfer(`t-${id()}`, payer, payee, 10, at),
            ),
          ),
        );
        const applied = results.filter((r) => r.status === "fulfilled").length;
        assert.equal(applied, 10, "exactly the 10 the balance covers");
        for (const r of results) {
          if (r.status === "rejected") assert.ok(r.reason instanceof InsufficientCreditsError);
        }
      } finally {
        await other.close();
      }
      assert.equal(await fixture.store.balance(payer), 0);
      assert.equal(await fixture.store.balance(payee), 100);
    });

    test("ledger: close applies the operations already requested; a closed store refuses with ClosedError", async () => {
      const [a, b] = agents("a", "b") as [string, string];
      const other = await fixture.reopen();
      const requested = [
        other.applyLedgerOperation(operations.mint(`m-${id()}`, a, 30, at)),
        other.applyLedgerOperation(operations.transfer(`t-${id()}`, a, b, 20, at)),
        other.applyLedgerOperation(operations.transfer(`t-${id()}`, a, b, 20, at)),
      ];
      await other.close();
      const settled = await Promise.allSettled(requested);
      assert.deepEqual(
        settled.map((r) => (r.status === "fulfilled" ? r.value : r.reason.constructor.name)),
        [{ applied: true }, { applied: true }, "InsufficientCreditsError"],
      );
      assert.deepEqual([await fixture.store.balance(a), await fixture.store.balance(b)], [10, 20]);
      await assert.rejects(
        other.applyLedgerOperation(operations.mint(`m-${id()}`, a, 1, at)),
        ClosedError,
      );
      await assert.rejects(other.balances(), ClosedError);
      await assert.rejects(other.ledgerCheck(), ClosedError);
    });

    test("ledger: escrow, fees and the spend report's operations; ledgerCheck is consistent", async () => {
      const run = id();
      const [lead, dev] = [agentAccount(`lead-${run}`), agentAccount(`dev-${run}`)];
      const task = `task-${run}`;
      await fixture.store.applyLedgerOperation(operations.mint(`m-${run}`, lead, 1000, at));
      await fixture.store.applyLedgerOperation(
        operations.hold(`h1-${run}`, `lead-${run}`, task, 300, at + 1),
      );
      assert.equal(await fixture.store.balance(escrowAccount(task)), 300);
      await fixture.store.applyLedgerOperation(
        operations.release(`r-${run}`, task, `dev-${run}`, 200, at + 2),
      );
      await fixture.store.applyLedgerOperation(
        operations.refund(`f-${run}`, task, `lead-${run}`, 100, at + 3),
      );
      const memo = { kind: "llm", model: "gpt-4o-mini", units: 1500, priceVersion: "2026-11" };
      await fixture.store.applyLedgerOperation(
        operations.fee(`fee-${run}`, `dev-${run}`, 45, at + 4, memo),
      );
      assert.deepEqual(
        [
          await fixture.store.balance(lead),
          await fixture.store.balance(dev),
          await fixture.store.balance(escrowAccount(task)),
        ],
        [800, 155, 0],
      );
      const fees = (await fixture.store.ledgerOperations({ kind: "fee", since: at + 4 })).filter(
        (o) => o.id === `fee-${run}`,
      );
      assert.deepEqual(fees, [
        {
          id: `fee-${run}`,
          kind: "fee",
          entries: [
            { account: dev, delta: -45 },
            { account: FEES, delta: 45 },
          ],
          memo,
          at: at + 4,
        },
      ]);
      const mine = (await fixture.store.ledgerOperations({ since: at })).filter((o) =>
        o.id.endsWith(run),
      );
      assert.deepEqual(
        mine.map((o) => o.kind),
        ["mint", "hold", "release", "refund", "fee"],
      );
      // By id: who held an escrow, read back with its memo.
      const [hold, ...more] = await fixture.store.ledgerOperations({
        ids: [`h1-${run}`, `no-such-${run}`],
      });
      assert.deepEqual(more, []);
      assert.equal(hold?.kind, "hold");
      assert.equal(hold?.memo["delegator"], `lead-${run}`);
      assert.deepEqual(await fixture.store.ledgerOperations({ ids: [] }), []);
      const check = await fixture.store.ledgerCheck();
      assert.equal(check.sum, check.minted);
      assert.deepEqual([check.negative, check.mismatched, check.unbalanced], [[], [], []]);
      const total = (await fixture.store.balances())
        .filter((b) => b.account !== WORLD)
        .reduce((s, b) => s + b.balance, 0);
      assert.equal(total, check.minted);
      assert.equal(await fixture.store.balance(WORLD), -check.minted);
    });
  });
}
