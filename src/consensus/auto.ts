/**
 * The `auto` protocol choice: seed 002's selection matrix, made explainable.
 * A table of rules, checked in order; the first that matches names the
 * protocol and says why in plain words. Users can override the choice, or
 * pass their own table.
 */
import { ConfigError } from "../errors/index.js";
import type { ProtocolName } from "./types.js";

/** Which failures the vote must survive: none, crashed or silent agents, or lying (Byzantine) agents. */
export type FaultTolerance = "none" | "crash" | "byzantine";

/** Shape the swarm wants: flat (everyone votes to one collector), hierarchical, or either. */
export type Coordination = "flat" | "hierarchical" | "any";

/** What a swarm needs from its consensus. */
export interface ProtocolRequirements {
  /** Number of voting agents. */
  readonly participants: number;
  readonly faultTolerance: FaultTolerance;
  /** Default `"any"`. */
  readonly coordination?: Coordination;
  /** Decisions must come back fast (one round trip rather than one per level). */
  readonly latencySensitive?: boolean;
  /** Forces a protocol; the matrix is skipped. */
  readonly override?: ProtocolName;
}

/** The matrix's answer. */
export interface ProtocolChoice {
  readonly protocol: ProtocolName;
  /** Id of the rule that fired, e.g. `byzantine-pbft`. */
  readonly rule: string;
  /** Why, for logs and for the user. */
  readonly reason: string;
}

/** The requirements with defaults filled in, as rules see them. */
export interface ResolvedRequirements {
  readonly participants: number;
  readonly faultTolerance: FaultTolerance;
  readonly coordination: Coordination;
  readonly latencySensitive: boolean;
  readonly override: ProtocolName | undefined;
}

/** One row of the selection matrix. */
export interface SelectionRule {
  readonly id: string;
  readonly when: (r: ResolvedRequirements) => boolean;
  readonly protocol: (r: ResolvedRequirements) => ProtocolName;
  readonly reason: (r: ResolvedRequirements) => string;
}

/** PBFT needs 3f+1 replicas: with fewer than 4 it tolerates no traitor at all. */
const PBFT_MIN = 4;
/** Seed 002's range for Byzantine consensus: beyond it PBFT's O(n²) messages dominate. */
const PBFT_MAX = 20;
/** Seed 002's "simple consensus" range. */
const SMALL_MAX = 5;
/** Seed 002's range for hierarchical consensus under crash faults (6–50). */
const CRASH_HIERARCHY_MAX = 50;
/** Up to this many voters a flat quorum's single collector copes well. */
const FLAT_MAX = 100;

/**
 * Seed 002's matrix, in order (first match wins):
 *
 * | rule | when | protocol |
 * | --- | --- | --- |
 * | override | `override` is set | that protocol |
 * | byzantine-too-few | byzantine, n < 4 | quorum (PBFT needs 3f+1 ≥ 4) |
 * | byzantine-pbft | byzantine, 4 ≤ n ≤ 20, not asked for hierarchical | pbft |
 * | byzantine-flat | byzantine, n > 20, asked for flat | pbft |
 * | byzantine-large | byzantine otherwise | hierarchical |
 * | asked-hierarchical | coordination hierarchical | hierarchical |
 * | asked-flat | coordination flat | quorum |
 * | small | n ≤ 5 | quorum |
 * | latency | latency-sensitive, n ≤ 100 | quorum |
 * | crash-medium | crash, n ≤ 50 | hierarchical |
 * | none-medium | no fault tolerance, n ≤ 100 | quorum |
 * | large | otherwise | hierarchical |
 */
export const SELECTION_MATRIX: readonly SelectionRule[] = Object.freeze([
  {
    id: "override",
    when: (r) => r.override !== undefined,
    protocol: (r) => r.override as ProtocolName,
    reason: (r) =>
      `${r.override} was configured explicitly; the selection matrix was not consulted`,
  },
  {
    id: "byzantine-too-few",
    when: (r) => r.faultTolerance === "byzantine" && r.participants < PBFT_MIN,
    protocol: () => "quorum",
    reason: (r) =>
      `Byzantine tolerance was asked for, but PBFT needs 3f+1 ≥ ${PBFT_MIN} replicas and there are ${r.participants}; a signed quorum is the strongest option (set the threshold to the total weight to require unanimity)`,
  },
  {
    id: "byzantine-pbft",
    when: (r) =>
      r.faultTolerance === "byzantine" &&
      r.participants <= PBFT_MAX &&
      r.coordination !== "hierarchical",
    protocol: () => "pbft",
    reason: (r) =>
      `Byzantine faults must be tolerated and ${r.participants} replicas are within PBFT's practical range (${PBFT_MIN}–${PBFT_MAX}): it survives ${Math.floor((r.participants - 1) / 3)} lying or failed replica(s)`,
  },
  {
    id: "byzantine-flat",
    when: (r) => r.faultTolerance === "byzantine" && r.coordination === "flat",
    protocol: () => "pbft",
    reason: (r) =>
      `Byzantine faults must be tolerated and flat coordination was asked for, so PBFT, although its O(n²) messages (${r.participants * r.participants} per phase) are costly beyond ${PBFT_MAX} replicas`,
  },
  {
    id: "byzantine-large",
    when: (r) => r.faultTolerance === "byzantine",
    protocol: () => "hierarchical",
    reason: (r) =>
      r.coordination === "hierarchical"
        ? "hierarchical coordination was asked for; every vote and cluster vote is signed and auditable, so a lying representative is caught"
        : `${r.participants} replicas are beyond PBFT's practical range (${PBFT_MAX}); hierarchical clusters of signed votes bound the messages, and a lying representative is caught because its cluster vote must match its members' signed votes`,
  },
  {
    id: "asked-hierarchical",
    when: (r) => r.coordination === "hierarchical",
    protocol: () => "hierarchical",
    reason: () => "hierarchical coordination was asked for",
  },
  {
    id: "asked-flat",
    when: (r) => r.coordination === "flat",
    protocol: () => "quorum",
    reason: () => "flat coordination was asked for: every voter answers one weighted quorum",
  },
  {
    id: "small",
    when: (r) => r.participants <= SMALL_MAX,
    protocol: () => "quorum",
    reason: (r) =>
      `${r.participants} agents are a small team (≤ ${SMALL_MAX}): a flat weighted quorum decides in one round trip`,
  },
  {
    id: "latency",
    when: (r) => r.latencySensitive && r.participants <= FLAT_MAX,
    protocol: () => "quorum",
    reason: (r) =>
      `latency matters and ${r.participants} voters fit one collector (≤ ${FLAT_MAX}): a flat quorum takes one round trip, a hierarchy one per level`,
  },
  {
    id: "crash-medium",
    when: (r) => r.faultTolerance === "crash" && r.participants <= CRASH_HIERARCHY_MAX,
    protocol: () => "hierarchical",
    reason: (r) =>
      `${r.participants} agents with crash tolerance (seed 002: 6–${CRASH_HIERARCHY_MAX}): clusters with backup representatives keep deciding when members or representatives crash`,
  },
  {
    id: "none-medium",
    when: (r) => r.faultTolerance === "none" && r.participants <= FLAT_MAX,
    protocol: () => "quorum",
    reason: (r) =>
      `no fault tolerance required and ${r.participants} voters fit one collector (≤ ${FLAT_MAX}): a flat quorum is simplest`,
  },
  {
    id: "large",
    when: () => true,
    protocol: () => "hierarchical",
    reason: (r) =>
      `${r.participants} voters are too many for one collector: clusters of 5 with representatives bound every agent's fan-in`,
  },
]);

/**
 * Picks a consensus protocol for a swarm and says why.
 *
 * @throws ConfigError if `participants` is not a positive integer, or no
 *   rule of a custom table matches.
 *
 * @example
 * ```ts
 * selectProtocol({ participants: 7, faultTolerance: "byzantine" });
 * // { protocol: "pbft", rule: "byzantine-pbft", reason: "Byzantine faults must be tolerated and 7 replicas …" }
 * ```
 */
export function selectProtocol(
  requirements: ProtocolRequirements,
  rules: readonly SelectionRule[] = SELECTION_MATRIX,
): ProtocolChoice {
  const { participants } = requirements;
  if (!Number.isInteger(participants) || participants < 1) {
    throw new ConfigError(
      `participants must be a positive integer (the number of voting agents), got ${String(participants)}`,
    );
  }
  const resolved: ResolvedRequirements = {
    participants,
    faultTolerance: requirements.faultTolerance,
    coordination: requirements.coordination ?? "any",
    latencySensitive: requirements.latencySensitive ?? false,
    override: requirements.override,
  };
  for (const rule of rules) {
    if (rule.when(resolved)) {
      return { protocol: rule.protocol(resolved), rule: rule.id, reason: rule.reason(resolved) };
    }
  }
  throw new ConfigError(
    "no rule of the protocol selection table matches; add a catch-all rule or set the protocol explicitly",
  );
}
