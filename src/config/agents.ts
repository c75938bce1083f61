// The `agents:` section of a swarm file: each agent's id, role, tags,
// capabilities, vote weight, budget, voter policy, owner, pinned key,
// membership credential and LLM settings.
import { z } from "zod";
import { concurrency } from "./delivery.js";
import { freeForm, integer, isRecord, path, pattern, voteWeight } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";
import { type AgentLlmConfig, agentLlmSchema } from "./models.js";
import type { RoleConfig } from "./roles.js";

/** One agent with its role's settings already applied. */
export interface AgentConfig {
  readonly id: string;
  /** A key of `SwarmConfig.roles`. */
  readonly role: string;
  readonly tags: readonly string[];
  readonly capabilities: readonly string[];
  /** Vote weight in consensus; > 0. */
  readonly weight: number;
  /** In-flight tasks for this agent: its own override, else its role's. */
  readonly concurrency: number;
  /** Free-form settings handed to the agent's handlers. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The agent's credit account; absent: not metered. */
  readonly budget?: { readonly initial: number; readonly minBalance: number };
  /** Path of the agent's voter policy (YAML rules in CEL); absent: approve unless a vote handler says otherwise. */
  readonly policy?: string;
  /** Who operates the agent; agents sharing an owner bidding in one auction are suspected shills. */
  readonly owner?: string;
  /** The agent's pinned key: base64url public key or `SHA256:` fingerprint; absent: pinned on first sight. */
  readonly publicKey?: string;
  /** Path of a membership credential (JSON) the agent's card carries, for nodes that do not declare it. */
  readonly credential?: string;
  /** Set for an LLM agent: its model, prompt, tools and limits. */
  readonly llm?: AgentLlmConfig;
}

const AGENT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const PINNED_KEY = /^([A-Za-z0-9_-]{43}|SHA256:[A-Za-z0-9_-]{43})$/;

const label = z.string().min(1).max(128);

const agentSchema = z
  .strictObject({
    id: pattern(AGENT_ID, "1 to 128 letters, digits, '_' or '-'").describe(
      "Agent id, unique in the swarm.",
    ),
    role: z.string().min(1).describe("A role defined under roles."),
    tags: z.array(label).default([]).describe("Labels for discovery, e.g. [ts, backend]."),
    capabilities: z.array(label).default([]).describe("What the agent can do, for routing."),
    weight: voteWeight().default(1).describe("Vote weight in consensus."),
    concurrency: concurrency.optional(),
    options: freeForm.default({}).describe("Free-form settings passed to the agent's handlers."),
    budget: z
      .strictObject({
        initial: integer(0, Number.MAX_SAFE_INTEGER)
          .default(0)
          .describe("Credits minted to the agent once, the first time the swarm starts."),
        minBalance: integer(0, Number.MAX_SAFE_INTEGER)
          .default(0)
          .describe("Below this balance the agent is halted until topped up."),
      })
      .optional()
      .describe("The agent's credit account; without it the agent is not metered."),
    policy: path
      .optional()
      .describe(
        "The agent's voter policy: a YAML file of CEL rules over proposals, relative to the swarm file. Without it the agent approves unless a vote handler decides.",
      ),
    owner: label
      .optional()
      .describe(
        "Who operates the agent (a team, a key fingerprint); agents with one owner bidding in one auction are refused as shills.",
      ),
    publicKey: pattern(
      PINNED_KEY,
      "a base64url Ed25519 public key (43 characters) or a SHA256: fingerprint",
    )
      .optional()
      .describe(
        "Pins the agent's key (conclave keys gen prints it): a card with another key is refused. Without it the key is pinned on first sight.",
      ),
    credential: path
      .optional()
      .describe(
        "A membership credential file (conclave admit) the agent's card carries, so that nodes whose swarm file does not declare it admit it (admission: credential).",
      ),
    llm: agentLlmSchema.optional(),
  })
  .describe("One agent of the swarm.");

/** The section as written. */
export const agentsSchema = z
  .array(agentSchema)
  .min(1, { error: "expected at least one agent" })
  .describe("The agents of the swarm.");

/** Refuses duplicate agent ids and roles that are not defined. */
export function checkAgents(
  agents: readonly unknown[],
  roles: Record<string, unknown> | undefined,
  ctx: z.RefinementCtx,
): void {
  const firstIndexOf = new Map<string, number>();
  const roleNames = roles === undefined ? [] : Object.keys(roles);
  agents.forEach((agent, index) => {
    if (!isRecord(agent)) return;
    const id = agent["id"];
    if (typeof id === "string") {
      const first = firstIndexOf.get(id);
      if (first === undefined) firstIndexOf.set(id, index);
      else {
        ctx.addIssue({
          code: "custom",
          path: ["agents", index, "id"],
          message: `duplicate agent id ${JSON.stringify(id)}, already used by agents.${first}; ids must be unique in the swarm`,
        });
      }
    }
    const role = agent["role"];
    if (roles !== undefined && typeof role === "string" && role.length > 0 && !(role in roles)) {
      const defined =
        roleNames.length === 0 ? "no roles are defined" : `defined roles: ${quoteList(roleNames)}`;
      ctx.addIssue({
        code: "custom",
        path: ["agents", index, "role"],
        message: `role ${JSON.stringify(role)} is not defined under roles${didYouMean(role, roleNames)}; ${defined}`,
      });
    }
  });
}

/** The agents with their in-flight limit resolved: their own, else their role's, else the default. */
export function buildAgents(
  agents: z.output<typeof agentsSchema>,
  roles: Readonly<Record<string, RoleConfig>>,
  defaultConcurrency: number,
): AgentConfig[] {
  return agents.map(
    (agent): AgentConfig => ({
      ...agent,
      // The cross-field check guarantees the role exists; the fallback only satisfies the compiler.
      concurrency: agent.concurrency ?? roles[agent.role]?.concurrency ?? defaultConcurrency,
    }),
  );
}
