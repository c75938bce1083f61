import { toError } from "../errors/index.js";
import {
  type Admission,
  AdmissionError,
  type AdmissionPolicy,
  admitCard,
  type Grant,
  type RefusalCode,
} from "../registry/admission.js";
import type { AgentCard } from "../registry/agent-card.js";
import type { AdmissionGate, NodeContext } from "./node-context.js";

/** Prefix of the store's idempotency keys that pin an agent id to its first key. */
export const PIN_KEY_PREFIX = "registry.pin:";

/** A refusal as remembered for an agent id. */
export interface Refusal {
  readonly code: RefusalCode;
  readonly reason: string;
  /** The key that was refused: a later card with another key is judged afresh. */
  readonly publicKey: string;
}

/**
 * The node's gatekeeper: every card heard (heartbeat or handshake) is
 * admitted or refused here before the registry records it, trust is
 * offered, or anything it sends is accepted. Keys are pinned on first
 * sight in the shared store (first claim wins across nodes and restarts),
 * so a known id keeps its key after it leaves. A refusal is reported once
 * per agent and reason (`agent.refused`), and what the refused agent sends
 * is dead-lettered with its code.
 */
export class Gatekeeper implements AdmissionGate {
  readonly #node: NodeContext;
  readonly #policy: AdmissionPolicy;
  /** Keys pinned per agent id, as read or claimed in the store. */
  readonly #pins = new Map<string, string>();
  readonly #refused = new Map<string, Refusal>();
  readonly #grants = new Map<string, Grant>();
  readonly #voted = new Map<string, Grant>();
  /** Agents whose grant ran out since the last `expire`, however it was noticed. */
  readonly #lapsed = new Set<string>();

  constructor(node: NodeContext, policy: AdmissionPolicy) {
    this.#node = node;
    this.#policy = policy;
  }

  /** Told of each card refused as not admitted (admission by vote asks the swarm). */
  whenNotAdmitted: ((card: AgentCard) => void) | undefined;

  /**
   * Asked of each card before it is judged: whether a revocation that was
   * waiting for this card's key to be checked revokes its agent (a node
   * that started after an agent revoked itself knows the revocation, from
   * the audit log, before it knows the key). The hook applies it; the card
   * is then refused.
   */
  revokedByCard: ((card: AgentCard) => boolean) | undefined;

  get policy(): AdmissionPolicy {
    return this.#policy;
  }

  /**
   * Pins the key of one of this node's own agents (admitted by being
   * configured here). Reports an error when its id is pinned to another
   * key: the other nodes will refuse it (`E_KEY_MISMATCH`).
   */
  async pinLocal(agentId: string, publicKey: string): Promise<void> {
    if (this.#policy.mode === "open") return;
    const pinned = await this.#pin(agentId, publicKey);
    if (pinned !== publicKey) {
      this.#node.events.emit({
        type: "error",
        error: `agent "${agentId}" runs with another key than the one pinned for it in the store; other nodes refuse it (E_KEY_MISMATCH): restore its key file, or re-key it with a credential (conclave admit)`,
      });
    }
  }

  /**
   * Admits or refuses a card. Admitted: returns the card as granted (the
   * registry keeps this one). Refused: reports it (once per reason) and
   * returns undefined.
   */
  async admit(card: AgentCard): Promise<AgentCard | undefined> {
    if (this.#refused.get(card.id)?.code === "E_REVOKED") return undefined;
    if (this.revokedByCard?.(card) === true) return undefined;
    let verdict: Admission;
    try {
      // Only an id the swarm file declares is pinned on sight: a credential
      // or a vote grants a key of its own, and a refused card must not pin
      // its key to an id the operator may declare later (a squatter's key
      // would then lock the genuine agent out, and be admitted instead).
      const pinnedKey =
        this.#policy.mode === "open" || !this.#policy.declared.has(card.id)
          ? undefined
          : await this.#pin(card.id, card.publicKey);
      const voted = this.#voted.get(card.id);
      verdict = admitCard(this.#policy, card, {
        now: this.#node.clock.now(),
        ...(pinnedKey === undefined ? {} : { pinnedKey }),
        ...(voted === undefined ? {} : { voted }),
      });
    } catch (error) {
      this.#node.events.emit({
        type: "error",
        error: `admitting "${card.id}": ${toError(error).message}`,
      });
      return undefined;
    }
    if (!verdict.admitted) {
      this.#refuse(card, verdict.code, verdict.reason);
      if (verdict.code === "E_NOT_ADMITTED") this.whenNotAdmitted?.(card);
      return undefined;
    }
    // Admitted with this key: a refusal of another card under its id (an
    // impostor's key, an expired credential it renewed) no longer stands.
    if (this.#refused.get(card.id)?.code !== "E_REVOKED") this.#refused.delete(card.id);
    this.#grants.set(card.id, { ...verdict.grant, publicKey: card.publicKey });
    return card;
  }

  /** Why an agent is refused, when it is: what it sends is dead-lettered with this. */
  refusal(agentId: string): Refusal | undefined {
    this.#lapse(agentId);
    return this.#refused.get(agentId);
  }

  /** Throws `AdmissionError` for an agent this node refused. */
  assertAdmitted(agentId: string): void {
    this.#lapse(agentId);
    const refusal = this.#refused.get(agentId);
    if (refusal !== undefined) throw new AdmissionError(refusal.code, refusal.reason);
  }

  async admitsRemembered(agentId: string, publicKey: string): Promise<boolean> {
    if (this.#refused.has(agentId)) return false;
    const declared = this.#policy.declared.get(agentId);
    // A credential or a vote is judged on a card; without one, wait to hear it.
    if (declared === undefined && this.#policy.mode !== "open") return false;
    const card: AgentCard = {
      id: agentId,
      role: declared?.role ?? "",
      tags: [],
      capabilities: [],
      weight: declared?.weight ?? 1,
      publicKey,
      ...(declared?.owner === undefined ? {} : { owner: declared.owner }),
    };
    try {
      const pinnedKey =
        this.#policy.mode === "open" ? undefined : await this.#pin(agentId, publicKey);
      return admitCard(this.#policy, card, {
        now: this.#node.clock.now(),
        ...(pinnedKey === undefined ? {} : { pinnedKey }),
      }).admitted;
    } catch {
      return false;
    }
  }

  /** The grant of an admitted agent. */
  grant(agentId: string): Grant | undefined {
    this.#lapse(agentId);
    return this.#grants.get(agentId);
  }

  /** The grant the swarm voted for `agentId`, heard or not since. */
  votedGrant(agentId: string): Grant | undefined {
    return this.#voted.get(agentId);
  }

  /** Records a grant the swarm voted for (an approved `swarm.admit` decision). */
  grantByVote(grant: Grant): void {
    this.#voted.set(grant.agent, grant);
  }

  /**
   * Grants whose time ran out (credentials past `notAfter`): each is refused
   * from now on and returned, so its agent can be dropped. Returned too: the
   * ones found run out since the last call as their agent's messages were
   * checked, which already refused them.
   */
  expire(now: number): string[] {
    for (const [id, grant] of this.#grants) this.#expireGrant(id, grant, now);
    const expired = [...this.#lapsed];
    this.#lapsed.clear();
    return expired;
  }

  /**
   * Refuses `agentId` from now on when its grant ran out, checked as its
   * messages, votes and refusal are asked about: an agent whose credential
   * expired is refused at once, not only when its next card is heard (a
   * node that stops heartbeating would otherwise keep its tasks and votes
   * accepted until the registry drops it).
   */
  #lapse(agentId: string): void {
    const grant = this.#grants.get(agentId);
    if (grant?.expiresAt !== undefined) this.#expireGrant(agentId, grant, this.#node.clock.now());
  }

  /** Drops `grant` and refuses its agent when it ended before `now` (its agent to be dropped by `expire`). */
  #expireGrant(id: string, grant: Grant, now: number): void {
    if (grant.expiresAt === undefined || grant.expiresAt >= now) return;
    this.#grants.delete(id);
    this.#lapsed.add(id);
    const card = this.#node.registry.get(id)?.card;
    this.#refuse(
      { id, publicKey: card?.publicKey ?? grant.publicKey ?? "" },
      "E_CREDENTIAL_EXPIRED",
      `the credential of "${id}" expired at ${new Date(grant.expiresAt).toISOString()}; ask the operator for a new one (conclave admit)`,
    );
  }

  /** Refuses an agent for good (revoked). */
  revoke(agentId: string, reason: string): void {
    this.#grants.delete(agentId);
    this.#refuse({ id: agentId, publicKey: "" }, "E_REVOKED", reason);
  }

  #refuse(card: Pick<AgentCard, "id" | "publicKey">, code: RefusalCode, reason: string): void {
    const previous = this.#refused.get(card.id);
    if (previous?.code === "E_REVOKED") return;
    const granted = this.#grants.get(card.id)?.publicKey;
    if (code !== "E_REVOKED" && granted !== undefined && granted !== card.publicKey) {
      // Another key's card under an admitted agent's id (an impostor, or a
      // stale card): reported, but what the admitted key signs still counts.
      this.#node.events.emit({ type: "agent.refused", agent: card.id, code, reason });
      return;
    }
    this.#refused.set(card.id, { code, reason, publicKey: card.publicKey });
    if (previous?.code === code && previous.publicKey === card.publicKey) return;
    this.#node.events.emit({ type: "agent.refused", agent: card.id, code, reason });
  }

  /** The key pinned for `agentId`, pinning `publicKey` if none is yet (first claim wins). */
  async #pin(agentId: string, publicKey: string): Promise<string> {
    const cached = this.#pins.get(agentId);
    if (cached !== undefined) return cached;
    const claim = await this.#node.store.claimIdempotencyKey(
      `${PIN_KEY_PREFIX}${agentId}`,
      publicKey,
    );
    const pinned =
      claim.first || typeof claim.result !== "string" ? publicKey : (claim.result as string);
    this.#pins.set(agentId, pinned);
    return pinned;
  }
}
