/**
 * Decisions in the store's audit log, and their offline verification.
 *
 * Each decision is one audit entry of kind `consensus.decision` whose data
 * is the sealed {@link Decision} and whose hash is the decision's seal, its
 * `prevHash` the previous entry's hash (the decision's `prevSeal`): the
 * audit chain is the seal chain. Other kinds of entry are hashed with the
 * store's default `auditHash`. Verification needs nothing but the log (and,
 * to cross-check keys and rules, the registry snapshot and the swarm file):
 * every seal, link, signature, tally and outcome is recomputed.
 */
import type { KeyObject } from "node:crypto";
import type { SwarmConfig as SwarmFile } from "../../config/schema.js";
import { verifyDecision } from "../../consensus/decision.js";
import { computeSeal, type Decision } from "../../consensus/seal.js";
import type { Outcome } from "../../consensus/types.js";
import { decodePublicKey, encodePublicKey } from "../../identity/keys.js";
import { auditHash } from "../../store/audit-chain.js";
import type { AuditRecord, Store } from "../../store/port.js";
import {
  HUMAN_ROLE,
  type PrivilegedAction,
  parseRuntimeProposal,
  type RuleVoter,
  ruleMismatch,
} from "./rule.js";

/** Audit entry kind of a sealed decision. */
export const DECISION_KIND = "consensus.decision";
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

/** What a stored decision is checked against, besides itself. */
export interface DecisionTrust {
  /** Privileged actions as configured: the decision's rule must be this one. Unchecked when omitted. */
  readonly privileged?: Readonly<Record<string, PrivilegedAction>>;
  /** Every role of the swarm (the default voter roles). */
  readonly roles?: readonly string[];
  /** Public keys from the registry snapshot (base64url), by agent id: a voter's key in the decision must match. */
  readonly registry?: ReadonlyMap<string, string>;
  /** Keys this node trusts now (the trust manager); a voter's key in the decision must match. */
  readonly trusted?: (agentId: string) => KeyObject | undefined;
  /**
   * The agents the swarm file declares (`admission: declared`): every voter
   * of a decision must be one of them, voting with the role and weight the
   * file gives it (and the key it pins, when it pins one). Unchecked when omitted.
   */
  readonly declared?: ReadonlyMap<string, DeclaredVoter>;
}

/** A declared agent as the swarm file describes it, for checking a decision's electorate. */
export interface DeclaredVoter {
  readonly role: string;
  readonly weight: number;
  /** The public key the file pins (base64url), if any. */
  readonly publicKey?: string;
}

/** Why a decision's electorate is not the declared one, or undefined. */
function electorateProblem(
  voters: readonly RuleVoter[],
  declared: ReadonlyMap<string, DeclaredVoter>,
): string | undefined {
  for (const voter of voters) {
    const agent = declared.get(voter.id);
    if (agent === undefined) {
      return `voter ${voter.id} is not an agent the swarm file declares (admission: declared)`;
    }
    if (voter.role === HUMAN_ROLE && agent.role === HUMAN_ROLE) {
      // A person's weight is the action's to give (checked with its rule); their key is theirs.
      if (agent.publicKey !== voter.publicKey) {
        return `human voter ${voter.id}'s key in the decision is not the one the swarm file gives`;
      }
      continue;
    }
    if (agent.role !== voter.role) {
      return `voter ${voter.id} voted as role ${voter.role}; the swarm file gives it role ${agent.role}`;
    }
    if (agent.weight !== voter.weight) {
      return `voter ${voter.id} voted with weight ${voter.weight}; the swarm file gives it weight ${agent.weight}`;
    }
    if (agent.publicKey !== undefined && agent.publicKey !== voter.publicKey) {
      return `voter ${voter.id}'s key in the decision is not the one the swarm file pins`;
    }
  }
  return undefined;
}

/**
 * Verifies a sealed decision on its own: its seal, its rule (against the
 * configuration and the known keys when given), and under its protocol's
 * rule every vote's signature, the tally and the outcome. Returns why it
 * does not hold, or undefined.
 */
export function decisionProblem(decision: Decision, trust: DecisionTrust = {}): string | undefined {
  try {
    if (computeSeal(decision) !== decision.seal) {
      return "the seal does not match the decision's contents: it was altered after sealing";
    }
  } catch (err) {
    return `the decision cannot be read: ${err instanceof Error ? err.message : String(err)}`;
  }
  const proposal = parseRuntimeProposal(decision.proposal);
  if (typeof proposal === "string") return proposal;
  if (trust.privileged !== undefined) {
    const mismatch = ruleMismatch(proposal, trust.privileged[proposal.action], trust.roles ?? []);
    if (mismatch !== undefined) return `its rule is not the configured one: ${mismatch}`;
  }
  if (trust.declared !== undefined) {
    const problem = electorateProblem(proposal.rule.voters, trust.declared);
    if (problem !== undefined) return `its electorate is not the declared one: ${problem}`;
  }
  const publicKeys = new Map<string, KeyObject>();
  for (const voter of proposal.rule.voters) {
    const known = trust.registry?.get(voter.id);
    if (known !== undefined && known !== voter.publicKey) {
      return `voter ${voter.id}'s key in the decision is not the one in the registry`;
    }
    const trusted = trust.trusted?.(voter.id);
    if (trusted !== undefined && encodePublicKey(trusted) !== voter.publicKey) {
      return `voter ${voter.id}'s key in the decision is not the one this node trusts`;
    }
    try {
      publicKeys.set(voter.id, decodePublicKey(voter.publicKey));
    } catch {
      return `voter ${voter.id}'s public key in the decision cannot be read`;
    }
  }
  const verdict = verifyDecision(decision, {
    publicKeys,
    voters: proposal.rule.voters,
    threshold: proposal.rule.threshold,
    vetoRoles: proposal.rule.vetoRoles,
    ...(proposal.rule.clusterSize === undefined
      ? {}
      : { hierarchy: { clusterSize: proposal.rule.clusterSize } }),
  });
  return verdict.ok ? undefined : verdict.reason;
}

/** Options of {@link verifyAuditLog}. */
export interface VerifyAuditLogOptions extends DecisionTrust {
  /** A seal the log must contain (the recorded head): catches entries removed from the end. */
  readonly head?: string;
}

/** Counts of a verified log. */
export interface AuditLogCounts {
  /** Entries verified (every kind). */
  readonly entries: number;
  readonly decisions: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
  /** Pieces of Byzantine evidence kept in the decisions. */
  readonly evidence: number;
}

/** The verdict of {@link verifyAuditLog}. */
export type AuditLogVerdict =
  | ({ readonly ok: true; readonly head: string | null } & AuditLogCounts)
  | ({
      readonly ok: false;
      /** The first bad entry's position (the seq it should have, for a missing one). */
      readonly seq: number;
      readonly reason: string;
      /** The proposal of the bad entry, when it is a readable decision. */
      readonly proposal?: { readonly id: string; readonly action: string };
    } & AuditLogCounts);

/**
 * Verifies an audit log read from seq 1, oldest first: gap-free sequence,
 * every link, every hash (a decision's hash is its seal, recomputed), and
 * every decision in full ({@link decisionProblem}). Stops at the first bad
 * entry and names it.
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
  const outcomes: Record<Outcome, number> = {
    approved: 0,
    rejected: 0,
    vetoed: 0,
    "no-quorum": 0,
  };
  let decisions = 0;
  let evidence = 0;
  let entries = 0;
  let previous: string | null = null;
  const hashes = new Set<string>();
  const counts = () => ({ entries, decisions, outcomes, evidence });
  for (const record of records) {
    const expected = entries + 1;
    const fail = (reason: string, decision?: Decision): AuditLogVerdict => {
      const proposal = decision?.proposal;
      return {
        ok: false,
        seq: record.seq,
        reason,
        ...(typeof proposal?.id === "string" && typeof proposal.action === "string"
          ? { proposal: { id: proposal.id, action: proposal.action } }
          : {}),
        ...counts(),
      };
    };
    if (record.seq !== expected) {
      return fail(
        `expected entry ${expected} here, found entry ${record.seq}: entries were removed or reordered`,
      );
    }
    if (record.prevHash !== previous) {
      return fail(
        `its link does not match the hash of entry ${expected - 1}: an entry was removed, inserted, altered or reordered`,
      );
    }
    if (record.kind === DECISION_KIND) {
      const decision = record.data as Decision;
      if (typeof decision !== "object" || decision === null) return fail("not a decision");
      if (decision.seal !== record.hash) {
        return fail("the decision's seal is not the entry's hash", decision);
      }
      if (decision.prevSeal !== record.prevHash) {
        return fail("the decision's prevSeal is not the entry's link", decision);
      }
      const problem = decisionProblem(decision, options);
      if (problem !== undefined) return fail(problem, decision);
      decisions++;
      outcomes[decision.outcome]++;
      evidence += decision.evidence.length;
    } else {
      const hash = auditHash({
        seq: record.seq,
        kind: record.kind,
        data: JSON.stringify(record.data) ?? "null",
        prevHash: record.prevHash,
      });
      if (hash !== record.hash) return fail("its hash does not match its contents: it was altered");
    }
    hashes.add(record.hash);
    previous = record.hash;
    entries++;
  }
  if (options.head !== undefined && !hashes.has(options.head)) {
    return {
      ok: false,
      seq: entries + 1,
      reason: `the log ends before the last decision recorded in the store (seal ${options.head.slice(0, 16)}…): entries were removed from its end`,
      ...counts(),
    };
  }
  return { ok: true, head: previous, ...counts() };
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

/**
 * Verifies the audit log kept in `store` in full, with everything that
 * cross-checks it: the registry snapshot's keys, the recorded head, and —
 * given the swarm file — its privileged actions' rules and declared voters.
 * What `conclave audit verify` and the dashboard's "verify" both run.
 */
export async function verifyStoredAuditLog(
  store: Store,
  config?: SwarmFile,
): Promise<AuditLogVerdict> {
  const head = await store.getMeta(HEAD_META_KEY);
  return verifyAuditLog(await readAuditLog(store), {
    registry: await registryKeys(store),
    ...(head === undefined ? {} : { head }),
    ...(config ? { privileged: config.privileged, roles: Object.keys(config.roles) } : {}),
    ...(config?.admission === "declared" ? { declared: declaredVoters(config) } : {}),
  });
}
