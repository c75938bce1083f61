/**
 * `conclave audit verify` on a log that passes every entry's own checks but
 * disagrees with a signed head: the verdict names the first entry that may
 * have been rewritten, and the text must not claim that more entries than
 * those before it verified ("BROKEN at entry 3 … 3 entries before it
 * verified" said the rewritten entry itself was good).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { verifyAudit } from "../../src/cli/audit.js";
import { signHead } from "../../src/consensus/audit-anchor.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { auditHash } from "../../src/store/audit-chain.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

const work = mkdtempSync(join(tmpdir(), "conclave-audit-count-"));
after(() => rmSync(work, { recursive: true, force: true }));

async function captured(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await run(), out };
  } finally {
    process.stdout.write = write;
  }
}

test("a log rewritten after the last head that agrees: the count before the broken entry is right", async () => {
  const path = join(work, "store.db");
  const lead = generateAgentKeyPair();
  const store = openSqliteStore({ path });
  const records = [];
  for (const amount of [100, 200, 300]) {
    records.push(
      await store.appendAudit({ kind: "ledger.funded", data: { agent: "dev", amount } }),
    );
  }
  await store.saveAgentCard({
    id: "lead",
    role: "lead",
    weight: 1,
    publicKey: encodePublicKey(lead.publicKey),
  });
  await store.close();
  const heads = [records[1], records[2]].map((r) =>
    signHead(
      { swarm: "s", seq: r!.seq, headHash: r!.hash, ts: 1_732_000_000_000, signer: "lead" },
      lead.privateKey,
    ),
  );
  const headFile = join(work, "heads.json");
  writeFileSync(headFile, JSON.stringify(heads));

  // Entry 3 rewritten with a consistent hash: only the head that vouched for it can tell.
  const db = new Database(path);
  const data = JSON.stringify({ agent: "dev", amount: 9_000_000 });
  const prevHash = records[1]!.hash;
  db.prepare("update conclave_audit_log set data = ?, hash = ? where seq = 3").run(
    data,
    auditHash({ seq: 3, kind: "ledger.funded", data, prevHash }),
  );
  db.close();

  const { code, out } = await captured(() =>
    verifyAudit({ store: `sqlite:${path}` }, { json: false, heads: [headFile] }),
  );
  assert.equal(code, 1, out);
  assert.match(out, /BROKEN at entry 3\b/);
  assert.match(out, /\b2 entries before it verified/, out);
});
