/**
 * The shape of a hierarchical vote: which voters form which cluster, who
 * represents each cluster, and when each level closes. A pure function of
 * the configuration, so every participant and every auditor derives the same
 * tree.
 *
 * - Level 0: the voters of positive weight (a voter of weight 0 cannot change
 *   any outcome, so it is left out of the tree, and its votes are refused as
 *   from an unknown voter), sorted by id and shuffled with a seeded generator
 *   (mulberry32; the seed defaults to the first 32 bits of the proposal hash,
 *   so nobody picks the partition), cut into ⌈n/k⌉ clusters whose sizes
 *   differ by at most one.
 * - Level L+1: the clusters of level L, in order, grouped the same way,
 *   until a single root cluster remains. With n ≤ k voters the root is the
 *   only level-0 cluster: a flat quorum.
 * - A cluster's weight is the total weight of the voters below it; its vote
 *   counts for that much one level up.
 * - Representatives: the members ranked by score (descending, then id); at
 *   level L+1 the candidates are the primary representatives of the child
 *   clusters. The first `1 + backups` are recorded; any of them may cast the
 *   cluster's vote (the first accepted counts). The root has none.
 */
import { seededRandom } from "../core/random.js";
import { ConfigError } from "../errors/index.js";
import { BallotBox, type BallotSlot } from "./ballot-box.js";
import {
  fromWeightUnits,
  type QuorumThreshold,
  thresholdUnits,
  toWeightUnits,
} from "./quorum-math.js";
import type { Proposal, Voter } from "./types.js";
import { hashProposal } from "./vote.js";

/** Default number of members per cluster (seed 002). */
export const DEFAULT_CLUSTER_SIZE = 5;

/** Configuration of a hierarchy; see {@link planHierarchy}. */
export interface HierarchyConfig {
  readonly proposal: Proposal;
  /** {@link hashProposal}`(proposal)`; computed when omitted. */
  readonly proposalHash?: string;
  /** Every eligible voter; ids must be unique. */
  readonly voters: readonly Voter[];
  /**
   * Approving weight each cluster needs, per level (index 0 = leaf clusters;
   * the last entry applies to every level above). A fraction is of the
   * cluster's own weight. `{ fraction: 2 / 3 }` applies at every level.
   */
  readonly threshold: QuorumThreshold | readonly QuorumThreshold[];
  /** Roles whose `reject` vetoes their cluster, and through it every cluster above. */
  readonly vetoRoles?: readonly string[];
  /** Members per cluster, at least 2. Default {@link DEFAULT_CLUSTER_SIZE}. */
  readonly clusterSize?: number;
  /** Shuffle seed (uint32). Default: the first 8 hex digits of the proposal hash. */
  readonly seed?: number;
  /** Suitability as a representative (reputation, liveness…); higher is better. Default 0 for all. */
  readonly score?: (voter: Voter) => number;
  /** Backup representatives per cluster. Default 1. */
  readonly backups?: number;
  /**
   * When each level stops taking votes, ms since the epoch, one per level.
   * Default: the window from `proposal.ts` to `proposal.deadline` split
   * evenly, the root closing at the deadline.
   */
  readonly levelDeadlines?: readonly number[];
  /**
   * Representatives fixed in advance, by cluster id (e.g. read back from a
   * decision's {@link HierarchyRecord}); replaces `score`. Each list is
   * checked against the cluster's candidates.
   */
  readonly representatives?: Readonly<Record<string, readonly string[]>>;
}

/** One cluster of the tree. */
export interface ClusterNode {
  /** `"<level>.<index>"`, e.g. `"0.17"`. */
  readonly id: string;
  readonly level: number;
  readonly index: number;
  /** Level 0: voter ids. Above: ids of the child clusters. */
  readonly members: readonly string[];
  /** Id of the cluster one level up; undefined for the root. */
  readonly parent: string | undefined;
  /** Total weight of the voters below; what this cluster's vote counts for one level up. */
  readonly weight: number;
  /** `weight` in micro-units. */
  readonly units: number;
  /** Some voter below holds a veto. */
  readonly canVeto: boolean;
  /** Ranked agent ids allowed to cast this cluster's vote; empty for the root. */
  readonly representatives: readonly string[];
  readonly threshold: QuorumThreshold;
  /** When this cluster's round stops taking votes. */
  readonly closesAt: number;
}

/**
 * What a hierarchical decision records so that an auditor rebuilds the same
 * tree from the voters and the proposal: the tree parameters and who
 * represented each cluster.
 */
export interface HierarchyRecord {
  readonly clusterSize: number;
  readonly seed: number;
  readonly levelDeadlines: readonly number[];
  /** Ranked representatives of every non-root cluster, by cluster id. */
  readonly representatives: Readonly<Record<string, readonly string[]>>;
}

/** The tree of one hierarchical vote. */
export interface HierarchyPlan {
  readonly proposal: Proposal;
  readonly proposalHash: string;
  readonly clusterSize: number;
  readonly seed: number;
  /** `levels[0]` are the leaf clusters; the last level holds only the root. */
  readonly levels: readonly (readonly ClusterNode[])[];
  readonly root: ClusterNode;
  readonly nodes: ReadonlyMap<string, ClusterNode>;
  /** The leaf cluster of each voter. */
  readonly leafOf: ReadonlyMap<string, ClusterNode>;
  readonly voters: ReadonlyMap<string, Voter>;
  readonly vetoRoles: ReadonlySet<string>;
  readonly levelDeadlines: readonly number[];
  readonly record: HierarchyRecord;
}

/** The default shuffle seed of a proposal: its hash's first 32 bits. */
export function defaultHierarchySeed(proposalHash: string): number {
  const seed = Number.parseInt(proposalHash.slice(0, 8), 16);
  return Number.isFinite(seed) ? seed >>> 0 : 0;
}

/**
 * Builds the tree of a hierarchical vote. Deterministic: the same
 * configuration gives the same plan on every machine. O(n log n).
 *
 * @throws ConfigError if voters are missing or repeated, a weight, the
 *   cluster size, a threshold, the level deadlines or fixed representatives
 *   are invalid, or a cluster's threshold exceeds its weight.
 *
 * @example
 * ```ts
 * const plan = planHierarchy({ proposal, voters, threshold: { fraction: 0.5, strict: true } });
 * plan.leafOf.get("agent-17")?.id; // e.g. "0.3"
 * ```
 */
export function planHierarchy(config: HierarchyConfig): HierarchyPlan {
  const { proposal } = config;
  const proposalHash = config.proposalHash ?? hashProposal(proposal);
  const clusterSize = config.clusterSize ?? DEFAULT_CLUSTER_SIZE;
  if (!Number.isInteger(clusterSize) || clusterSize < 2) {
    throw new ConfigError(`clusterSize must be an integer ≥ 2, got ${String(clusterSize)}`);
  }
  const backups = config.backups ?? 1;
  if (!Number.isInteger(backups) || backups < 0) {
    throw new ConfigError(`backups must be an integer ≥ 0, got ${String(backups)}`);
  }
  const seed = config.seed ?? defaultHierarchySeed(proposalHash);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ConfigError(`the hierarchy seed must be a uint32, got ${String(seed)}`);
  }
  const thresholds: readonly QuorumThreshold[] = Array.isArray(config.threshold)
    ? config.threshold
    : [config.threshold as QuorumThreshold];
  if (thresholds.length === 0) {
    throw new ConfigError("give at least one threshold (the last one applies to the levels above)");
  }
  const vetoRoles = new Set(config.vetoRoles ?? []);

  const voters = new Map<string, Voter>();
  const units = new Map<string, number>();
  const listed = new Set<string>();
  for (const voter of config.voters) {
    if (listed.has(voter.id)) {
      throw new ConfigError(`voter "${voter.id}" is listed twice; list each agent once`);
    }
    listed.add(voter.id);
    const weight = toWeightUnits(voter.weight);
    if (weight === 0) continue;
    voters.set(voter.id, voter);
    units.set(voter.id, weight);
  }
  if (voters.size === 0) {
    throw new ConfigError(
      "a hierarchical vote needs at least one voter of positive weight; list the eligible agents",
    );
  }

  // Sorted first, so that the order voters were listed in does not matter.
  const order = [...voters.keys()].sort();
  const random = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const swap = order[i] as string;
    order[i] = order[j] as string;
    order[j] = swap;
  }

  // Shape first (members per level), then weights, representatives, deadlines.
  const shape: string[][][] = [];
  let groups = chunkEvenly(order, clusterSize);
  for (let level = 0; ; level++) {
    shape.push(groups);
    if (groups.length === 1) break;
    const ids = groups.map((_, index) => `${level}.${index}`);
    groups = chunkEvenly(ids, clusterSize);
  }
  const levelCount = shape.length;
  const levelDeadlines = config.levelDeadlines ?? defaultLevelDeadlines(proposal, levelCount);
  checkLevelDeadlines(levelDeadlines, levelCount, proposal);

  const score = config.score ?? (() => 0);
  const scores = new Map<string, number>();
  const scoreOf = (id: string): number => {
    let value = scores.get(id);
    if (value === undefined) {
      value = score(voters.get(id) as Voter);
      if (!Number.isFinite(value)) value = Number.NEGATIVE_INFINITY;
      scores.set(id, value);
    }
    return value;
  };
  const rank = (candidates: readonly string[]): string[] =>
    [...candidates]
      .sort((a, b) => scoreOf(b) - scoreOf(a) || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, 1 + backups);

  const fixed = config.representatives;
  const nodes = new Map<string, ClusterNode>();
  const leafOf = new Map<string, ClusterNode>();
  const levels: ClusterNode[][] = [];
  const recordReps: Record<string, readonly string[]> = {};
  for (let level = 0; level < levelCount; level++) {
    const groupsAtLevel = shape[level] as string[][];
    const isRootLevel = level === levelCount - 1;
    const threshold = thresholds[Math.min(level, thresholds.length - 1)] as QuorumThreshold;
    const row: ClusterNode[] = [];
    for (let index = 0; index < groupsAtLevel.length; index++) {
      const members = groupsAtLevel[index] as string[];
      const id = `${level}.${index}`;
      let total = 0;
      let canVeto = false;
      let candidates: string[];
      if (level === 0) {
        for (const member of members) {
          total += units.get(member) as number;
          if (vetoRoles.has((voters.get(member) as Voter).role)) canVeto = true;
        }
        candidates = members;
      } else {
        candidates = [];
        for (const member of members) {
          const child = nodes.get(member) as ClusterNode;
          total += child.units;
          if (child.canVeto) canVeto = true;
          candidates.push(child.representatives[0] as string);
        }
      }
      if (!Number.isSafeInteger(total)) {
        throw new ConfigError(
          "the voters' total weight is too large to count exactly; scale the weights down",
        );
      }
      let representatives: readonly string[] = [];
      if (!isRootLevel) {
        representatives =
          fixed === undefined ? rank(candidates) : checkFixed(fixed, id, candidates);
        recordReps[id] = representatives;
      }
      const tUnits = thresholdUnits(threshold, total);
      if (tUnits > total) {
        throw new ConfigError(
          `the threshold of cluster ${id} (${fromWeightUnits(tUnits)}) exceeds its weight (${fromWeightUnits(total)}), so it could never approve; use a fractional threshold for clusters`,
        );
      }
      const node: ClusterNode = {
        id,
        level,
        index,
        members,
        parent: undefined,
        weight: fromWeightUnits(total),
        units: total,
        canVeto,
        representatives,
        threshold,
        closesAt: levelDeadlines[level] as number,
      };
      row.push(node);
      nodes.set(id, node);
      if (level === 0) for (const member of members) leafOf.set(member, node);
    }
    levels.push(row);
  }
  // Parents are known only once the level above exists; nodes are rebuilt with them.
  for (let level = 1; level < levelCount; level++) {
    for (const parent of levels[level] as ClusterNode[]) {
      for (const childId of parent.members) {
        const child = nodes.get(childId) as ClusterNode;
        const withParent = { ...child, parent: parent.id };
        nodes.set(childId, withParent);
        (levels[child.level] as ClusterNode[])[child.index] = withParent;
      }
    }
  }
  if (levelCount > 1) {
    for (const leaf of levels[0] as ClusterNode[]) {
      for (const member of leaf.members) leafOf.set(member, leaf);
    }
  }
  if (fixed !== undefined) {
    for (const id of Object.keys(fixed)) {
      if (!(id in recordReps)) {
        throw new ConfigError(
          `representatives are given for "${id}", which is not a non-root cluster of this plan`,
        );
      }
    }
  }
  const root = (levels[levelCount - 1] as ClusterNode[])[0] as ClusterNode;
  return {
    proposal,
    proposalHash,
    clusterSize,
    seed,
    levels,
    root,
    nodes,
    leafOf,
    voters,
    vetoRoles,
    levelDeadlines,
    record: { clusterSize, seed, levelDeadlines: [...levelDeadlines], representatives: recordReps },
  };
}

/**
 * The plan of a flat `quorum` vote: one root cluster holding every voter
 * (weight 0 included), closing at the proposal's deadline. Lets the audit
 * treat both protocols alike.
 *
 * @throws ConfigError as `createQuorumRound`.
 */
export function planFlat(config: {
  readonly proposal: Proposal;
  readonly proposalHash?: string;
  readonly voters: readonly Voter[];
  readonly threshold: QuorumThreshold;
  readonly vetoRoles?: readonly string[];
}): HierarchyPlan {
  const { proposal } = config;
  const proposalHash = config.proposalHash ?? hashProposal(proposal);
  const vetoRoles = new Set(config.vetoRoles ?? []);
  const voters = new Map<string, Voter>();
  let total = 0;
  let canVeto = false;
  for (const voter of config.voters) {
    if (voters.has(voter.id)) {
      throw new ConfigError(`voter "${voter.id}" is listed twice; list each agent once`);
    }
    voters.set(voter.id, voter);
    total += toWeightUnits(voter.weight);
    if (vetoRoles.has(voter.role)) canVeto = true;
  }
  const threshold = thresholdUnits(config.threshold, total);
  if (voters.size === 0 || threshold > total || !Number.isSafeInteger(total)) {
    throw new ConfigError(
      "the voters cannot approve anything under this threshold; list the voters and keep the threshold within their total weight",
    );
  }
  const root: ClusterNode = {
    id: "0.0",
    level: 0,
    index: 0,
    members: [...voters.keys()],
    parent: undefined,
    weight: fromWeightUnits(total),
    units: total,
    canVeto,
    representatives: [],
    threshold: config.threshold,
    closesAt: proposal.deadline,
  };
  return {
    proposal,
    proposalHash,
    clusterSize: Math.max(2, voters.size),
    seed: 0,
    levels: [[root]],
    root,
    nodes: new Map([[root.id, root]]),
    leafOf: new Map([...voters.keys()].map((id) => [id, root])),
    voters,
    vetoRoles,
    levelDeadlines: [proposal.deadline],
    record: {
      clusterSize: Math.max(2, voters.size),
      seed: 0,
      levelDeadlines: [proposal.deadline],
      representatives: {},
    },
  };
}

/** Splits `items` into ⌈n/k⌉ groups whose sizes differ by at most one. */
function chunkEvenly<T>(items: readonly T[], size: number): T[][] {
  const count = Math.max(1, Math.ceil(items.length / size));
  const base = Math.floor(items.length / count);
  const extra = items.length % count;
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const n = base + (i < extra ? 1 : 0);
    out.push(items.slice(at, at + n));
    at += n;
  }
  return out;
}

function defaultLevelDeadlines(proposal: Proposal, levelCount: number): number[] {
  const span = proposal.deadline - proposal.ts;
  const out: number[] = [];
  for (let level = 0; level < levelCount; level++) {
    out.push(
      level === levelCount - 1
        ? proposal.deadline
        : proposal.ts + Math.floor((span * (level + 1)) / levelCount),
    );
  }
  return out;
}

function checkLevelDeadlines(
  deadlines: readonly number[],
  levelCount: number,
  proposal: Proposal,
): void {
  if (deadlines.length !== levelCount) {
    throw new ConfigError(
      `this hierarchy has ${levelCount} levels, so give ${levelCount} level deadlines (got ${deadlines.length})`,
    );
  }
  let previous = Number.NEGATIVE_INFINITY;
  for (const deadline of deadlines) {
    if (!Number.isFinite(deadline) || deadline < previous || deadline > proposal.deadline) {
      throw new ConfigError(
        `level deadlines must be non-decreasing times no later than the proposal's deadline (${proposal.deadline}); got [${deadlines.join(", ")}]`,
      );
    }
    previous = deadline;
  }
}

function checkFixed(
  fixed: Readonly<Record<string, readonly string[]>>,
  id: string,
  candidates: readonly string[],
): readonly string[] {
  const given = Object.hasOwn(fixed, id) ? fixed[id] : undefined;
  if (!Array.isArray(given) || given.length === 0) {
    throw new ConfigError(`cluster ${id} has no representative; list at least one`);
  }
  const allowed = new Set(candidates);
  const seen = new Set<string>();
  for (const rep of given) {
    if (!allowed.has(rep) || seen.has(rep)) {
      throw new ConfigError(
        `"${String(rep)}" cannot represent cluster ${id}: representatives must be distinct members (level 0) or primary representatives of its child clusters`,
      );
    }
    seen.add(rep);
  }
  return [...given];
}

/**
 * An empty ballot box for one cluster of the plan: at level 0 a slot per
 * member voter (its weight, and whether its role may veto), above it a slot
 * per child cluster (its total weight and veto); the cluster's own threshold.
 * What an auditor and a coordinator checking a cluster's report count into.
 */
export function clusterBallotBox(plan: HierarchyPlan, node: ClusterNode): BallotBox {
  const slots = new Map<string, BallotSlot>();
  for (const id of node.members) {
    if (node.level === 0) {
      const voter = plan.voters.get(id) as Voter;
      slots.set(id, {
        units: toWeightUnits(voter.weight),
        canVeto: plan.vetoRoles.has(voter.role),
      });
    } else {
      const child = plan.nodes.get(id) as ClusterNode;
      slots.set(id, { units: child.units, canVeto: child.canVeto });
    }
  }
  return new BallotBox(slots, thresholdUnits(node.threshold, node.units), node.units);
}
