/**
 * The ledger report's spend by role: roles come from the swarm file when it
 * is given (a short run stores few cards, and its fees read "(unknown)"),
 * and a role named like an Object member (`constructor`, `toString`) is
 * summed like any other (it read the prototype's function before).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ledgerReport } from "../../src/cli/ledger.js";
import type { SwarmConfig as SwarmFile } from "../../src/config/schema.js";
import { agentAccount, operations } from "../../src/ledger/index.js";
import { openStore } from "../../src/store/open-store.js";

const work = mkdtempSync(join(tmpdir(), "conclave-spend-roles-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("spend by role follows the swarm file and sums roles named like Object members", async () => {
  const store = await openStore(`sqlite:${join(work, "store.db")}`);
  try {
    for (const id of ["a", "b", "c"]) {
      await store.applyLedgerOperation(operations.mint(`m-${id}`, agentAccount(id), 100, 1));
    }
    const memo = { kind: "llm", model: "m", units: 10, priceVersion: "1" };
    await store.applyLedgerOperation(operations.fee("f-a", "a", 5, 2, memo));
    await store.applyLedgerOperation(operations.fee("f-b", "b", 7, 3, memo));
    await store.applyLedgerOperation(operations.fee("f-c", "c", 11, 4, memo));
    const config = {
      agents: [
        { id: "a", role: "constructor" },
        { id: "b", role: "constructor" },
        { id: "c", role: "toString" },
      ],
    } as unknown as SwarmFile;
    const report = await ledgerReport(store, { config });
    assert.deepEqual(
      Object.fromEntries(Object.entries(report.spend.roles).map(([r, l]) => [r, l.credits])),
      { constructor: 12, toString: 11 },
    );
  } finally {
    await store.close();
  }
});
