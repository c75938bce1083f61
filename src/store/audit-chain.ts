/**
 * The default hash of the audit chain, and an offline check of a chain.
 * Consensus may chain its own seals instead (`AuditEntry.hash`); whatever
 * the function, each entry's hash covers its link to the previous entry, so
 * editing, dropping or reordering any entry breaks every hash after it.
 */
import { createHash } from "node:crypto";
import type { AuditLink, AuditRecord } from "./ports/audit.js";

/**
 * SHA-256, hex, over the UTF-8 of `seq`, `kind`, `prevHash` (empty for the
 * first entry) and the data's JSON text, joined by line feeds. `kind` holds
 * no line feed, so the fields cannot run into each other.
 *
 * @example
 * ```ts
 * auditHash({ seq: 1, kind: "decision.sealed", data: '{"ok":true}', prevHash: null });
 * ```
 */
export function auditHash(link: AuditLink): string {
  return createHash("sha256")
    .update(`${link.seq}\n${link.kind}\n${link.prevHash ?? ""}\n${link.data}`)
    .digest("hex");
}

/**
 * Checks a chain read with `store.auditLog()` (from seq 1): gap-free
 * sequence, each `prevHash` equal to the previous hash, each hash
 * recomputed. Returns the first broken entry's seq, or `undefined` when the
 * chain holds. `data` is re-serialised with `JSON.stringify`, which gives
 * back the stored text for data the store itself serialised.
 */
export function verifyAuditChain(
  records: readonly AuditRecord[],
  hash: (link: AuditLink) => string = auditHash,
): number | undefined {
  let prevHash: string | null = null;
  let expected = 1;
  for (const r of records) {
    const link = { seq: r.seq, kind: r.kind, data: JSON.stringify(r.data), prevHash };
    if (r.seq !== expected || r.prevHash !== prevHash || hash(link) !== r.hash) return r.seq;
    prevHash = r.hash;
    expected++;
  }
  return undefined;
}
