/**
 * The one conformance suite every `Store` adapter passes; an adapter's test
 * file is a single call to `runStoreConformance`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClosedError, StoreError } from "../../src/errors/index.js";
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
} from "../../src/ledger/index.js";
import { auditHash, verifyAuditChain } from "../../src/store/audit-chain.js";
import type { AccountBalance, AuditLink, LedgerCheck, Store } from "../../src/store/port.js";

export interface StoreConformanceOptions {
  readonly name: string;
  /**
   * A fresh, empty store; `reopen` gives another handle on the same data (a
   * separate connection or pool, as a second process would have).
   */
  readonly create: () => Promise<{
    store: Store;
    reopen(): Promise<Store>;
    destroy(): Promise<void>;
    /**
     * Records a migration this build does not know, as a newer conclave
     * would, and returns a function that removes it again. Without it the
     * newer-schema scenario is skipped.
     */
    simulateNewerSchema?(): Promise<() => Promise<void>>;
  }>;
  /** When set, the whole suite is skipped with this reason (e.g. no server to test against). */
  readonly skip?: string;
}

const id = () => randomBytes(8).toString("hex");
const bytes = (s: string) => new TextEncoder().encode(s);

export function runStoreConformance(options: StoreConformanceOptions): void {
  describe(`${options.name}: store conformance`, { skip: options.skip ?? false }, () => {
    let store: Store;
    let reopen: () => Promise<Store>;
    let destroy: () => Promise<void>;
    let simulateNewerSchema: (() => Promise<() => Promise<void>>) | undefined;

    before(async () => {
      const created = await options.create();
      ({ store, reopen, destroy } = created);
      simulateNewerSchema = created.simulateNewerSchema?.bind(created);
    });
    after(async () => {
      await store.close();
      await destroy();
    });

    test("completeTask is atomic and idempotent by task id", async () => {
      const taskId = id();
      const completion = {
        taskId,
        agent: "dev-1",
        at: 1,
        effects: [{ kind: "k", key: "root-1", data: { n: 1 } }],
        outbox: [
          { id: `${taskId}-o`, mode: "enqueue" as const, subject: "s.task.a.b", data: bytes("x") },
        ],
      };
      assert.deepEqual(await store.completeTask(completion), { duplicate: false });
      assert.deepEqual(await store.completeTask(completion), { duplicate: true });
      assert.equal(await store.isCompleted(taskId), true);
      assert.equal(await store.isCompleted(id()), false);
      const effects = (await store.effects("k")).filter((e) => e.taskId === taskId);
      assert.equal(effects.length, 1, "the duplicate completion wrote no second effect");
      assert.deepEqual(effects[0]?.data, { n: 1 });
      const outbox = await store.pendingOutbox({ taskId });
      assert.equal(outbox.length, 1);
      assert.equal(new TextDecoder().decode(outbox[0]?.data), "x");
    });

    test("concurrent completions of the same task: exactly one wins", async () => {
      const taskId = id();
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.completeTask({
            taskId,
            agent: "a",
            at: 2,
            effects: [{ kind: "race", key: taskId }],
            outbox: [],
          }),
        ),
      );
      assert.equal(results.filter((r) => !r.duplicate).length, 1);
      const stats = await store.effectStats("race");
      assert.equal(stats.duplicateKeys, 0);
    });

    test("effectStats counts keys with an effect applied twice", async () => {
      const key = id();
      for (const taskId of [id(), id()]) {
        await store.completeTask({
          taskId,
          agent: "a",
          at: 3,
          effects: [{ kind: "twice", key }],
          outbox: [],
        });
      }
      const stats = await store.effectStats("twice");
      assert.equal(stats.keys, 1);
      assert.equal(stats.duplicateKeys, 1);
      const all = await store.allEffectStats();
      assert.deepEqual(
        all.find((s) => s.kind === "twice"),
        { kind: "twice", keys: 1, duplicateKeys: 1 },
      );
    });

    test("outbox entries stay until deleted, oldest first", async () => {
      const taskId = id();
      const outbox = ["a", "b", "c"].map((n) => ({
        id: `${taskId}-${n}`,
        mode: "publish" as const,
        subject: `s.event.${n}`,
        data: bytes(n),
      }));
      await store.completeTask({ taskId, agent: "a", at: 4, effects: [], outbox });
      const pending = await store.pendingOutbox({ taskId });
      assert.deepEqual(
        pending.map((p) => p.subject),
        ["s.event.a", "s.event.b", "s.event.c"],
      );
      await store.deleteOutbox([`${taskId}-a`, `${taskId}-b`]);
      assert.deepEqual(
        (await store.pendingOutbox({ taskId })).map((p) => p.id),
        [`${taskId}-c`],
      );
    });

    test("dead letters are recorded once and listed with their root", async () => {
      const dl = {
        id: id(),
        subject: "s.dlq.dev",
        reason: "boom",
        deliveries: 3,
        at: 5,
        corr: "root-x",
        type: "task.code",
        data: "eyJ9",
      };
      await store.recordDeadLetter(dl);
      await store.recordDeadLetter(dl);
      const all = (await store.deadLetters()).filter((d) => d.id === dl.id);
      assert.deepEqual(all, [dl]);
      assert.ok((await store.deadLetteredRoots()).includes("root-x"));
    });

    test("meta values round-trip and survive a reopen", async () => {
      await store.setMeta("run", "r1");
      await store.setMeta("run", "r2");
      assert.equal(await store.getMeta("run"), "r2");
      assert.equal(await store.getMeta("missing"), undefined);
      const taskId = id();
      await store.completeTask({ taskId, agent: "a", at: 6, effects: [], outbox: [] });
      await store.close();
      store = await reopen();
      assert.equal(await store.getMeta("run"), "r2");
      assert.equal(await store.isCompleted(taskId), true);
    });

    test("a closed store refuses calls with ClosedError; close is idempotent", async () => {
      const other = await reopen();
      await other.close();
      await other.close();
      await assert.rejects(other.isCompleted("x"), ClosedError);
      await assert.rejects(
        other.completeTask({ taskId: "x", agent: "a", at: 0, effects: [], outbox: [] }),
        ClosedError,
      );
      await assert.rejects(other.pendingOutbox(), ClosedError);
      await assert.rejects(other.appendAudit({ kind: "k", data: 1 }), ClosedError);
      await assert.rejects(other.auditLog(), ClosedError);
      await assert.rejects(other.saveAgentCard({ id: "a" }), ClosedError);
      await assert.rejects(other.agentCards(), ClosedError);
      await assert.rejects(other.claimIdempotencyKey("k"), ClosedError);
      await assert.rejects(other.schemaStatus(), ClosedError);
    });

    test("close commits the completions already requested", async () => {
      const other = await reopen();
      const taskIds = [id(), id(), id()];
      const done = taskIds.map((taskId) =>
        other.completeTask({ taskId, agent: "a", at: 7, effects: [], outbox: [] }),
      );
      await other.close();
      assert.deepEqual(
        await Promise.all(done),
        taskIds.map(() => ({ duplicate: false })),
      );
      for (const taskId of taskIds) assert.equal(await store.isCompleted(taskId), true);
    });

    test("a completion that cannot be stored fails alone, not its batch", async () => {
      const good = id();
      const bad = id();
      const results = await Promise.allSettled([
        store.completeTask({ taskId: good, agent: "a", at: 8, effects: [], outbox: [] }),
        store.completeTask({
          taskId: bad,
          agent: "a",
          at: 8,
          effects: [{ kind: "bad", key: bad, data: { n: 1n } }],
          outbox: [],
        }),
      ]);
      assert.deepEqual(results[0], { status: "fulfilled", value: { duplicate: false } });
      assert.equal(results[1]?.status, "rejected");
      assert.ok(results[1]?.status === "rejected" && results[1].reason instanceof StoreError);
      assert.equal(await store.isCompleted(bad), false);
    });

    test("two separate handles completing the same tasks concurrently apply each exactly once", async () => {
      const other = await reopen();
      try {
        const kind = `handles-${id()}`;
        const taskIds = Array.from({ length: 200 }, () => id());
        const complete = (s: Store, taskId: string) =>
          s.completeTask({
            taskId,
            agent: s === store ? "first" : "second",
            at: 9,
            effects: [{ kind, key: taskId }],
            outbox: [
              { id: `${taskId}-o`, mode: "publish", subject: "s.event.x", data: bytes(taskId) },
            ],
          });
        // Opposite orders, several turns, so batches of both handles overlap.
        const calls: Promise<{ duplicate: boolean }>[][] = taskIds.map(() => []);
        for (let round = 0; round < 4; round++) {
          const slice = taskIds.slice(round * 50, round * 50 + 50);
          for (const [i, taskId] of slice.entries()) {
            calls[round * 50 + i]?.push(complete(store, taskId));
            const j = slice.length - 1 - i;
            calls[round * 50 + j]?.push(complete(other, slice[j] as string));
          }
          await new Promise((r) => setImmediate(r));
        }
        const results = await Promise.all(calls.map((c) => Promise.all(c)));
        for (const [i, pair] of results.entries()) {
          assert.equal(
            pair.filter((r) => !r.duplicate).length,
            1,
            `task ${taskIds[i]} applied exactly once`,
          );
        }
        assert.deepEqual(await store.effectStats(kind), {
          kind,
          keys: taskIds.length,
          duplicateKeys: 0,
        });
        assert.equal((await other.effects(kind)).length, taskIds.length);
        for (const taskId of taskIds.slice(0, 10)) {
          assert.equal((await store.pendingOutbox({ taskId })).length, 1);
        }
      } finally {
        await other.close();
      }
    });

    test("audit appends get gap-free seqs under concurrency, from every handle, chained", async () => {
      const other = await reopen();
      try {
        const before = (await store.auditLog()).length;
        const appended = await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            (i % 2 === 0 ? store : other).appendAudit({ kind: "test.append", data: { i } }),
          ),
        );
        const log = await store.auditLog();
        assert.equal(log.length, before + 60);
        assert.deepEqual(
          log.map((r) => r.seq),
          Array.from({ length: log.length }, (_, i) => i + 1),
        );
        assert.deepEqual(
          appended.map((r) => r.seq).sort((a, b) => a - b),
          log.slice(before).map((r) => r.seq),
        );
        assert.equal(verifyAuditChain(log), undefined, "every link and hash checks");
        const entry = log[before + 3];
        assert.ok(entry);
        assert.equal(entry.prevHash, log[before + 2]?.hash);
        assert.deepEqual(
          (await store.auditLog({ fromSeq: entry.seq, limit: 2 })).map((r) => r.seq),
          [entry.seq, entry.seq + 1],
        );
        const tampered = log.map((r) => (r.seq === entry.seq ? { ...r, data: { i: -1 } } : r));
        assert.equal(verifyAuditChain(tampered), entry.seq);
      } finally {
        await other.close();
      }
    });

    test("an audit entry can carry its own hash function, given the true previous hash", async () => {
      const last = (await store.auditLog()).at(-1);
      const seen: AuditLink[] = [];
      const record = await store.appendAudit({
        kind: "decision.sealed",
        data: { proposal: "p1", votes: 3 },
        hash: (link) => {
          seen.push(link);
          return `seal:${auditHash(link)}`;
        },
      });
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0], {
        seq: (last?.seq ?? 0) + 1,
        kind: "decision.sealed",
        data: JSON.stringify({ proposal: "p1", votes: 3 }),
        prevHash: last?.hash ?? null,
      });
      assert.equal(record.hash, `seal:${auditHash(seen[0] as AuditLink)}`);
      assert.deepEqual(record.data, { proposal: "p1", votes: 3 });
      await assert.rejects(store.appendAudit({ kind: "two\nlines", data: 1 }), StoreError);
    });

    test("registry cards upsert by id; an older save never replaces a newer one", async () => {
      const agent = `agent-${id()}`;
      assert.deepEqual(
        await store.saveAgentCard({ id: agent, role: "dev", n: 1 }, { updatedAt: 10 }),
        { saved: true },
      );
      assert.deepEqual(
        await store.saveAgentCard({ id: agent, role: "dev", n: 2 }, { updatedAt: 20 }),
        { saved: true },
      );
      assert.deepEqual(
        await store.saveAgentCard({ id: agent, role: "dev", n: 0 }, { updatedAt: 15 }),
        { saved: false },
      );
      const other = await reopen();
      try {
        const cards = (await other.agentCards()).filter((c) => c.id === agent);
        assert.deepEqual(cards, [
          { id: agent, card: { id: agent, role: "dev", n: 2 }, updatedAt: 20 },
        ]);
      } finally {
        await other.close();
      }
      await store.removeAgentCard(agent);
      await store.removeAgentCard(agent);
      assert.equal((await store.agentCards()).filter((c) => c.id === agent).length, 0);
      await assert.rejects(store.saveAgentCard({ id: "" }), StoreError);
    });

    test("an idempotency key is claimed once under concurrency, from every handle", async () => {
      const other = await reopen();
      try {
        const key = `msg-${id()}`;
        const claims = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 === 0 ? store : other).claimIdempotencyKey(key, { by: i }, { at: 100 }),
          ),
        );
        const firsts = claims.flatMap((c, i) => (c.first ? [i] : []));
        assert.equal(firsts.length, 1, "exactly one claim is first");
        const winner = firsts[0] as number;
        for (const [i, claim] of claims.entries()) {
          if (i !== winner) assert.deepEqual(claim, { first: false, result: { by: winner } });
        }
        const bare = `msg-${id()}`;
        assert.deepEqual(await store.claimIdempotencyKey(bare, undefined, { at: 50 }), {
          first: true,
        });
        assert.deepEqual(await other.claimIdempotencyKey(bare), { first: false });
        assert.equal(await store.pruneIdempotencyKeys(60), 1);
        assert.deepEqual(await store.claimIdempotencyKey(bare), { first: true });
      } finally {
        await other.close();
      }
    });

    test("a prefixed prune forgets only old keys with exactly that prefix", async () => {
      // `_` and `%` in the prefix must match only themselves: with LIKE they
      // would be wildcards and take the look-alike keys below with them.
      const run = id();
      const prefix = `p_${run}%:`;
      const keys = {
        oldOwn: `${prefix}old`,
        oldOwnBare: prefix,
        youngOwn: `${prefix}young`,
        oldUnderscoreTwin: `pX${run}%:old`,
        oldPercentTwin: `p_${run}xyz:old`,
        oldShorter: `p_${run}%`,
        oldOther: `consensus.propose:${run}`,
        oldAstral: `\u{1F600}${prefix}old`,
      };
      const at = (key: string) => (key === keys.youngOwn ? 2_000 : 1_000);
      for (const key of Object.values(keys)) {
        assert.deepEqual(await store.claimIdempotencyKey(key, { key }, { at: at(key) }), {
          first: true,
        });
      }
      const other = await reopen();
      try {
        assert.equal(
          await other.pruneIdempotencyKeys(1_500, { prefix }),
          2,
          "the two old own keys",
        );
        assert.equal(
          await store.pruneIdempotencyKeys(1_500, { prefix }),
          0,
          "nothing left to prune",
        );
        // An astral character is one character to the database, two UTF-16 units to JS.
        assert.equal(await store.pruneIdempotencyKeys(1_500, { prefix: `\u{1F600}${prefix}` }), 1);
      } finally {
        await other.close();
      }
      const forgotten = [keys.oldOwn, keys.oldOwnBare, keys.oldAstral];
      for (const [name, key] of Object.entries(keys)) {
        const claim = await store.claimIdempotencyKey(key, "again", { at: 3_000 });
        if (forgotten.includes(key)) {
          assert.deepEqual(claim, { first: true }, `${name} was pruned`);
        } else {
          assert.deepEqual(claim, { first: false, result: { key } }, `${name} was kept`);
        }
      }
      // Clean up without the unprefixed prune, which would touch other tests' keys.
      for (const p of [`p_${run}`, `pX${run}`, `consensus.propose:${run}`, `\u{1F600}p_${run}`]) {
        await store.pruneIdempotencyKeys(Number.MAX_SAFE_INTEGER, { prefix: p });
      }
    });

    // ---- markets -----------------------------------------------------------

    test("auctions are saved once by id, listed, and counted", async () => {
      const before = await store.auctionStats();
      const awarded = {
        id: `auction-${id()}`,
        auctioneer: "lead",
        task: "review",
        rule: "vickrey",
        status: "awarded" as const,
        winner: "dev-1",
        price: 120,
        bids: 3,
        rejectedBids: 2,
        record: { bids: [{ bidder: "dev-1", price: 100 }], rejected: ["forged", "late"] },
        at: 1000,
      };
      const unsold = {
        id: `auction-${id()}`,
        auctioneer: "lead",
        task: "review",
        rule: "first-price",
        status: "unsold" as const,
        bids: 0,
        rejectedBids: 1,
        record: { reason: "no bid within the reserve" },
        at: 2000,
      };
      assert.deepEqual(await store.saveAuction(awarded), { saved: true, stored: awarded });
      assert.deepEqual(await store.saveAuction(unsold), { saved: true, stored: unsold });
      const other = await reopen();
      try {
        // A retried auctioneer saving a different outcome under the same id gets the first back.
        const again = await other.saveAuction({ ...awarded, winner: "dev-2", price: 1 });
        assert.deepEqual(again, { saved: false, stored: awarded });
        assert.deepEqual(await other.getAuction(unsold.id), unsold);
      } finally {
        await other.close();
      }
      assert.equal(await store.getAuction(`auction-${id()}`), undefined);
      const listed = (await store.auctions()).filter(
        (a) => a.id === awarded.id || a.id === unsold.id,
      );
      assert.deepEqual(listed, [awarded, unsold]);
      const after = await store.auctionStats();
      assert.deepEqual(
        {
          held: after.held - before.held,
          awarded: after.awarded - before.awarded,
          unsold: after.unsold - before.unsold,
          rejectedBids: after.rejectedBids - before.rejectedBids,
        },
        { held: 2, awarded: 1, unsold: 1, rejectedBids: 3 },
      );
      await assert.rejects(
        store.saveAuction({ ...unsold, id: `auction-${id()}`, record: { n: 1n } }),
        StoreError,
      );
    });

    test("reputation updates are atomic across handles; out-of-range scores are refused", async () => {
      const agent = `agent-${id()}`;
      assert.deepEqual(await store.reputations([agent]), []);
      const seen: (number | undefined)[] = [];
      const first = await store.updateReputation(
        agent,
        (previous) => {
          seen.push(previous);
          return 0.5;
        },
        { at: 10 },
      );
      assert.deepEqual(first, { agent, score: 0.5, observations: 1, updatedAt: 10 });
      assert.deepEqual(seen, [undefined], "an agent never observed has no previous score");
      const other = await reopen();
      try {
        // 40 concurrent increments of 0.01 from two handles: none is lost.
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 === 0 ? store : other).updateReputation(agent, (p) => (p ?? 0) + 0.01, {
              at: 20,
            }),
          ),
        );
      } finally {
        await other.close();
      }
      const [stored] = await store.reputations([agent]);
      assert.equal(stored?.observations, 41);
      assert.ok(Math.abs((stored?.score ?? 0) - 0.9) < 1e-9, `score ${stored?.score}`);
      await assert.rejects(
        store.updateReputation(agent, () => 1.5),
        StoreError,
      );
      await assert.rejects(
        store.updateReputation(agent, () => Number.NaN),
        StoreError,
      );
      const [unchanged] = await store.reputations([agent]);
      assert.equal(unchanged?.observations, 41, "a refused update writes nothing");
      assert.ok((await store.reputations()).some((r) => r.agent === agent));
    });

    // ---- ledger ------------------------------------------------------------

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
      assert.deepEqual(await store.balances(), before.balances, `${what}: balances unchanged`);
      const check = await store.ledgerCheck();
      assert.equal(check.operations, before.check.operations, `${what}: no operation row`);
      assert.equal(check.entries, before.check.entries, `${what}: no entry row`);
    }
    const snapshot = async () => ({
      balances: await store.balances(),
      check: await store.ledgerCheck(),
    });

    test("ledger: an operation applies once; replays (any handle, any time) apply nothing", async () => {
      const [lead, dev] = agents("lead", "dev") as [string, string];
      const mint = operations.mint(`mint-${id()}`, lead, 1000, at);
      assert.deepEqual(await store.applyLedgerOperation(mint), { applied: true });
      assert.deepEqual(await store.applyLedgerOperation(mint), { applied: false });
      const transfer = operations.transfer(`tr-${id()}`, lead, dev, 250, at + 1);
      const other = await reopen();
      try {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? store : other).applyLedgerOperation(
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
      assert.equal(await store.balance(lead), 750);
      assert.equal(await store.balance(dev), 250);
      const entries = await store.ledgerEntries({ account: dev });
      assert.deepEqual(
        entries.map((e) => [e.operationId, e.seq, e.kind, e.account, e.delta, e.at]),
        [[transfer.id, 1, "transfer", dev, 250, entries[0]?.at]],
      );
    });

    test("ledger: an id reused for a different operation is refused with OperationConflictError", async () => {
      const [a, b] = agents("a", "b") as [string, string];
      const opId = `op-${id()}`;
      await store.applyLedgerOperation(operations.mint(opId, a, 100, at));
      const before = await snapshot();
      for (const reused of [
        operations.mint(opId, a, 101, at),
        operations.mint(opId, b, 100, at),
        operations.transfer(opId, a, b, 100, at),
      ]) {
        await assert.rejects(
          store.applyLedgerOperation(reused),
          (error: unknown) => error instanceof OperationConflictError && error.operationId === opId,
        );
      }
      await unchanged(before, "a conflicting reuse");
      assert.equal(await store.balance(a), 100);
    });

    test("ledger: an overdraft fails closed with InsufficientCreditsError and writes nothing", async () => {
      const [a, b] = agents("a", "b") as [string, string];
      await store.applyLedgerOperation(operations.mint(`m-${id()}`, a, 100, at));
      const before = await snapshot();
      const overdraft = operations.transfer(`od-${id()}`, a, b, 101, at);
      await assert.rejects(
        store.applyLedgerOperation(overdraft),
        (error: unknown) =>
          error instanceof InsufficientCreditsError &&
          error.account === a &&
          error.balance === 100 &&
          error.needed === 101,
      );
      // Also inside a batch with operations that do apply.
      const results = await Promise.allSettled([
        store.applyLedgerOperation(operations.transfer(`ok-${id()}`, a, b, 60, at)),
        store.applyLedgerOperation(operations.transfer(`no-${id()}`, a, b, 60, at)),
        store.applyLedgerOperation(
          operations.hold(`h-${id()}`, a.slice(6), `task-${id()}`, 41, at),
        ),
        store.applyLedgerOperation(operations.transfer(`ok-${id()}`, b, a, 10, at)),
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
      assert.equal(await store.balance(a), 50);
      assert.equal(await store.balance(b), 50);
      // A refused id stays unused: once funded, the same operation applies.
      await assert.rejects(store.applyLedgerOperation(overdraft), InsufficientCreditsError);
      await store.applyLedgerOperation(operations.mint(`m-${id()}`, a, 51, at));
      assert.deepEqual(await store.applyLedgerOperation(overdraft), { applied: true });
      assert.equal(before.check.operations + 4, (await store.ledgerCheck()).operations);
    });

    test("ledger: debiting an account that never existed is refused with UnknownAccountError", async () => {
      const [ghost, b] = agents("ghost", "b") as [string, string];
      const before = await snapshot();
      await assert.rejects(
        store.applyLedgerOperation(operations.transfer(`t-${id()}`, ghost, b, 1, at)),
        (error: unknown) => error instanceof UnknownAccountError && error.account === ghost,
      );
      await assert.rejects(
        store.applyLedgerOperation(operations.release(`r-${id()}`, `task-${id()}`, "w", 1, at)),
        UnknownAccountError,
      );
      await unchanged(before, "a debit of an unknown account");
      assert.equal(
        (await store.balances()).some((b) => b.account === ghost),
        false,
        "the refused operation did not create the account",
      );
      // A malformed account id, handed to the store without the builders.
      await assert.rejects(
        store.applyLedgerOperation({
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
      await store.applyLedgerOperation(operations.mint(`m-${id()}`, a, 100, at));
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
          store.applyLedgerOperation(operation),
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
      await store.applyLedgerOperation(operations.mint(`m-${id()}`, source, 10, at));
      const big = Number.MAX_SAFE_INTEGER - 5;
      await assert.rejects(
        store.applyLedgerOperation({
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
      assert.equal(await store.balance(source), 10);
      assert.equal(await store.balance(rich), 0);
    });

    test("ledger: concurrent debits from several handles never overdraw", async () => {
      const [payer, payee] = agents("payer", "payee") as [string, string];
      await store.applyLedgerOperation(operations.mint(`m-${id()}`, payer, 100, at));
      const other = await reopen();
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 30 }, (_, i) =>
            (i % 2 === 0 ? store : other).applyLedgerOperation(
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
      assert.equal(await store.balance(payer), 0);
      assert.equal(await store.balance(payee), 100);
    });

    test("ledger: close applies the operations already requested; a closed store refuses with ClosedError", async () => {
      const [a, b] = agents("a", "b") as [string, string];
      const other = await reopen();
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
      assert.deepEqual([await store.balance(a), await store.balance(b)], [10, 20]);
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
      await store.applyLedgerOperation(operations.mint(`m-${run}`, lead, 1000, at));
      await store.applyLedgerOperation(
        operations.hold(`h1-${run}`, `lead-${run}`, task, 300, at + 1),
      );
      assert.equal(await store.balance(escrowAccount(task)), 300);
      await store.applyLedgerOperation(
        operations.release(`r-${run}`, task, `dev-${run}`, 200, at + 2),
      );
      await store.applyLedgerOperation(
        operations.refund(`f-${run}`, task, `lead-${run}`, 100, at + 3),
      );
      const memo = { kind: "llm", model: "gpt-4o-mini", units: 1500, priceVersion: "2026-11" };
      await store.applyLedgerOperation(
        operations.fee(`fee-${run}`, `dev-${run}`, 45, at + 4, memo),
      );
      assert.deepEqual(
        [
          await store.balance(lead),
          await store.balance(dev),
          await store.balance(escrowAccount(task)),
        ],
        [800, 155, 0],
      );
      const fees = (await store.ledgerOperations({ kind: "fee", since: at + 4 })).filter(
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
      const mine = (await store.ledgerOperations({ since: at })).filter((o) => o.id.endsWith(run));
      assert.deepEqual(
        mine.map((o) => o.kind),
        ["mint", "hold", "release", "refund", "fee"],
      );
      const check = await store.ledgerCheck();
      assert.equal(check.sum, check.minted);
      assert.deepEqual([check.negative, check.mismatched, check.unbalanced], [[], [], []]);
      const total = (await store.balances())
        .filter((b) => b.account !== WORLD)
        .reduce((s, b) => s + b.balance, 0);
      assert.equal(total, check.minted);
      assert.equal(await store.balance(WORLD), -check.minted);
    });

    test("reopening a store at the current schema version changes nothing", async () => {
      const status = await store.schemaStatus();
      assert.ok(status.known.length > 0);
      assert.deepEqual(
        status.applied.map((m) => m.name),
        status.known,
        "a new store is at the latest version",
      );
      const taskId = id();
      await store.completeTask({ taskId, agent: "a", at: 10, effects: [], outbox: [] });
      const other = await reopen();
      try {
        assert.deepEqual(await other.schemaStatus(), status, "no migration ran again");
        assert.equal(await other.isCompleted(taskId), true);
      } finally {
        await other.close();
      }
    });

    test("a store written by a newer conclave is refused with a StoreError saying to upgrade", async (t) => {
      if (!simulateNewerSchema) {
        t.skip("the adapter's test gives no simulateNewerSchema");
        return;
      }
      const undo = await simulateNewerSchema();
      try {
        await assert.rejects(
          reopen(),
          (error: unknown) =>
            error instanceof StoreError &&
            /newer conclave/.test(error.message) &&
            /upgrade/.test(error.message),
        );
      } finally {
        await undo();
      }
      const other = await reopen();
      await other.close();
    });
  });
}
