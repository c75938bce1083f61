/**
 * The rule a proposal is decided by, and how it is derived from the swarm's
 * configuration. The rule travels inside the proposal, so every vote signs
 * it (a vote names the proposal by the hash of all of it) and every sealed
 * decision carries it: an auditor recomputes a tally from the decision
 * alone, and a node refuses a proposal whose rule is not the one it is
 * configured with.
 */

import { canonicalize } from "../wire/canonical.js";
import { type FaultTolerance, selectProtocol } from "./auto.js";
import { DEFAULT_CLUSTER_SIZE } from "./hierarchy-plan.js";
import type { QuorumThreshold } from "./quorum-math.js";
import type { Proposal, ProtocolName, Voter } from "./types.js";

/** One privileged action as the runtime is configured with it (the swarm file's `privileged.<action>`). */
export interface PrivilegedAction {
  /** Default `quorum`. `auto` picks by the selection matrix when a proposal is made. */
  readonly protocol?: ProtocolName | "auto";
  /** Default: a strict majority of the voters' weight. */
  readonly threshold?: QuorumThreshold;
  /** Roles whose agents vote. Default: every role. */
  readonly voters?: readonly string[];
  /** Roles whose rejection vetoes. */
  readonly vetoRoles?: readonly string[];
  /** How long a proposal stays open, ms. Default 5000. */
  readonly deadlineMs?: number;
  /** Members per cluster (hierarchical). Default 5. */
  readonly clusterSize?: number;
  /** What `auto` must tolerate. Default `crash`. */
  readonly faultTolerance?: FaultTolerance;
  /**
   * People who vote too (quorum only), with their weight and the public key
   * their votes are signed with. Always in the electorate, live or not: a
   * round waits for them until its deadline.
   */
  readonly humans?: readonly HumanVoter[];
}

/** The role a human voter has in a rule. */
export const HUMAN_ROLE = "human";

/** A person among an action's voters. */
export interface HumanVoter {
  readonly id: string;
  readonly weight: number;
  /** base64url Ed25519 public key. */
  readonly publicKey: string;
}

/** A voter as the rule lists it: the protocol's {@link Voter} plus its public key (base64url SPKI). */
export interface RuleVoter extends Voter {
  readonly publicKey: string;
}

/** The electorate and threshold of one proposal; part of the proposal. */
export interface ProposalRule {
  readonly threshold: QuorumThreshold;
  readonly vetoRoles: readonly string[];
  /** Sorted by id. */
  readonly voters: readonly RuleVoter[];
  /** Hierarchical only. */
  readonly clusterSize?: number;
  /** How the protocol was chosen, when the configuration said `auto`. */
  readonly selection?: { readonly rule: string; readonly reason: string };
}

/** A proposal made by the runtime: the protocol's {@link Proposal} with its {@link ProposalRule}. */
export interface RuntimeProposal extends Proposal {
  /** Who votes, the threshold and the protocol, from the swarm file's `privileged:` entry. */
  readonly rule: ProposalRule;
}

export const DEFAULT_DEADLINE_MS = 5000;
export const DEFAULT_THRESHOLD: QuorumThreshold = Object.freeze({ fraction: 0.5, strict: true });

/** Protocols the runtime can drive today. */
export const RUNTIME_PROTOCOLS: ReadonlySet<ProtocolName> = new Set([
  "quorum",
  "hierarchical",
  "pbft",
]);

/**
 * Builds the rule of a new proposal for `action` over `electorate` (agents
 * of the voter roles, any order), resolving `auto`.
 */
export function buildRule(
  action: PrivilegedAction,
  electorate: readonly RuleVoter[],
): { protocol: ProtocolName; rule: ProposalRule } {
  const voters = [...electorate].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let protocol: ProtocolName;
  let selection: ProposalRule["selection"];
  if (action.protocol === "auto") {
    const choice = selectProtocol({
      participants: Math.max(1, voters.length),
      faultTolerance: action.faultTolerance ?? "crash",
    });
    protocol = choice.protocol;
    selection = { rule: choice.rule, reason: choice.reason };
    if (!RUNTIME_PROTOCOLS.has(protocol)) {
      // A protocol the runtime cannot drive: the signed quorum is the
      // closest it has (every vote signed, forgeries caught).
      selection = {
        rule: `${choice.rule}→quorum`,
        reason: `${choice.reason}; the runtime does not drive ${protocol} yet, so a signed weighted quorum decides`,
      };
      protocol = "quorum";
    }
  } else {
    protocol = action.protocol ?? "quorum";
  }
  const rule: ProposalRule = {
    threshold: action.threshold ?? DEFAULT_THRESHOLD,
    vetoRoles: [...(action.vetoRoles ?? [])].sort(),
    voters: voters.map((v) => ({
      id: v.id,
      role: v.role,
      weight: v.weight,
      publicKey: v.publicKey,
    })),
    ...(protocol === "hierarchical"
      ? { clusterSize: action.clusterSize ?? DEFAULT_CLUSTER_SIZE }
      : {}),
    ...(selection === undefined ? {} : { selection }),
  };
  return { protocol, rule };
}

/**
 * Why `proposal`'s rule is not acceptable under this node's configuration
 * of its action, or undefined when it is: the threshold, veto roles,
 * protocol and cluster size must be the configured ones, and every voter
 * must have a voter role. (Who exactly is in the electorate depends on
 * which agents were live when it was proposed, so it is not compared.)
 */
export function ruleMismatch(
  proposal: RuntimeProposal,
  action: PrivilegedAction | undefined,
  roles: readonly string[],
): string | undefined {
  if (action === undefined) return `"${proposal.action}" is not a privileged action here`;
  const rule = proposal.rule;
  const expectedThreshold = action.threshold ?? DEFAULT_THRESHOLD;
  if (canonicalize(rule.threshold) !== canonicalize(expectedThreshold)) {
    return `the proposal's threshold ${canonicalize(rule.threshold)} is not the configured ${canonicalize(expectedThreshold)}`;
  }
  const expectedVeto = [...(action.vetoRoles ?? [])].sort();
  if (canonicalize(rule.vetoRoles) !== canonicalize(expectedVeto)) {
    return `the proposal's veto roles [${rule.vetoRoles.join(", ")}] are not the configured [${expectedVeto.join(", ")}]`;
  }
  const configured = action.protocol ?? "quorum";
  if (configured !== "auto" && proposal.protocol !== configured) {
    return `the proposal uses ${proposal.protocol}, the configuration says ${configured}`;
  }
  if (proposal.protocol === "hierarchical") {
    const size = action.clusterSize ?? DEFAULT_CLUSTER_SIZE;
    if (rule.clusterSize !== size) {
      return `the proposal's cluster size ${String(rule.clusterSize)} is not the configured ${size}`;
    }
  }
  const voterRoles = new Set(action.voters ?? roles);
  const humans = new Map((action.humans ?? []).map((h) => [h.id, h]));
  for (const human of humans.values()) {
    if (!rule.voters.some((v) => v.id === human.id && v.role === HUMAN_ROLE)) {
      return `human voter ${human.id} is missing from the proposal's electorate`;
    }
  }
  for (const voter of rule.voters) {
    if (voter.role === HUMAN_ROLE) {
      const human = humans.get(voter.id);
      if (human === undefined)
        return `${voter.id} votes as a human on "${proposal.action}" but is not one of its human voters`;
      if (human.weight !== voter.weight || human.publicKey !== voter.publicKey) {
        return `human voter ${voter.id} has weight ${voter.weight} or a key other than the configured ones`;
      }
      continue;
    }
    if (!voterRoles.has(voter.role)) {
      return `voter ${voter.id} has role ${voter.role}, which does not vote on "${proposal.action}"`;
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads a proposal's rule from JSON; a string says what is wrong. */
export function parseRule(value: unknown): ProposalRule | string {
  if (!isRecord(value)) return "the proposal has no rule object";
  const threshold = value["threshold"];
  if (!isRecord(threshold)) return "rule.threshold must be { weight } or { fraction }";
  const vetoRoles = value["vetoRoles"];
  if (!Array.isArray(vetoRoles) || !vetoRoles.every((r) => typeof r === "string")) {
    return "rule.vetoRoles must be a list of roles";
  }
  const voters = value["voters"];
  if (!Array.isArray(voters) || voters.length === 0) return "rule.voters must be a non-empty list";
  const seen = new Set<string>();
  for (const v of voters) {
    if (
      !isRecord(v) ||
      typeof v["id"] !== "string" ||
      typeof v["role"] !== "string" ||
      typeof v["weight"] !== "number" ||
      typeof v["publicKey"] !== "string"
    ) {
      return "rule.voters entries must be { id, role, weight, publicKey }";
    }
    if (seen.has(v["id"])) return `rule.voters lists ${v["id"]} twice`;
    seen.add(v["id"]);
  }
  const clusterSize = value["clusterSize"];
  if (clusterSize !== undefined && typeof clusterSize !== "number") {
    return "rule.clusterSize must be a number";
  }
  return value as unknown as ProposalRule;
}

/** Reads a runtime proposal from JSON (a proposal envelope's body, or a decision's); a string says what is wrong. */
export function parseRuntimeProposal(value: unknown): RuntimeProposal | string {
  if (!isRecord(value)) return "the proposal must be an object";
  for (const key of ["id", "action", "proposer", "protocol"] as const) {
    if (typeof value[key] !== "string" || value[key] === "") return `proposal.${key} is missing`;
  }
  for (const key of ["ts", "deadline"] as const) {
    if (typeof value[key] !== "number" || !Number.isFinite(value[key])) {
      return `proposal.${key} must be a time in ms`;
    }
  }
  if (!("data" in value)) return "proposal.data is missing";
  const rule = parseRule(value["rule"]);
  if (typeof rule === "string") return rule;
  return value as unknown as RuntimeProposal;
}
