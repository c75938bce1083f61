import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { agentAccount, escrowAccount, FEES, WORLD } from "../../src/ledger/accounts.js";
import { parseAmount } from "../../src/ledger/amount.js";
import {
  InsufficientCreditsError,
  InvalidAmountError,
  LedgerOverflowError,
  UnknownAccountError,
} from "../../src/ledger/errors.js";
import { operationFingerprint, operations } from "../../src/ledger/operations.js";
import { createPriceTable, tokenCost, toMicros } from "../../src/ledger/prices.js";
import { applyToBalances } from "../../src/ledger/rules.js";

describe("ledger amounts", () => {
  test("whole credits in range are accepted, in any exact spelling", () => {
    assert.equal(parseAmount(250), 250);
    assert.equal(parseAmount("250"), 250);
    assert.equal(parseAmount(250n), 250);
    assert.equal(parseAmount(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  });

  test("negative, zero, fractional, non-numeric and overflowing amounts get InvalidAmountError", () => {
    for (const bad of [
      -1,
      0,
      2.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "12abc",
      "",
      "1e3",
      null,
      undefined,
      {},
      2 ** 53,
      "9007199254740993",
      -5n,
    ]) {
      assert.throws(() => parseAmount(bad), InvalidAmountError, `accepted ${String(bad)}`);
    }
  });
});

describe("ledger operations", () => {
  test("every builder balances, and hold/release move a budget through escrow", () => {
    const b = new Map<string, number>();
    applyToBalances(b, operations.mint("m1", agentAccount("lead"), 1000, 0));
    applyToBalances(b, operations.hold("h1", "lead", "t1", 300, 1));
    assert.equal(b.get(agentAccount("lead")), 700);
    assert.equal(b.get(escrowAccount("t1")), 300);
    applyToBalances(b, operations.release("r1", "t1", "dev-1", 300, 2));
    assert.equal(b.get(escrowAccount("t1")), 0);
    assert.equal(b.get(agentAccount("dev-1")), 300);
    applyToBalances(b, operations.fee("f1", "dev-1", 20, 3, { kind: "llm", units: 1000 }));
    assert.equal(b.get(FEES), 20);
    assert.equal(b.get(WORLD), -1000);
  });

  test("an overdraft fails closed and changes nothing", () => {
    const b = new Map<string, number>([[agentAccount("a"), 10]]);
    assert.throws(
      () =>
        applyToBalances(b, operations.transfer("t", agentAccount("a"), agentAccount("b"), 11, 0)),
      InsufficientCreditsError,
    );
    assert.deepEqual([...b], [[agentAccount("a"), 10]]);
  });

  test("debiting an unknown account or using a malformed id is refused", () => {
    const b = new Map<string, number>();
    assert.throws(
      () =>
        applyToBalances(
          b,
          operations.transfer("t", agentAccount("ghost"), agentAccount("b"), 1, 0),
        ),
      UnknownAccountError,
    );
    assert.throws(() => operations.transfer("t", "agent:", "treasury", 1, 0), UnknownAccountError);
    assert.throws(() => operations.transfer("t", "bank", "treasury", 1, 0), UnknownAccountError);
  });

  test("a balance that would leave the exact-integer range is refused", () => {
    const b = new Map<string, number>([[agentAccount("a"), Number.MAX_SAFE_INTEGER]]);
    assert.throws(
      () => applyToBalances(b, operations.mint("m", agentAccount("a"), 1, 0)),
      LedgerOverflowError,
    );
  });

  test("the fingerprint ignores time and sees any other difference", () => {
    const a = operations.transfer("x", agentAccount("a"), agentAccount("b"), 5, 1);
    assert.equal(
      operationFingerprint(a),
      operationFingerprint(operations.transfer("x", agentAccount("a"), agentAccount("b"), 5, 99)),
    );
    assert.notEqual(
      operationFingerprint(a),
      operationFingerprint(operations.transfer("x", agentAccount("a"), agentAccount("b"), 6, 1)),
    );
  });

  test("property: any sequence keeps the sum of accounts equal to what was minted, and no balance negative", () => {
    const agents = ["a", "b", "c"].map(agentAccount);
    const step = fc.oneof(
      fc.record({
        k: fc.constant("mint" as const),
        to: fc.constantFrom(...agents),
        n: fc.integer({ min: 1, max: 1000 }),
      }),
      fc.record({
        k: fc.constant("transfer" as const),
        from: fc.constantFrom(...agents),
        to: fc.constantFrom(...agents),
        n: fc.integer({ min: 1, max: 1500 }),
      }),
      fc.record({
        k: fc.constant("hold" as const),
        from: fc.constantFrom("a", "b", "c"),
        task: fc.constantFrom("t1", "t2"),
        n: fc.integer({ min: 1, max: 500 }),
      }),
      fc.record({
        k: fc.constant("fee" as const),
        from: fc.constantFrom("a", "b", "c"),
        n: fc.integer({ min: 1, max: 50 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const b = new Map<string, number>();
        steps.forEach((s, i) => {
          const id = `op${i}`;
          const operation =
            s.k === "mint"
              ? operations.mint(id, s.to, s.n, i)
              : s.k === "transfer"
                ? operations.transfer(id, s.from, s.to, s.n, i)
                : s.k === "hold"
                  ? operations.hold(id, s.from, s.task, s.n, i)
                  : operations.fee(id, s.from, s.n, i, { kind: "test" });
          const before = new Map(b);
          try {
            applyToBalances(b, operation);
          } catch (error) {
            assert.ok(
              error instanceof InsufficientCreditsError || error instanceof UnknownAccountError,
            );
            assert.deepEqual(b, before, "a refused operation changes nothing");
          }
        });
        const minted = 0 - (b.get(WORLD) ?? 0);
        let sum = 0;
        for (const [account, value] of b) {
          if (account === WORLD) continue;
          assert.ok(value >= 0, `${account} went negative`);
          sum += value;
        }
        assert.equal(sum, minted);
      }),
      { numRuns: 500 },
    );
  });
});

describe("prices", () => {
  const table = createPriceTable({
    version: "2026-11",
    creditsPerUsd: 1_000_000,
    models: { "gpt-4o-mini": { input: 0.15, output: 0.6 }, local: { input: "0", output: "0" } },
  });

  test("decimals convert to micro-units exactly", () => {
    assert.equal(toMicros(0.15, "x"), 150_000n);
    assert.equal(toMicros("2.5", "x"), 2_500_000n);
    assert.equal(toMicros(0.000001, "x"), 1n);
    assert.throws(() => toMicros("0.0000001", "x"));
    assert.throws(() => toMicros(-1, "x"));
  });

  test("token cost is tokens × price in whole credits, rounded up", () => {
    // 1M input tokens of gpt-4o-mini cost $0.15 = 150,000 credits at 1 credit per micro-dollar.
    assert.equal(
      tokenCost(table, "gpt-4o-mini", { inputTokens: 1_000_000, outputTokens: 0 }),
      150_000,
    );
    assert.equal(tokenCost(table, "gpt-4o-mini", { inputTokens: 1000, outputTokens: 500 }), 450);
    assert.equal(
      tokenCost(table, "gpt-4o-mini", { inputTokens: 1, outputTokens: 0 }),
      1,
      "a fraction of a credit is charged",
    );
    assert.equal(tokenCost(table, "local", { inputTokens: 5000, outputTokens: 5000 }), 0);
    assert.throws(
      () => tokenCost(table, "unknown", { inputTokens: 1, outputTokens: 1 }),
      /no price for model/,
    );
  });
});
