/**
 * Property: random sequences of mint, transfer, hold, release, refund and
 * fee, with retries of earlier operation ids (the same operation, or a
 * different one under a used id), applied to a store and to the reference
 * model (`applyToBalances` plus a record of applied ids) side by side. Each
 * operation gets the same outcome from both; afterwards the balances are
 * equal, the ledger checks (sum = minted, no negative balance, balances
 * match entries, every operation balanced) and each id was applied at most
 * once (rows counted). Sequences run one call at a time or in bursts of
 * concurrent calls (which the store group-commits, deciding in call order).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { ConclaveError } from "../../src/errors/index.js";
import {
  agentAccount,
  applyToBalances,
  escrowAccount,
  FEES,
  InsufficientCreditsError,
  type LedgerOperation,
  LedgerOverflowError,
  OperationConflictError,
  operationFingerprint,
  operations,
  TREASURY,
  UnknownAccountError,
} from "../../src/ledger/index.js";
import type { Store } from "../../src/store/port.js";
import {
  type LedgerBackend,
  type LedgerDatabase,
  postgresBackend,
  sqliteBackend,
  sqliteKyselyBackend,
  testOptions,
} from "./ledger-backends.js";

type Step =
  | { k: "mint"; to: string; n: number }
  | { k: "transfer"; from: string; to: string; n: number }
  | { k: "hold"; agent: string; task: string; n: number }
  | { k: "release" | "refund"; task: string; agent: string; n: number }
  | { k: "fee"; agent: string; n: number; model: string }
  | { k: "retry"; pick: number }
  | { k: "reuse"; pick: number; n: number };

const agentName = fc.constantFrom("a", "b", "c", "d");
const taskName = fc.constantFrom("t1", "t2");
const amount = fc.integer({ min: 1, max: 400 });
/** Account placeholders, namespaced per run when the operation is built. */
const anyAccount = fc.oneof(
  agentName.map((a) => `agent:${a}`),
  taskName.map((t) => `escrow:${t}`),
  fc.constantFrom(TREASURY, FEES),
);
const funding: fc.Arbitrary<Step> = fc.record({
  k: fc.constant("mint" as const),
  to: agentName.map((a) => `agent:${a}`),
  n: fc.integer({ min: 100, max: 1000 }),
});
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant("mint" as const), to: anyAccount, n: amount }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("transfer" as const),
      from: anyAccount,
      to: anyAccount,
      n: amount,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("hold" as const),
      agent: agentName,
      task: taskName,
      n: amount,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constantFrom("release" as const, "refund" as const),
      task: taskName,
      agent: agentName,
      n: amount,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("fee" as const),
      agent: agentName,
      n: fc.integer({ min: 1, max: 60 }),
      model: fc.constantFrom("small", "large"),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("retry" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("reuse" as const), pick: fc.nat(), n: amount }),
  },
);

/** The reference model: balances by `applyToBalances`, ids by fingerprint. */
class Model {
  readonly balances: Map<string, number>;
  readonly applied = new Map<string, string>();

  constructor(initial: readonly { account: string; balance: number }[]) {
    this.balances = new Map(initial.map((b) => [b.account, b.balance]));
  }

  apply(operation: LedgerOperation): string {
    const fingerprint = operationFingerprint(operation);
    const stored = this.applied.get(operation.id);
    if (stored !== undefined) {
      return describeOutcome(
        stored === fingerprint ? { applied: false } : new OperationConflictError(operation.id),
      );
    }
    try {
      applyToBalances(this.balances, operation);
    } catch (error) {
      return describeOutcome(error);
    }
    this.applied.set(operation.id, fingerprint);
    return describeOutcome({ applied: true });
  }
}

/** An outcome as comparable text, with the fields each refusal carries. */
function describeOutcome(outcome: unknown): string {
  if (outcome instanceof InsufficientCreditsError)
    return `insufficient ${outcome.account} has ${outcome.balance} needs ${outcome.needed}`;
  if (outcome instanceof UnknownAccountError) return `unknown ${outcome.account}`;
  if (outcome instanceof LedgerOverflowError) return `overflow ${outcome.account}`;
  if (outcome instanceof OperationConflictError) return `conflict ${outcome.operationId}`;
  if (outcome instanceof ConclaveError) return `${outcome.name}: ${outcome.message}`;
  if (outcome instanceof Error) throw outcome;
  return (outcome as { applied: boolean }).applied ? "applied" : "replayed";
}

function build(steps: readonly Step[], run: string): LedgerOperation[] {
  const ns = (account: string) =>
    account.startsWith("agent:") || account.startsWith("escrow:")
      ? account.replace(":", `:${run}-`)
      : account;
  const agent = (a: string) => `${run}-${a}`;
  const task = (t: string) => `${run}-${t}`;
  const built: LedgerOperation[] = [];
  steps.forEach((s, i) => {
    const id = `${run}-op${i}`;
    const at = 1000 + i;
    let operation: LedgerOperation;
    switch (s.k) {
      case "mint":
        operation = operations.mint(id, ns(s.to), s.n, at);
        break;
      case "transfer":
        operation = operations.transfer(id, ns(s.from), ns(s.to), s.n, at, { note: "p" });
        break;
      case "hold":
        operation = operations.hold(id, agent(s.agent), task(s.task), s.n, at);
        break;
      case "release":
        operation = operations.release(id, task(s.task), agent(s.agent), s.n, at);
        break;
      case "refund":
        operation = operations.refund(id, task(s.task), agent(s.agent), s.n, at);
        break;
      case "fee":
        operation = operations.fee(id, agent(s.agent), s.n, at, {
          kind: "llm",
          model: s.model,
          units: s.n * 100,
          priceVersion: "v1",
        });
        break;
      case "retry": {
        const earlier = built[s.pick % Math.max(1, built.length)];
        // The same operation again, later: the time is not part of its identity.
        operation = earlier
          ? { ...earlier, at }
          : operations.mint(id, agentAccount(agent("a")), 1, at);
        break;
      }
      case "reuse": {
        const earlier = built[s.pick % Math.max(1, built.length)];
        operation = operations.mint(earlier?.id ?? id, agentAccount(agent("b")), s.n, at);
        break;
      }
    }
    built.push(operation);
  });
  return built;
}

function ledgerProperty(backend: LedgerBackend, numRuns: number): void {
  describe(`${backend.name}: ledger property`, testOptions(backend), () => {
    let database: LedgerDatabase;
    let store: Store;
    before(async () => {
      if (backend.fail) throw new Error(backend.fail);
      database = await backend.create();
      store = await database.open();
    });
    after(async () => {
      await store?.close();
      await database?.destroy();
    });

    test("store and reference model agree on every outcome; invariants hold; each id applied at most once", async () => {
      await fc.assert(
        fc.asyncProperty(
          // A few mints first, so that most later operations have credits to move.
          fc.array(funding, { minLength: 1, maxLength: 4 }),
          fc.array(step, { minLength: 1, maxLength: 50, size: "max" }),
          fc.integer({ min: 1, max: 8 }),
          async (mints, steps, burst) => {
            const run = randomBytes(4).toString("hex");
            const built = build([...mints, ...steps], run);
            const model = new Model(await store.balances());
            const before = await store.ledgerCheck();

            const expected = built.map((o) => model.apply(o));
            const actual: string[] = [];
            // Bursts of `burst` calls in one turn: group-committed, decided in call order.
            for (let i = 0; i < built.length; i += burst) {
              const settled = await Promise.allSettled(
                built.slice(i, i + burst).map((o) => store.applyLedgerOperation(o)),
              );
              for (const r of settled) {
                actual.push(describeOutcome(r.status === "fulfilled" ? r.value : r.reason));
              }
            }
            assert.deepEqual(actual, expected, "same outcome for every operation");

            const balances = await store.balances();
            assert.deepEqual(
              balances,
              [...model.balances]
                .map(([account, balance]) => ({ account, balance }))
                .sort((a, b) => (a.account < b.account ? -1 : 1)),
              "same balances",
            );
            const check = await store.ledgerCheck();
            assert.equal(check.sum, check.minted, "sum of accounts = minted");
            assert.deepEqual(check.negative, [], "no negative balance");
            assert.deepEqual(check.mismatched, [], "balances match the entries");
            assert.deepEqual(check.unbalanced, [], "every operation balanced");
            const appliedIds = actual.flatMap((o, i) => (o === "applied" ? [built[i]?.id] : []));
            assert.equal(new Set(appliedIds).size, appliedIds.length, "no id applied twice");
            assert.equal(
              check.operations - before.operations,
              model.applied.size,
              "one operation row per applied id",
            );
          },
        ),
        { numRuns },
      );
    });

    test("the escrow accounts of a run start absent: a release before any hold is unknown", async () => {
      const run = randomBytes(4).toString("hex");
      await assert.rejects(
        store.applyLedgerOperation(operations.release(`${run}-r`, `${run}-t`, `${run}-w`, 1, 1)),
        (error: unknown) =>
          error instanceof UnknownAccountError && error.account === escrowAccount(`${run}-t`),
      );
    });
  });
}

ledgerProperty(sqliteBackend, 150);
ledgerProperty(sqliteKyselyBackend, 60);
ledgerProperty(postgresBackend, 60);
