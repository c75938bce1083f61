/**
 * Decisions in the store's audit log, and their offline verification (by
 * the one verifier, `src/consensus/audit-verify.ts`).
 *
 * Each decision is one audit entry of kind `consensus.decision` whose data
 * is the sealed {@link Decision} and whose hash is the decision's seal, its
 * `prevHash` the previous entry's hash (the decision's `prevSeal`): the
 * audit chain is the seal chain. Other kinds of entry are hashed with the
 * store's default `auditHash`. Verification needs nothing but the log (and,
 * to cross-check keys and rules, the registry snapshot and the swarm file):
 * every seal, link, signature, tally and outcome is recomputed.
 */
import type { SwarmConfig as SwarmFile } from "../../config/schema.js";
import type { SignedHead } from "../../consensus/audit-anchor.js";
import {
  type AuditLogVerdict,
  DECISION_KIND,
  type DeclaredVoter,
  type VerifyAuditLogOptions,
  verifyAuditEntries,
} from "../../consensus/audit-verify.js";
import { HUMAN_ROLE } from "../../consensus/rule.js";
import type { Decision } from "../../consensus/seal.js";
import { auditHash } from "../../store/audit-chain.js";
import type { AuditRecord, Store } from "../../store/port.js";
import { storedHeads } from "./audit-heads.js";

/** Store meta key holding the seal of the last decision a node appended: an anchor against truncation. */
export const HEAD_META_KEY = "consensus.head";

const PAGE = 10_000;

/** Every entry of the audit log, oldest first. */
export async function readAuditLog(store: Store, fromSeq = 1): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  let next = fromSeq;
  for (;;) {
    const page = await store.auditLog({ fromSeq: next, limit: PAGE });
    records.push(...page);
    if (page.length < PAGE) return records;
    next = (page.at(-1) as AuditRecord).seq + 1;
  }
}

/**
 * Verifies an audit log read from seq 1, oldest first: gap-free sequence,
 * every link, every hash (a decision's hash is its seal, recomputed; other
 * entries' the store's `auditHash`), and every decision in full by the rule
 * it carries ({@link decisionProblem}). Stops at the first bad entry and
 * names it. The one audit verifier (`src/consensus/audit-verify.ts`),
 * which the library's `verifyChain` runs too, given the store's hash.
 *
 * @example
 * ```ts
 * const verdict = verifyAuditLog(await readAuditLog(store), { registry });
 * if (!verdict.ok) console.error(`entry ${verdict.seq}: ${verdict.reason}`);
 * ```
 */
export function verifyAuditLog(
  records: readonly AuditRecord[],
  options: VerifyAuditLogOptions = {},
): AuditLogVerdict {
  return verifyAuditEntries(records, { ...options, hashEntry: storeHash });
}

/** The store's hash of a non-decision entry. */
function storeHash(record: AuditRecord): string {
  return auditHash({
    seq: record.seq,
    kind: record.kind,
    data: JSON.stringify(record.data) ?? "null",
    prevHash: record.prevHash,
  });
}

/** The `consensus` section of a run summary. */
export interface ConsensusSummary {
  readonly proposals: number;
  readonly approved: number;
  /** Rejected or vetoed. */
  readonly rejected: number;
  /** Pieces of Byzantine evidence (forged, duplicate, equivocating, replayed votes…) kept in the decisions. */
  readonly byzantineDetected: number;
}

/** Counts decisions in an audit log. */
export function summarizeDecisions(records: readonly AuditRecord[]): ConsensusSummary {
  let proposals = 0;
  let approved = 0;
  let rejected = 0;
  let byzantineDetected = 0;
  for (const record of records) {
    if (record.kind !== DECISION_KIND) continue;
    const decision = record.data as Decision;
    proposals++;
    if (decision.outcome === "approved") approved++;
    else if (decision.outcome === "rejected" || decision.outcome === "vetoed") rejected++;
    byzantineDetected += Array.isArray(decision.evidence) ? decision.evidence.length : 0;
  }
  return { proposals, approved, rejected, byzantineDetected };
}

/** The consensus section of a run summary, measured from the store's audit log. */
export async function consensusSummary(store: Store): Promise<ConsensusSummary> {
  return summarizeDecisions(await readAuditLog(store));
}

/** The registry snapshot's public keys, by agent id. */
async function registryKeys(store: Store): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const { id, card } of await store.agentCards()) {
    const publicKey = (card as { publicKey?: unknown } | null)?.publicKey;
    if (typeof publicKey === "string") keys.set(id, publicKey);
  }
  return keys;
}

/** The swarm file's agents as voters: the role, weight and pinned key each may vote with. */
function declaredVoters(config: SwarmFile): Map<string, DeclaredVoter> {
  const voters = new Map<string, DeclaredVoter>(
    config.agents.map((a) => [
      a.id,
      { role: a.role, weight: a.weight, ...(a.publicKey ? { publicKey: a.publicKey } : {}) },
    ]),
  );
  for (const [name, human] of Object.entries(config.humans)) {
    voters.set(name, { role: HUMAN_ROLE, weight: 0, publicKey: human.publicKey });
  }
  return voters;
}

/** What {@link verifyStoredAuditLog} checks besides the store's own records. */
export interface StoredAuditChecks {
  /** Heads to check the log against besides those the store holds (e.g. `audit verify --head FILE`). */
  readonly heads?: readonly SignedHead[];
  /** Public keys trusted from outside the store, by agent id (see {@link VerifyAuditLogOptions.keys}). */
  readonly keys?: ReadonlyMap<string, string>;
  readonly requireSigned?: boolean;
}

/**
 * Verifies the audit log kept in `store` in full, with everything that
 * cross-checks it: the registry snapshot's keys, the recorded head, the
 * signed heads the store holds (its own and those witnessed from other
 * nodes) and any given, and — given the swarm file — its privileged
 * actions' rules, declared voters and pinned keys. What `conclave audit
 * verify` and the dashboard's "verify" both run.
 */
export async function verifyStoredAuditLog(
  store: Store,
  config?: SwarmFile,
  checks: StoredAuditChecks = {},
): Promise<AuditLogVerdict> {
  const head = await store.getMeta(HEAD_META_KEY);
  const records = await readAuditLog(store);
  const held = await storedHeads(store);
  if (typeof held === "string") {
    const none = { approved: 0, rejected: 0, vetoed: 0, "no-quorum": 0 };
    const counts = { entries: 0, decisions: 0, outcomes: none, evidence: 0, signed: 0 };
    return { ok: false, seq: 1, reason: held, ...counts, unsigned: 0, headsChecked: 0 };
  }
  const keys = new Map(checks.keys ?? []);
  for (const agent of config?.agents ?? []) {
    if (agent.publicKey !== undefined && !keys.has(agent.id)) keys.set(agent.id, agent.publicKey);
  }
  return verifyAuditLog(records, {
    registry: await registryKeys(store),
    keys: (agent) => keys.get(agent),
    heads: [...held, ...(checks.heads ?? [])],
    ...(checks.requireSigned ? { requireSigned: true } : {}),
    ...(head === undefined ? {} : { head }),
    ...(config ? { swarm: config.swarm } : {}),
    ...(config ? { privileged: config.privileged, roles: Object.keys(config.roles) } : {}),
    ...(config?.admission === "declared" ? { declared: declaredVoters(config) } : {}),
  });
}
