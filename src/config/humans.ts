// People who vote on privileged actions: the `humans:` section names them
// with the public key their votes are signed with (`conclave keys gen
// alice`), and a privileged action lists them among its voters as
// `{ human: alice, weight: 2 }`. A human's vote is an Ed25519-signed
// consensus vote like an agent's, counted by the same rule and re-checked by
// `conclave audit verify`.
import { z } from "zod";
import { isRecord, pattern, voteWeight } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";
import { poolWorkerIds } from "./pools.js";

/** The role a human voter has in a proposal's rule: no agent role may take this name. */
export const HUMAN_ROLE = "human";

/** A human among a privileged action's voters. */
export interface HumanVoterConfig {
  readonly id: string;
  readonly weight: number;
  /** The human's Ed25519 public key (base64url), from the `humans:` section. */
  readonly publicKey: string;
}

const HUMAN_ID = /^[A-Za-z0-9_-]{1,128}$/;
const PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/;

/** The `humans:` section as written. */
export const humansSchema = z
  .record(
    z.string().regex(HUMAN_ID, { error: "a human's name: 1 to 128 letters, digits, '_' or '-'" }),
    z.strictObject({
      publicKey: pattern(PUBLIC_KEY, "a base64url Ed25519 public key (43 characters)").describe(
        "The key the person's votes are signed with (conclave keys gen <name> prints it).",
      ),
    }),
  )
  .default({})
  .describe(
    "People who may vote on privileged actions, by name, with their public key; list them in an action's voters as { human: <name>, weight: <n> }.",
  );

/** A voter entry that names a human, as written in `privileged.<action>.voters`. */
export const humanVoterSchema = z.strictObject({
  human: z.string().regex(HUMAN_ID, { error: "a human's name from the humans: section" }),
  weight: voteWeight().default(1),
});

type Issue = { path: (string | number)[]; message: string };

/** Cross-field checks of human voters: declared, not agents, not a role name, and only where a person can vote. */
export function checkHumans(
  value: Record<string, unknown>,
  addIssue: (issue: Issue) => void,
): void {
  const humans = isRecord(value["humans"]) ? value["humans"] : {};
  const names = Object.keys(humans);
  const agents = Array.isArray(value["agents"]) ? value["agents"] : [];
  for (const a of agents) {
    if (isRecord(a) && typeof a["id"] === "string" && names.includes(a["id"])) {
      addIssue({
        path: ["humans", a["id"]],
        message: `"${a["id"]}" is both an agent and a human; give the person another name`,
      });
    }
  }
  // A pool's workers are agents too, declared by these ids.
  const workers = names.length === 0 ? new Map() : poolWorkerIds(value["pools"], agents);
  for (const name of names) {
    const role = workers.get(name);
    if (role !== undefined) {
      addIssue({
        path: ["humans", name],
        message: `"${name}" is the id of one of pools.${role}'s workers, and a vote is counted by its voter's id; give the person another name`,
      });
    }
  }
  if (names.length > 0 && isRecord(value["roles"]) && HUMAN_ROLE in value["roles"]) {
    addIssue({
      path: ["roles", HUMAN_ROLE],
      message: `the role name "${HUMAN_ROLE}" is reserved for human voters; rename the role`,
    });
  }
  const privileged = isRecord(value["privileged"]) ? value["privileged"] : {};
  for (const [action, settings] of Object.entries(privileged)) {
    if (!isRecord(settings) || !Array.isArray(settings["voters"])) continue;
    // The vote counts each person once (voters are keyed by id): listed twice,
    // one weight would be silently dropped.
    const firstIndexOf = new Map<string, number>();
    settings["voters"].forEach((voter: unknown, index: number) => {
      if (!isRecord(voter) || typeof voter["human"] !== "string") return;
      const first = firstIndexOf.get(voter["human"]);
      if (first === undefined) firstIndexOf.set(voter["human"], index);
      else {
        addIssue({
          path: ["privileged", action, "voters", index, "human"],
          message: `"${voter["human"]}" is already a voter of "${action}" (voters.${first}); list each person once, with the weight they should have`,
        });
      }
      if (!names.includes(voter["human"])) {
        addIssue({
          path: ["privileged", action, "voters", index, "human"],
          message: `no human "${voter["human"]}" under humans:${didYouMean(voter["human"], names)}; declare them with their public key (conclave keys gen ${voter["human"]})`,
        });
      }
      const protocol = settings["protocol"] ?? "quorum";
      if (protocol !== "quorum") {
        addIssue({
          path: ["privileged", action, "protocol"],
          message: `a human votes in a quorum round only (${quoteList(["quorum"])}); "${action}" uses ${String(protocol)}: set protocol: quorum`,
        });
      }
    });
  }
}

/** The humans among an action's voters, with their keys. */
export function buildHumanVoters(
  voters: readonly (string | { human: string; weight: number })[] | undefined,
  humans: Readonly<Record<string, { publicKey: string }>>,
): HumanVoterConfig[] {
  return (voters ?? []).flatMap((v) =>
    typeof v === "string"
      ? []
      : [{ id: v.human, weight: v.weight, publicKey: humans[v.human]?.publicKey ?? "" }],
  );
}
