/**
 * Admission by vote (`admission: vote`): an agent the swarm file does not
 * declare asks to join by announcing itself; the swarm's council decides.
 * A node that refuses such a card proposes the privileged action
 * `swarm.admit` with what the card asks for (id, role, weight, owner, key)
 * — once for the whole swarm, however many nodes heard it (an idempotency
 * key in the shared store) — and the voters judge it by their policies
 * like any privileged action (`data.role`, `data.weight`…). Every node
 * grants what an approved, verified `swarm.admit` decision says, from the
 * audit log at start and from the decision event as it happens; the agent's
 * next heartbeat is then admitted with that grant, never more.
 *
 * A decision is sealed into the shared audit log by whichever node ran the
 * round, so it is granted only under the checks the guard of privileged
 * tasks makes: the swarm's configured rule, keys this node trusts, and
 * voters this node admits with the role, weight and key they voted with.
 */

import { DECISION_KIND, decisionProblem } from "../consensus/audit-verify.js";
import type { Decision } from "../consensus/seal.js";
import { toError } from "../errors/index.js";
import type { Grant } from "../registry/admission.js";
import type { AgentCard } from "../registry/agent-card.js";
import { decodeEnvelope } from "../wire/codec.js";
import type { Gatekeeper } from "./admission.js";
import { unadmittedVoter } from "./consensus/approval.js";
import { readAuditLog } from "./consensus/audit-log.js";
import type { ConsensusEngine } from "./consensus/engine.js";
import type { NodeContext } from "./node-context.js";
import { DECIDED_EVENT } from "./subjects.js";

/** The privileged action a join request is. */
export const ADMIT_ACTION = "swarm.admit";

/** What a `swarm.admit` proposal asks for. */
export interface AdmitRequest {
  readonly agent: string;
  readonly role: string;
  readonly weight: number;
  readonly publicKey: string;
  readonly owner?: string;
}

/** The grant an approved decision makes, or undefined when it is not one. */
export function grantOf(decision: Decision): Grant | undefined {
  if (decision.proposal.action !== ADMIT_ACTION || decision.outcome !== "approved")
    return undefined;
  const data = decision.proposal.data as Partial<AdmitRequest> | null;
  if (
    typeof data?.agent !== "string" ||
    typeof data.role !== "string" ||
    typeof data.weight !== "number" ||
    typeof data.publicKey !== "string"
  ) {
    return undefined;
  }
  return {
    agent: data.agent,
    role: data.role,
    weight: data.weight,
    publicKey: data.publicKey,
    ...(typeof data.owner === "string" ? { owner: data.owner } : {}),
    via: "vote",
  };
}

export class VotedAdmission {
  readonly #node: NodeContext;
  readonly #gate: Gatekeeper;
  readonly #engine: ConsensusEngine;
  readonly #asked = new Set<string>();
  /**
   * Approved admissions not granted yet because a voter was not admitted
   * here when they were read (at start, a voter admitted by credential is
   * not heard yet): judged again when the agent they admit is heard.
   */
  readonly #pending = new Map<string, Decision>();
  #subscription: { unsubscribe(): void } | undefined;

  constructor(node: NodeContext, gate: Gatekeeper, engine: ConsensusEngine) {
    this.#node = node;
    this.#gate = gate;
    this.#engine = engine;
  }

  /** Whether this swarm admits by vote (mode `vote` and `swarm.admit` configured). */
  get active(): boolean {
    return this.#gate.policy.mode === "vote" && this.#engine.isPrivileged(ADMIT_ACTION);
  }

  /** Grants every approved admission in the audit log, then follows new decisions. */
  async start(): Promise<void> {
    if (!this.active) return;
    for (const record of await readAuditLog(this.#node.store)) {
      if (record.kind === DECISION_KIND) this.#grant(record.data as Decision);
    }
    const { transport, swarm } = this.#node;
    this.#subscription = transport.subscribe(`${swarm}.event.${DECIDED_EVENT}`, (message) => {
      void this.#onDecided(message.data);
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  /**
   * A card this node refused as not admitted: asks the swarm to vote on it,
   * as the node's first agent (once per agent and key, swarm-wide).
   */
  requested(card: AgentCard): void {
    if (!this.active) return;
    const pending = this.#pending.get(card.id);
    if (pending !== undefined) {
      this.#pending.delete(card.id);
      // Granted now: its next heartbeat is admitted, no need to ask again.
      if (this.#grant(pending, { quiet: true })) return;
    }
    const key = `${card.id}:${card.publicKey}`;
    if (this.#asked.has(key)) return;
    const proposer = [...this.#node.agents.all()].map((a) => a.id).sort()[0];
    if (proposer === undefined) return;
    this.#asked.add(key);
    const request: AdmitRequest = {
      agent: card.id,
      role: card.role,
      weight: card.weight,
      publicKey: card.publicKey,
      ...(card.owner === undefined ? {} : { owner: card.owner }),
    };
    this.#engine
      .propose(proposer, ADMIT_ACTION, request, { key: `admit:${key}` })
      .then((decision) => this.#grant(decision))
      .catch((error: unknown) =>
        this.#node.events.emit({
          type: "error",
          error: `asking the swarm to admit "${card.id}": ${toError(error).message}`,
        }),
      );
  }

  async #onDecided(data: Uint8Array): Promise<void> {
    try {
      const body = decodeEnvelope(data).body as {
        proposal?: unknown;
        action?: unknown;
        outcome?: unknown;
      };
      if (body.action !== ADMIT_ACTION || body.outcome !== "approved") return;
      if (typeof body.proposal !== "string") return;
      const decision = await this.#engine.findDecisionByProposal(body.proposal);
      if (decision !== undefined) this.#grant(decision);
    } catch (error) {
      this.#node.events.emit({
        type: "error",
        error: `reading an admission decision: ${toError(error).message}`,
      });
    }
  }

  /**
   * Grants what a decision approved, once it verifies against this node's
   * configuration and trust (seal, configured rule, votes, tally) and every
   * voter is one this node admits. Returns whether it granted; `quiet`
   * leaves out the error already reported when the decision was first read.
   */
  #grant(decision: Decision, options: { quiet?: boolean } = {}): boolean {
    const grant = grantOf(decision);
    if (grant === undefined) return false;
    const node = this.#node;
    const problem = decisionProblem(decision, {
      privileged: node.privileged,
      roles: node.roles.names,
      trusted: (id) => node.keys.key(id),
    });
    // Every voter admitted here as it voted; one granted by a vote counts
    // before its agent is heard (`votedGrant`).
    const stranger =
      problem === undefined
        ? unadmittedVoter(node, decision, (id) => this.#gate.votedGrant(id))
        : undefined;
    if (problem !== undefined || stranger !== undefined) {
      if (problem === undefined) this.#pending.set(grant.agent, decision);
      if (options.quiet === true) return false;
      node.events.emit({
        type: "error",
        error: `not admitting "${grant.agent}": its admission decision ${problem === undefined ? `counts ${stranger}` : `does not verify (${problem})`}`,
      });
      return false;
    }
    this.#pending.delete(grant.agent);
    this.#gate.grantByVote(grant);
    return true;
  }
}
