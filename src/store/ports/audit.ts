/**
 * `AuditStore`: the append-only, hash-chained log that consensus seals its
 * decisions into, and that `conclave audit verify` recomputes offline.
 *
 * Contract (checked by `src/testkit/conformance/store/audit.ts`):
 * - Appends are serialised per database, across handles and processes: `seq`
 *   runs 1, 2, 3, … with no gaps, and each entry's `prevHash` is the hash of
 *   the entry before it.
 * - The entry's hash is computed once, under the append lock, by
 *   `AuditEntry.hash` (default `auditHash`), from the true previous hash.
 * - Nothing updates or deletes an entry.
 * - A `kind` that is empty or holds a line break or a NUL character (which
 *   Postgres cannot store), or data that is not JSON-serialisable, is
 *   refused with `StoreError` and nothing is appended.
 */

/** The fields that link one audit entry to the chain, given to the hash function. */
export interface AuditLink {
  /** The entry's position: 1 for the first entry, then +1 with no gaps. */
  readonly seq: number;
  readonly kind: string;
  /** The entry's data as stored: `JSON.stringify(data)`. */
  readonly data: string;
  /** The previous entry's hash; `null` for the first entry. */
  readonly prevHash: string | null;
}

/** An event to append to the audit chain. */
export interface AuditEntry {
  /** What happened, e.g. `"decision.sealed"`. No line breaks, no NUL characters. */
  readonly kind: string;
  /** JSON-serialisable data (e.g. the decision with its signed votes). */
  readonly data: unknown;
  /**
   * Computes the entry's hash from its link, called once under the append
   * lock so it sees the true previous hash. Defaults to `auditHash` (SHA-256).
   * Consensus passes its seal function here.
   */
  readonly hash?: (link: AuditLink) => string;
}

/** One entry of the audit chain as stored. */
export interface AuditRecord {
  readonly seq: number;
  readonly kind: string;
  readonly data: unknown;
  readonly prevHash: string | null;
  readonly hash: string;
}

/** The store's append-only, hash-chained audit log of decisions, redrives and other privileged acts. */
export interface AuditStore {
  /**
   * Appends one entry to the audit chain and returns it as stored. The store
   * assigns `seq` in append order: appends are serialised (one at a time per
   * database, across handles and processes), so `seq` runs 1, 2, 3, … with
   * no gaps and each entry's `prevHash` is the hash of the entry before it.
   * The chain is append-only: nothing updates or deletes an entry.
   *
   * @example
   * ```ts
   * const entry = await store.appendAudit({ kind: "decision.sealed", data: decision });
   * // entry.seq, entry.prevHash, entry.hash
   * ```
   */
  appendAudit(entry: AuditEntry): Promise<AuditRecord>;
  /** Audit entries in `seq` order, from `fromSeq` (default 1), at most `limit` (default 10,000). */
  auditLog(options?: { fromSeq?: number; limit?: number }): Promise<AuditRecord[]>;
}
