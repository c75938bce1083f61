/**
 * An approval header naming no decision costs a read of the log's new
 * entries, not of the whole log. `DecisionLog.find` read the audit log from
 * its first entry on every miss, even when no decision had ever left its
 * cache (so the miss was already certain): every privileged task carrying a
 * made-up seal, from any agent allowed to send one, made its receiver read
 * the whole audit log again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import type { AuditHeads } from "../../src/runtime/consensus/audit-heads.js";
import type { ConsensusContext } from "../../src/runtime/consensus/context.js";
import { DecisionLog } from "../../src/runtime/consensus/sealing.js";
import type { Store } from "../../src/store/port.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

test("a seal that is in no decision is looked up without reading the whole log, unless decisions left the cache", async () => {
  const store = openSqliteStore({ path: ":memory:" });
  try {
    for (let i = 0; i < 3; i++) {
      await store.appendAudit({
        kind: DECISION_KIND,
        data: { proposal: { id: `p${i}` }, seal: `seal-${i}`, outcome: "approved" },
        // As the engine appends a decision: the entry's hash is its seal.
        hash: () => `seal-${i}`,
      });
    }
    const fromStart: number[] = [];
    const counting = new Proxy(store, {
      get(target, name, receiver) {
        if (name === "auditLog") {
          return (options: Parameters<Store["auditLog"]>[0]) => {
            if ((options?.fromSeq ?? 1) <= 1) fromStart.push(1);
            return target.auditLog(options);
          };
        }
        const value = Reflect.get(target, name, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const log = new DecisionLog(
      { store: counting } as unknown as ConsensusContext,
      {} as AuditHeads,
    );
    assert.equal((await log.find("seal-1"))?.proposal.id, "p1");
    const reads = fromStart.length; // the first scan, from seq 1
    for (let i = 0; i < 5; i++) assert.equal(await log.find(`forged-${i}`), undefined);
    assert.equal(fromStart.length, reads, "no read of the whole log for a made-up seal");

    // With a cache too small for the log, an old decision is still found by its seal.
    const small = new DecisionLog({ store } as unknown as ConsensusContext, {} as AuditHeads, 2);
    assert.equal((await small.find("seal-2"))?.proposal.id, "p2");
    assert.equal((await small.find("seal-0"))?.proposal.id, "p0");
    assert.equal(await small.find("forged"), undefined);
  } finally {
    await store.close();
  }
});
