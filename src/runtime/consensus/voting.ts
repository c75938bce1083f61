/**
 * How a hosted agent decides its vote: a rules policy (a YAML file of CEL
 * rules, `agents[].policy` in the swarm file), a handler registered with
 * `agent.vote(handler)` (the hook an LLM judge uses), both (the rules are
 * asked first, and a rejection stops there), or neither (approve).
 */
import type { PolicyVerdict } from "../../consensus/policy.js";
import type { RuntimeProposal } from "../../consensus/rule.js";
import type { VoteChoice } from "../../consensus/types.js";
import type { Envelope } from "../../wire/envelope.js";

/** What a vote handler may do besides returning its verdict. */
export interface VoteContext {
  /** The voting agent. */
  readonly agentId: string;
  /** The voting agent's role. */
  readonly role: string;
  /** The proposal voted on (with its rule). */
  readonly proposal: RuntimeProposal;
  /**
   * Signs a vote on this proposal as this agent, without sending it. With
   * {@link VoteContext.send}, for simulations of faulty voters.
   */
  sign(choice: VoteChoice, reason?: string): Envelope;
  /**
   * Signs any envelope as this agent (`corr` the proposal id), without
   * sending it: e.g. a `consensus.pbft.commit` body `{ view, seq, digest }`.
   * With {@link VoteContext.send}, for simulations of Byzantine replicas.
   */
  signMessage(type: string, body: unknown): Envelope;
  /**
   * Sends an envelope as is: a `consensus.pbft.*` message on this
   * proposal's PBFT subject, anything else on its vote subject. Honest
   * voters never need it: the runtime signs and sends the verdict the
   * handler returns (and runs PBFT for them). Simulations use it to play a
   * Byzantine voter.
   */
  send(envelope: Envelope): void;
}

/**
 * Decides an agent's vote. Returns the verdict the runtime signs and sends,
 * or `null` when the agent casts no vote of its own (it stays silent, or
 * already sent what it wanted through {@link VoteContext.send}). A thrown
 * error makes the agent abstain, with the error as the reason.
 *
 * Under `pbft` the verdict decides the agent's replica: `approve` takes part
 * in PBFT (prepare, commit), `reject` or `abstain` stays silent in PBFT and
 * publishes the signed refusal, `null` runs no replica (a crashed one).
 *
 * @example
 * ```ts
 * swarm.agent({ id: "judge", role: "auditor" }).vote(async (proposal) => {
 *   const ok = await llmJudge(proposal);
 *   return { choice: ok ? "approve" : "reject", reasons: ["the judge said so"] };
 * });
 * ```
 */
export type VoteHandler = (
  proposal: RuntimeProposal,
  ctx: VoteContext,
) => PolicyVerdict | null | Promise<PolicyVerdict | null>;
