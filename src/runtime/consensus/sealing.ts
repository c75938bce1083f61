/**
 * Sealing decisions into the audit log, and finding them there again. Each
 * decision is appended as one audit entry whose hash is its seal, chained on
 * the log's head (see `audit-log.ts`); this node keeps the head and the
 * recent decisions in memory, learning what other nodes appended by reading
 * the log's new entries. Each seal is signed by the agent that appends it,
 * and every append is handed to the signed-head publisher (`audit-heads.ts`).
 */

import { DECISION_KIND } from "../../consensus/audit-verify.js";
import { type Decision, type DecisionParts, sealDecision } from "../../consensus/seal.js";
import { ConclaveError } from "../../errors/index.js";
import type { AuditRecord } from "../../store/port.js";
import { type AuditHeads, signedSeal } from "./audit-heads.js";
import { HEAD_META_KEY, readAuditLog } from "./audit-log.js";
import type { ConsensusContext } from "./context.js";
import type { LocalVoter } from "./types.js";

/** Decisions kept in memory for approval checks; older ones are found by scanning the log. */
const DECISION_CACHE = 10_000;

/** The decisions in the audit log as this node knows them: it seals new ones on the head and finds old ones. */
export class DecisionLog {
  readonly #node: ConsensusContext;
  readonly #heads: AuditHeads;
  readonly #bySeal = new Map<string, Decision>();
  readonly #sealByProposal = new Map<string, string>();
  #scannedSeq = 0;
  #headHash: string | null = null;
  #appending: Promise<unknown> = Promise.resolve();
  #scanning: Promise<void> | undefined;
  readonly #cacheSize: number;
  /** Whether a decision was dropped from memory: a miss may then be an old one. */
  #evicted = false;

  /** `cacheSize`: decisions kept in memory (default 10,000; smaller in tests). */
  constructor(node: ConsensusContext, heads: AuditHeads, cacheSize = DECISION_CACHE) {
    this.#node = node;
    this.#heads = heads;
    this.#cacheSize = cacheSize;
  }

  /**
   * Appends a decision to the audit log, sealed on the current head. The
   * seal must be computed before the store knows the head under its lock,
   * so it is optimistic: if another node appended in between, the store
   * refuses (the hash function sees another previous hash) and it is
   * sealed again on the new head.
   */
  seal(parts: DecisionParts, signer: LocalVoter): Promise<{ decision: Decision; seq: number }> {
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        await this.#scan();
        const decision = signedSeal(sealDecision(parts, this.#headHash), signer);
        let moved = false;
        try {
          const record = await this.#node.store.appendAudit({
            kind: DECISION_KIND,
            data: decision,
            hash: (link) => {
              if (link.prevHash !== decision.prevSeal) {
                moved = true;
                throw new ConclaveError("E_AUDIT_HEAD_MOVED", "the audit log grew meanwhile");
              }
              return decision.seal;
            },
          });
          this.#remember(decision);
          if (record.seq === this.#scannedSeq + 1) {
            this.#scannedSeq = record.seq;
            this.#headHash = record.hash;
          }
          this.#heads.appended(record.seq, record.hash, signer);
          await this.#node.store.setMeta(HEAD_META_KEY, decision.seal).catch(() => undefined);
          return { decision, seq: record.seq };
        } catch (error) {
          if (!moved || attempt >= 100) throw error;
        }
      }
    };
    const next = this.#appending.then(run, run);
    this.#appending = next.catch(() => undefined);
    return next;
  }

  /** Reads the audit log's new entries: the head, and the decisions for lookups. */
  #scan(): Promise<void> {
    this.#scanning ??= (async () => {
      try {
        const records = await readAuditLog(this.#node.store, this.#scannedSeq + 1);
        for (const record of records) this.#learn(record);
      } finally {
        this.#scanning = undefined;
      }
    })();
    return this.#scanning;
  }

  #learn(record: AuditRecord): void {
    if (record.seq !== this.#scannedSeq + 1) return;
    this.#scannedSeq = record.seq;
    this.#headHash = record.hash;
    // An entry of the decision kind that is not shaped as one (a store
    // written by hand) is not looked up; `conclave audit verify` names it.
    if (record.kind === DECISION_KIND && isDecisionShaped(record.data)) {
      this.#remember(record.data);
    }
  }

  #remember(decision: Decision): void {
    this.#bySeal.set(decision.seal, decision);
    this.#sealByProposal.set(decision.proposal.id, decision.seal);
    if (this.#bySeal.size > this.#cacheSize) {
      this.#evicted = true;
      const oldest = this.#bySeal.keys().next().value as string;
      const dropped = this.#bySeal.get(oldest);
      this.#bySeal.delete(oldest);
      if (dropped) this.#sealByProposal.delete(dropped.proposal.id);
    }
  }

  /** The decision sealed as `seal` in the audit log, if any. */
  async find(seal: string): Promise<Decision | undefined> {
    const cached = this.#bySeal.get(seal);
    if (cached !== undefined) return cached;
    await this.#scan();
    const found = this.#bySeal.get(seal);
    if (found !== undefined) return found;
    // Nothing ever left the cache: every decision of the log is in it, so a
    // miss is certain (an approval header naming no decision costs no read
    // of the whole log). Otherwise it may be older than the cache.
    if (!this.#evicted) return undefined;
    for (const record of await readAuditLog(this.#node.store)) {
      if (record.kind === DECISION_KIND && record.hash === seal && isDecisionShaped(record.data)) {
        return record.data;
      }
    }
    return undefined;
  }

  /** The decision on proposal `id` in the audit log, if any. */
  async findByProposal(id: string): Promise<Decision | undefined> {
    const seal = this.#sealByProposal.get(id);
    if (seal !== undefined) return this.find(seal);
    await this.#scan();
    const after = this.#sealByProposal.get(id);
    if (after !== undefined) return this.find(after);
    // Older than the cache (a retried propose of long ago): search the whole log.
    if (!this.#evicted) return undefined;
    for (const record of await readAuditLog(this.#node.store)) {
      if (record.kind !== DECISION_KIND) continue;
      const decision = record.data as Decision;
      if (decision.proposal?.id === id) return decision;
    }
    return undefined;
  }

  /** Whether a decision on proposal `id` is among those this node holds in memory (no log read). */
  knownDecided(id: string): boolean {
    return this.#sealByProposal.has(id);
  }
}

/** Whether an audit entry's data has what the log's lookups read of a decision. */
function isDecisionShaped(data: unknown): data is Decision {
  const d = data as { seal?: unknown; proposal?: { id?: unknown } | null } | null;
  return typeof d?.seal === "string" && typeof d.proposal?.id === "string";
}
