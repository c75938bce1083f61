/**
 * The `AuditStore` part of the store conformance suite: appends from every
 * handle get gap-free seqs and a chain that `verifyAuditChain` accepts, a
 * custom hash sees the true previous hash, and bad entries are refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "../../../errors/index.js";
import { auditHash, verifyAuditChain } from "../../../store/audit-chain.js";
import type { AuditLink, AuditStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `AuditStore` (the hash-chained audit log); see the port's contract. */
export function runAuditStoreConformance(options: StorePartOptions<AuditStore & Closable>): void {
  describeStorePart("audit store", options, (fixture) => {
    test("audit appends get gap-free seqs under concurrency, from every handle, chained", async () => {
      const other = await fixture.reopen();
      try {
        const before = (await fixture.store.auditLog()).length;
        const appended = await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            (i % 2 === 0 ? fixture.store : other).appendAudit({ kind: "test.append", data: { i } }),
          ),
        );
        const log = await fixture.store.auditLog();
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
          (await fixture.store.auditLog({ fromSeq: entry.seq, limit: 2 })).map((r) => r.seq),
          [entry.seq, entry.seq + 1],
        );
        const tampered = log.map((r) => (r.seq === entry.seq ? { ...r, data: { i: -1 } } : r));
        assert.equal(verifyAuditChain(tampered), entry.seq);
      } finally {
        await other.close();
      }
    });

    test("an audit entry can carry its own hash function, given the true previous hash", async () => {
      const last = (await fixture.store.auditLog()).at(-1);
      const seen: AuditLink[] = [];
      const record = await fixture.store.appendAudit({
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
      await assert.rejects(fixture.store.appendAudit({ kind: "two\nlines", data: 1 }), StoreError);
      // Postgres cannot store NUL in text: refused on every backend alike.
      await assert.rejects(fixture.store.appendAudit({ kind: "a\u0000b", data: 1 }), StoreError);
    });

    test("data that is not JSON-serialisable is refused with StoreError and appends nothing", async () => {
      const before = await fixture.store.auditLog();
      await assert.rejects(
        fixture.store.appendAudit({ kind: "test.bad", data: { n: 1n } }),
        StoreError,
      );
      assert.deepEqual(await fixture.store.auditLog(), before);
    });

    test("a closed handle refuses every audit call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        appendAudit: (s) => s.appendAudit({ kind: "k", data: 1 }),
        auditLog: (s) => s.auditLog(),
      }));
  });
}
