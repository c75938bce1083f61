/**
 * What an agent says about itself when it announces or heartbeats. Plain data
 * (no methods, no closures) so that a process can hold tens of thousands of
 * them cheaply and a card can travel as JSON unchanged.
 */

/** Whether an agent takes new work. Undefined on a card means `active`. */
export const agentStatuses = ["active", "draining", "halted"] as const;

/** `active` takes work; `draining` finishes in-flight work only; `halted` takes none (e.g. out of credits). */
export type AgentStatus = (typeof agentStatuses)[number];

/**
 * An agent's public description, as held by the registry and used for
 * discovery and routing.
 *
 * @example
 * ```ts
 * const card: AgentCard = {
 *   id: "01J9ZB6Q4C2S3V7X8Y9Z0A1B2C",
 *   role: "reviewer",
 *   tags: ["typescript", "security"],
 *   capabilities: ["code_review"],
 *   weight: 1,
 *   publicKey: "MCowBQYDK2VwAyEA…",
 * };
 * ```
 */
export interface AgentCard {
  /** Stable agent id (a ULID). */
  readonly id: string;
  /** The role work is routed by, e.g. `reviewer`. */
  readonly role: string;
  /** Free-form labels for discovery; a query matches when the card has all asked tags. */
  readonly tags: readonly string[];
  /** Task types or skills the agent offers; matched like tags. */
  readonly capabilities: readonly string[];
  /** Vote weight in consensus. */
  readonly weight: number;
  /** Ed25519 public key, base64url. Trust is established against it by handshake, not by the card. */
  readonly publicKey: string;
  /** The node (process) hosting the agent, when known. */
  readonly node?: string;
  /** Undefined means `active`. */
  readonly status?: AgentStatus;
  /** Who operates the agent, as the swarm file says; bidders sharing an owner are suspected shills. */
  readonly owner?: string;
  /**
   * A membership credential signed by the swarm's operator (`conclave
   * admit`), for nodes whose swarm file does not declare the agent. Its
   * shape is checked by admission (see `registry/admission.ts`).
   */
  readonly credential?: unknown;
  /** The team the agent is a member of (`teams:` in the swarm file): its lead's delegations reach it. */
  readonly team?: string;
  /** That team's lead: whom the agent answers to. */
  readonly lead?: string;
  /** The teams the agent leads. */
  readonly leads?: readonly string[];
}

/** The card's status with the default applied. */
export function statusOf(card: AgentCard): AgentStatus {
  return card.status ?? "active";
}

/**
 * Whether the agent should be offered new work. Routing candidates are
 * usually `registry.find({ role, cardStatus: "active" })`, which is the same test.
 */
export function isAcceptingWork(card: AgentCard): boolean {
  return statusOf(card) === "active";
}

/**
 * Whether two cards say the same thing. Tags and capabilities compare in
 * order: a sender that reorders them produces an `agent.updated`, which is
 * harmless and cheaper than set comparison on every heartbeat.
 */
export function sameCard(a: AgentCard, b: AgentCard): boolean {
  return (
    a === b ||
    (a.id === b.id &&
      a.role === b.role &&
      a.weight === b.weight &&
      a.publicKey === b.publicKey &&
      a.node === b.node &&
      a.owner === b.owner &&
      a.team === b.team &&
      a.lead === b.lead &&
      sameList(a.leads ?? [], b.leads ?? []) &&
      statusOf(a) === statusOf(b) &&
      sameList(a.tags, b.tags) &&
      sameList(a.capabilities, b.capabilities))
  );
}

/** True when `have` contains every element of `want`. */
export function hasAll(have: readonly string[], want: readonly string[]): boolean {
  for (const item of want) if (!have.includes(item)) return false;
  return true;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
