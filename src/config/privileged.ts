// The `privileged:` section of a swarm file: the task types that never run
// without a sealed approval, the consensus protocol that decides each, who
// votes (roles, and people: see humans.ts), the threshold and the veto.
import { z } from "zod";
import {
  expecting,
  type IssueInput,
  integer,
  isRecord,
  MAX_VOTE_WEIGHT,
  voteWeight,
} from "./fields.js";
import { type HumanVoterConfig, humanVoterSchema } from "./humans.js";
import { describeValue, didYouMean, quoteList } from "./messages.js";

type Context = z.RefinementCtx;

/** Approving weight a privileged action needs: absolute, or a fraction of the voters' total weight. */
export type ThresholdConfig =
  | { readonly weight: number }
  | { readonly fraction: number; readonly strict?: boolean };

/** Consensus protocol of a privileged action; `auto` picks one by the selection matrix. */
export type ConsensusProtocolName = "quorum" | "hierarchical" | "pbft" | "auto";

/** One privileged action (a task type that never runs without a sealed approval). */
export interface PrivilegedActionConfig {
  readonly protocol: ConsensusProtocolName;
  readonly threshold: ThresholdConfig;
  /** Roles whose agents vote; every role of the swarm when not set in the file. */
  readonly voters: readonly string[];
  /** People who vote too, each with the weight this action gives them (quorum only). */
  readonly humans: readonly HumanVoterConfig[];
  /** Roles whose rejection vetoes the proposal outright. */
  readonly vetoRoles: readonly string[];
  /** How long a proposal stays open, in ms. */
  readonly deadlineMs: number;
  /** Members per cluster (hierarchical). */
  readonly clusterSize?: number;
  /** What `auto` must tolerate. */
  readonly faultTolerance: "none" | "crash" | "byzantine";
}

const thresholdSchema = z
  .union(
    [
      z.strictObject({
        weight: voteWeight().describe(
          "Approving weight needed, e.g. 4 with weights 2.5, 1, 2, 1.5.",
        ),
      }),
      z.strictObject({
        fraction: z
          .number({ error: expecting("a number in (0, 1]") })
          .gt(0, { error: expecting("a number in (0, 1]") })
          .lte(1, { error: expecting("a number in (0, 1]") })
          .describe("Share of the voters' total weight needed, e.g. 0.6667."),
        strict: z
          .boolean()
          .optional()
          .describe("true: more than the fraction; false (default): at least the fraction."),
      }),
    ],
    {
      error: (issue: IssueInput) =>
        issue.input === undefined
          ? undefined
          : `expected { weight: <number> } or { fraction: <number in (0, 1]>, strict?: <boolean> }, got ${describeValue(issue.input)}`,
    },
  )
  .describe("Approving weight needed: { weight } (absolute) or { fraction } of the voters' total.");

const roleList = z.array(z.string().min(1));

export const privilegedActionSchema = z
  .strictObject({
    protocol: z
      .enum(["quorum", "hierarchical", "pbft", "auto"])
      .default("quorum")
      .describe(
        "quorum: weighted signed votes; hierarchical: clusters with representatives (large swarms); pbft: Byzantine fault tolerant (3f+1 voters); auto: chosen by the selection matrix.",
      ),
    threshold: thresholdSchema.default({ fraction: 0.5, strict: true }),
    voters: z
      .array(z.union([z.string().min(1), humanVoterSchema]))
      .optional()
      .describe(
        "Roles whose agents vote, and people ({ human: <name>, weight: <n> }). Default: every role of the swarm.",
      ),
    vetoRoles: roleList
      .default([])
      .describe("Roles whose rejection vetoes the proposal outright; they must be voters."),
    deadlineMs: integer(10, 86_400_000)
      .default(5000)
      .describe("How long a proposal stays open, in ms; undecided by then: no-quorum."),
    clusterSize: integer(2, 10_000)
      .optional()
      .describe("Members per cluster for hierarchical (default 5)."),
    faultTolerance: z
      .enum(["none", "crash", "byzantine"])
      .default("crash")
      .describe("For protocol auto: the failures the vote must survive."),
  })
  .describe("A privileged action: its handler runs only with a sealed approval.");

/** PBFT needs 3f + 1 replicas to tolerate f traitors: fewer than 4 tolerate none. */
const PBFT_MIN_VOTERS = 4;

export function checkPrivileged(
  action: string,
  settings: Record<string, unknown>,
  roles: Record<string, unknown>,
  agents: readonly unknown[],
  ctx: Context,
): void {
  const at = (...rest: (string | number)[]) => ["privileged", action, ...rest];
  const roleNames = Object.keys(roles);
  const listed = (key: "voters" | "vetoRoles"): string[] | undefined => {
    const list = settings[key];
    if (!Array.isArray(list)) return undefined;
    list.forEach((role, index) => {
      if (typeof role === "string" && !(role in roles)) {
        ctx.addIssue({
          code: "custom",
          path: at(key, index),
          message: `role ${JSON.stringify(role)} is not defined under roles${didYouMean(role, roleNames)}; defined roles: ${quoteList(roleNames)}`,
        });
      }
    });
    return list.filter((r): r is string => typeof r === "string");
  };
  const voters = listed("voters") ?? roleNames;
  const vetoRoles = listed("vetoRoles") ?? [];
  vetoRoles.forEach((role, index) => {
    if (role in roles && !voters.includes(role)) {
      ctx.addIssue({
        code: "custom",
        path: at("vetoRoles", index),
        message: `veto role ${JSON.stringify(role)} is not among the voters (${quoteList(voters)}); a role that does not vote cannot veto, so add it to voters`,
      });
    }
  });
  const electorate = agents.filter(
    (a): a is Record<string, unknown> =>
      isRecord(a) && typeof a["role"] === "string" && voters.includes(a["role"]),
  );
  // People listed among the voters ({ human, weight }) count with their weight.
  const humans = (Array.isArray(settings["voters"]) ? settings["voters"] : []).filter(
    (v): v is Record<string, unknown> => isRecord(v) && typeof v["human"] === "string",
  );
  const humanWeight = humans.reduce(
    (sum, h) => sum + (typeof h["weight"] === "number" ? h["weight"] : 1),
    0,
  );
  if (voters.length === 0 && humans.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: at("voters"),
      message: `voters is empty, so "${action}" could never be approved; list the roles whose agents vote (e.g. voters: [${roleNames[0] ?? "council"}]), or leave voters out to let every role vote`,
    });
    return;
  }
  if (electorate.length === 0 && humans.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: at("voters"),
      message: `no agent has a voter role (${quoteList(voters)}), so "${action}" could never be approved; add agents of those roles or change voters`,
    });
    return;
  }
  const total =
    humanWeight +
    electorate.reduce((sum, a) => sum + (typeof a["weight"] === "number" ? a["weight"] : 1), 0);
  if (total > MAX_VOTE_WEIGHT) {
    ctx.addIssue({
      code: "custom",
      path: at("voters"),
      message: `the voters' total weight (${total}) is above ${MAX_VOTE_WEIGHT}, the most a vote can count exactly, so every proposal of "${action}" would fail; lower the weights`,
    });
  }
  const threshold = settings["threshold"];
  if (isRecord(threshold) && typeof threshold["weight"] === "number") {
    if (threshold["weight"] > total + 1e-9) {
      ctx.addIssue({
        code: "custom",
        path: at("threshold", "weight"),
        message: `expected at most the voters' total weight (${total}), got ${threshold["weight"]}: "${action}" could never be approved; lower the threshold or add voters`,
      });
    }
  }
  const protocol = settings["protocol"];
  if (protocol === "pbft" && electorate.length < PBFT_MIN_VOTERS) {
    ctx.addIssue({
      code: "custom",
      path: at("protocol"),
      message: `pbft needs at least ${PBFT_MIN_VOTERS} voters (3f + 1 with f ≥ 1), "${action}" has ${electorate.length}; use quorum or add voters`,
    });
  }
  if (settings["clusterSize"] !== undefined && protocol !== "hierarchical" && protocol !== "auto") {
    ctx.addIssue({
      code: "custom",
      path: at("clusterSize"),
      message: `clusterSize applies to the hierarchical protocol, but "${action}" uses ${String(protocol)}; remove it or set protocol: hierarchical`,
    });
  }
}
