/**
 * The decision on a proposal is found by its id after it left the node's
 * in-memory cache (a `propose` retried under its key long after, with more
 * decisions sealed since than the cache holds). Before, only the cache was
 * searched by proposal id: the retry found no decision, waited out the
 * earlier round and started another, sealing a second decision for one key.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import type { AuditHeads } from "../../src/runtime/consensus/audit-heads.js";
import type { ConsensusContext } from "../../src/runtime/consensus/context.js";
import { DecisionLog } from "../../src/runtime/consensus/sealing.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

test("a decision older than the cache is found by its proposal id", async () => {
  const store = openSqliteStore({ path: ":memory:" });
  try {
    for (let i = 0; i < 3; i++) {
      await store.appendAudit({
        kind: DECISION_KIND,
        data: { proposal: { id: `p${i}` }, seal: `seal-${i}`, outcome: "approved" },
      });
    }
    const log = new DecisionLog({ store } as unknown as ConsensusContext, {} as AuditHeads, 2);
    // Reading the log fills the cache, dropping p0 (the oldest) from it.
    assert.equal((await log.findByProposal("p2"))?.seal, "seal-2");
    assert.equal(log.knownDecided("p0"), false, "p0 is no longer in memory");
    assert.equal((await log.findByProposal("p0"))?.seal, "seal-0");
    assert.equal(await log.findByProposal("never"), undefined);
  } finally {
    await store.close();
  }
});
