/**
 * The one verifier of an audit chain of sealed decisions, used by the
 * library ({@link verifyChain}), the engine and the CLI (`verifyAuditLog`,
 * `conclave audit verify`) alike. Pure: given the log, and the keys and
 * configuration the auditor trusts, it recomputes every link, hash, seal,
 * seal signature, rule, signature, tally and outcome, and checks the log
 * against signed heads. The store's hash of non-decision entries is passed
 * in, so nothing here depends on the store.
 */
import type { KeyObject } from "node:crypto";
import { decodePublicKey, encodePublicKey } from "../identity/keys.js";
import { type SignedHead, sealSignatureProblem, verifyHead } from "./audit-anchor.js";
import { type VerifyDecisionOptions, verifyDecision } from "./decision.js";
import {
  HUMAN_ROLE,
  type PrivilegedAction,
  parseRuntimeProposal,
  type RuleVoter,
  ruleMismatch,
} from "./rule.js";
import { computeSeal, type Decision } from "./seal.js";
import type { Outcome } from "./types.js";

/** Audit entry kind of a sealed decision. */
export const DECISION_KIND = "consensus.decision";

/** What a decision is checked against, besides itself, when it is verified by the rule it carries. */
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
export function electorateProblem(
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
 * Verifies a sealed decision by the rule it carries (a runtime proposal's
 * `rule`): its seal, its rule (against the configuration and the known keys
 * when given), and under its protocol's rule every vote's signature, the
 * tally and the outcome. Returns why it does not hold, or undefined.
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

/**
 * How a decision is verified beyond its link: by the rule it carries,
 * cross-checked with a {@link DecisionTrust} (a runtime decision), or
 * against a configuration the auditor gives ({@link VerifyDecisionOptions}).
 */
export type DecisionCheck = DecisionTrust | Omit<VerifyDecisionOptions, "prevSeal">;

/** Why `decision` does not verify under `check`, or undefined; see {@link DecisionCheck}. */
export function checkDecision(decision: Decision, check: DecisionCheck): string | undefined {
  if ("publicKeys" in check) {
    const verdict = verifyDecision(decision, check);
    return verdict.ok ? undefined : verdict.reason;
  }
  return decisionProblem(decision, check);
}

/** One entry of an audit chain, as a store returns it (`AuditRecord`). */
export interface AuditEntryRecord {
  readonly seq: number;
  readonly kind: string;
  readonly data: unknown;
  readonly prevHash: string | null;
  readonly hash: string;
}

/**
 * Options of the runtime's `verifyAuditLog`: what a whole log read from
 * seq 1, whose decisions carry their rule, is checked against besides itself.
 */
export interface VerifyAuditLogOptions extends DecisionTrust {
  /** A seal the log must contain (the recorded head): catches entries removed from the end. */
  readonly head?: string;
  /**
   * Public keys (base64url) the verifier trusts from outside the store (the
   * swarm file's pinned keys, the key folder), by agent id: they check seal
   * and head signatures before the registry snapshot is consulted.
   */
  readonly keys?: (agentId: string) => string | undefined;
  /**
   * Signed heads the log must agree with (witnessed by other nodes, exported
   * with `conclave audit head`): entry `seq` must exist and have hash
   * `headHash`. Every head's signature must verify.
   */
  readonly heads?: readonly SignedHead[];
  /** The swarm the log belongs to: a head of another swarm is refused. */
  readonly swarm?: string;
  /** Refuse unsigned decisions (logged before seals were signed) instead of counting them. */
  readonly requireSigned?: boolean;
}

/** Options of {@link verifyAuditEntries}: those of `verifyAuditLog`, and how the library's `verifyChain` narrows them. */
export interface VerifyAuditEntriesOptions extends VerifyAuditLogOptions {
  /** The seq of the first entry (default 1). Signed heads need a log from seq 1. */
  readonly firstSeq?: number;
  /** The link of the first entry: null (default) for a log from its start, or the hash before a segment. */
  readonly genesis?: string | null;
  /**
   * How each decision is verified: `"carried-rule"` (default) by the rule
   * its proposal carries, cross-checked with this object's
   * {@link DecisionTrust} fields, and its seal signature; a configuration
   * ({@link VerifyDecisionOptions}) to verify every decision against it,
   * and its seal signature; `"seal-only"` to check only seals and links.
   */
  readonly decisions?: "carried-rule" | "seal-only" | Omit<VerifyDecisionOptions, "prevSeal">;
  /** The hash of a non-decision entry (the store's `auditHash`); without it such entries are refused. */
  readonly hashEntry?: (entry: AuditEntryRecord) => string;
}

/** Counts of a verified log. */
export interface AuditLogCounts {
  /** Entries verified (every kind). */
  readonly entries: number;
  readonly decisions: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
  /** Pieces of Byzantine evidence kept in the decisions. */
  readonly evidence: number;
  /** Decisions whose seal is signed by their appender, verified. */
  readonly signed: number;
  /**
   * Decisions logged before seals were signed: allowed only before the first
   * signed one (and not at all with `requireSigned`); their integrity rests
   * on the store and on the signed entries and heads after them.
   */
  readonly unsigned: number;
  /** Signed heads the log was checked against. */
  readonly headsChecked: number;
}

/** The verdict of the audit verifier (`verifyAuditLog`, `conclave audit verify`). */
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

/** The voters a runtime decision's rule lists, or none for a decision without one. */
function ruleVoters(decision: Decision): readonly RuleVoter[] {
  const voters = (decision.proposal as { rule?: { voters?: unknown } } | undefined)?.rule?.voters;
  return Array.isArray(voters) ? (voters as RuleVoter[]) : [];
}

/**
 * Verifies an audit chain, oldest first: gap-free sequence, every link,
 * every hash (a decision's hash is its seal, recomputed), every decision in
 * full (see `decisions`) with its seal signature, the recorded head and the
 * signed heads. Stops at the first bad entry and names it.
 *
 * @example
 * ```ts
 * const verdict = verifyAuditEntries(records, { registry, hashEntry: auditHashOf });
 * if (!verdict.ok) console.error(`entry ${verdict.seq}: ${verdict.reason}`);
 * ```
 */
export function verifyAuditEntries(
  records: readonly AuditEntryRecord[],
  options: VerifyAuditEntriesOptions = {},
): AuditLogVerdict {
  const outcomes: Record<Outcome, number> = {
    approved: 0,
    rejected: 0,
    vetoed: 0,
    "no-quorum": 0,
  };
  const firstSeq = options.firstSeq ?? 1;
  const mode = options.decisions ?? "carried-rule";
  let decisions = 0;
  let evidence = 0;
  let entries = 0;
  let signed = 0;
  let unsigned = 0;
  let headsChecked = 0;
  let previous: string | null = options.genesis ?? null;
  const hashes = new Set<string>();
  /** Keys vouched for by verified decisions (each voter's key is covered by every vote's signature). */
  const anchored = new Map<string, string>();
  const counts = () => ({ entries, decisions, outcomes, evidence, signed, unsigned, headsChecked });
  const fail = (seq: number, reason: string, data?: unknown): AuditLogVerdict => {
    const proposal = (data as Partial<Decision> | undefined)?.proposal;
    return {
      ok: false,
      seq,
      reason,
      ...(typeof proposal?.id === "string" && typeof proposal.action === "string"
        ? { proposal: { id: proposal.id, action: proposal.action } }
        : {}),
      ...counts(),
    };
  };
  const given = typeof mode === "object" ? mode.publicKeys : undefined;
  const keyOf = (agent: string): string | undefined => {
    const outside = options.keys?.(agent);
    if (outside !== undefined) return outside;
    const configured = given?.get(agent);
    if (configured !== undefined) return encodePublicKey(configured);
    return anchored.get(agent) ?? options.registry?.get(agent);
  };
  for (const record of records) {
    const expected = firstSeq + entries;
    if (record.seq !== expected) {
      return fail(
        record.seq,
        `expected entry ${expected} here, found entry ${record.seq}: entries were removed or reordered`,
      );
    }
    if (record.prevHash !== previous) {
      return fail(
        record.seq,
        `its link does not match ${entries === 0 && options.genesis === undefined ? "the start of the log" : `the hash of entry ${expected - 1}`}: an entry was removed, inserted, altered or reordered`,
      );
    }
    if (record.kind === DECISION_KIND) {
      const decision = record.data as Decision;
      if (typeof decision !== "object" || decision === null)
        return fail(record.seq, "not a decision");
      if (decision.seal !== record.hash) {
        return fail(record.seq, "the decision's seal is not the entry's hash", decision);
      }
      if (decision.prevSeal !== record.prevHash) {
        return fail(record.seq, "the decision's prevSeal is not the entry's link", decision);
      }
      const problem =
        mode === "seal-only"
          ? sealProblem(decision)
          : (checkDecision(decision, mode === "carried-rule" ? options : mode) ??
            signatureProblem(decision, signed > 0, options.requireSigned === true, keyOf));
      if (problem !== undefined) return fail(record.seq, problem, decision);
      if (decision.signature === undefined) unsigned++;
      else signed++;
      if (mode === "carried-rule") {
        for (const voter of ruleVoters(decision)) anchored.set(voter.id, voter.publicKey);
      }
      decisions++;
      outcomes[decision.outcome]++;
      evidence += Array.isArray(decision.evidence) ? decision.evidence.length : 0;
    } else {
      if (options.hashEntry === undefined) {
        return fail(
          record.seq,
          `an entry of kind ${record.kind} where only decisions are expected`,
        );
      }
      if (options.hashEntry(record) !== record.hash) {
        return fail(record.seq, "its hash does not match its contents: it was altered");
      }
    }
    hashes.add(record.hash);
    previous = record.hash;
    entries++;
  }
  if (options.head !== undefined && !hashes.has(options.head)) {
    return fail(
      firstSeq + entries,
      `the log ends before the last decision recorded in the store (seal ${options.head.slice(0, 16)}…): entries were removed from its end`,
    );
  }
  // Heads, lowest first: the first one the log disagrees with bounds where it was rewritten.
  let confirmed = 0;
  for (const head of [...(options.heads ?? [])].sort((a, b) => a.seq - b.seq)) {
    const by = `a head signed by ${head.signer} at ${new Date(head.ts).toISOString()}`;
    if (options.swarm !== undefined && head.swarm !== options.swarm) {
      return fail(entries + 1, `${by} is for swarm ${head.swarm}, not ${options.swarm}`);
    }
    const key = keyOf(head.signer);
    if (key === undefined) {
      return fail(
        entries + 1,
        `${by} cannot be checked: no trusted key for ${head.signer} (give the swarm file or its key folder)`,
      );
    }
    if (!safeVerifyHead(head, key)) {
      return fail(entries + 1, `${by} does not verify: it was forged or altered`);
    }
    if (head.seq > entries) {
      return fail(
        entries + 1,
        `the log ends at entry ${entries}, but ${by} vouches for entry ${head.seq}: entries were removed (from its end, or before it and the rest re-sealed)`,
      );
    }
    const at = records[head.seq - 1] as AuditEntryRecord;
    if (head.seq > 0 && at.hash !== head.headHash) {
      const first = records[confirmed] as AuditEntryRecord;
      return fail(
        first.seq,
        `the log differs from ${by} (entry ${head.seq} had hash ${head.headHash.slice(0, 16)}…): it was rewritten at or after entry ${first.seq}${confirmed > 0 ? ` (entry ${confirmed} is the last a head confirms)` : ""}`,
        first.kind === DECISION_KIND ? first.data : undefined,
      );
    }
    confirmed = head.seq;
    headsChecked++;
  }
  return { ok: true, head: previous, ...counts() };
}

/** Why a decision's seal does not match its contents, or undefined. */
function sealProblem(decision: Decision): string | undefined {
  try {
    return computeSeal(decision) === decision.seal
      ? undefined
      : "the seal does not match the decision's contents: it was altered after sealing";
  } catch (err) {
    return `the decision cannot be read: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** A head check that treats an unreadable key as a failed check. */
function safeVerifyHead(head: SignedHead, publicKey: string): boolean {
  try {
    return verifyHead(head, decodePublicKey(publicKey));
  } catch {
    return false;
  }
}

/**
 * Why a (verified) decision's seal signature does not hold, or undefined:
 * the signer must be the proposer, its key known (from the decision's own
 * voters, the verifier's keys or the registry), and the signature good. An
 * unsigned decision is refused after a signed one (signatures stripped from
 * a re-sealed tail) and with `requireSigned`.
 */
function signatureProblem(
  decision: Decision,
  afterSigned: boolean,
  requireSigned: boolean,
  keyOf: (agent: string) => string | undefined,
): string | undefined {
  const signature = decision.signature;
  if (signature === undefined) {
    if (afterSigned) {
      return "its seal is not signed, while an earlier decision's is: it was re-sealed (or its signature stripped) without the appender's key";
    }
    return requireSigned
      ? "its seal is not signed (logged before seals were signed), and signed seals are required"
      : undefined;
  }
  const proposer = decision.proposal.proposer;
  if (signature.signer !== proposer) {
    return `its seal is signed by ${String(signature.signer)}, not by its proposer ${proposer}`;
  }
  const own = ruleVoters(decision).find((v) => v.id === proposer);
  const text = own?.publicKey ?? keyOf(proposer);
  if (text === undefined) {
    return `its seal is signed by ${proposer}, whose key this verifier does not know (give the swarm file or its key folder)`;
  }
  let key: KeyObject;
  try {
    key = decodePublicKey(text);
  } catch {
    return `the key of ${proposer} cannot be read`;
  }
  return sealSignatureProblem(decision.seal, signature, key);
}

/** Options of {@link verifyChain}. */
export interface VerifyChainOptions {
  /** `prevSeal` of the first entry: null (default) for a log from its start, or the seal before a segment. */
  readonly genesis?: string | null;
  /**
   * A seal the log must contain, from a trusted anchor (the last seal seen
   * when it was recorded); catches a truncated log. Entries appended after
   * it are fine.
   */
  readonly head?: string;
  /**
   * Also verify each decision fully (signatures, tallies, and its seal
   * signature when it has one) under this configuration. Without it only
   * seals and links are checked.
   */
  readonly decisions?: Omit<VerifyDecisionOptions, "prevSeal">;
}

/** The verdict of {@link verifyChain}: the count of good entries, or the first bad one and why. */
export type VerifyChainResult =
  | { readonly ok: true; readonly count: number; readonly head: string | null }
  | { readonly ok: false; readonly index: number; readonly reason: string };

/**
 * Verifies a log of decisions, oldest first: each seal matches its contents
 * and each `prevSeal` is the seal before it, so an altered, removed,
 * inserted or reordered entry is reported at the first index where the
 * chain breaks. Removing entries from the end is only caught with `head`.
 * With `decisions`, each entry is also verified fully. The same verifier as
 * the runtime's `verifyAuditLog` and `conclave audit verify`
 * ({@link verifyAuditEntries}), over a log of decisions only.
 *
 * @example
 * ```ts
 * const verdict = verifyChain(log, { decisions: { publicKeys, voters, threshold } });
 * if (!verdict.ok) throw new AuditChainError(verdict.reason, verdict.index);
 * ```
 */
export function verifyChain(
  decisions: readonly Decision[],
  options: VerifyChainOptions = {},
): VerifyChainResult {
  // Entry i of the chain is decision i: its hash is its seal, its link its prevSeal.
  const records = decisions.map((decision, index) => {
    const readable = typeof decision === "object" && decision !== null;
    return {
      seq: index,
      kind: DECISION_KIND,
      data: decision,
      hash: readable ? decision.seal : "",
      prevHash: readable ? decision.prevSeal : "",
    };
  });
  const verdict = verifyAuditEntries(records, {
    firstSeq: 0,
    ...(options.genesis === undefined ? {} : { genesis: options.genesis }),
    ...(options.head === undefined ? {} : { head: options.head }),
    decisions: options.decisions ?? "seal-only",
  });
  if (verdict.ok) return { ok: true, count: verdict.entries, head: verdict.head };
  const at = verdict.seq < decisions.length ? `entry ${verdict.seq}: ` : "";
  return { ok: false, index: verdict.seq, reason: `${at}${verdict.reason}` };
}
