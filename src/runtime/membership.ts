import { StaleHeartbeatError, toError } from "../errors/index.js";
import type { AgentCard } from "../registry/agent-card.js";
import {
  CardProofs,
  checkHeartbeat,
  checkLeave,
  KnownNodes,
  NodeClaimError,
  nodeClaimConflict,
  type SignedCard,
  signCard,
  signHeartbeat,
  signLeave,
  Throttle,
} from "../registry/gossip.js";
import type { RegistryEvent } from "../registry/registry-view.js";
import type { Message } from "../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../wire/codec.js";
import { createEnvelope } from "../wire/envelope.js";
import { type ClockOutlier, ClockWatch } from "./clock-watch.js";
import type { LocalAgent, NodeContext } from "./node-context.js";
import { subjects } from "./subjects.js";
import type { TrustManager } from "./trust.js";

/** Cards per heartbeat envelope: a node of thousands of agents sends several. */
const HEARTBEAT_CHUNK = 500;

/**
 * The node's membership in the swarm: it announces its agents' signed cards
 * in heartbeats, records the cards it hears (each checked), greets a node it
 * has not heard before with its cards, ticks the registry's liveness, and
 * announces its agents' departure when it leaves.
 */
export class Membership {
  readonly #node: NodeContext;
  readonly #clockWatch: ClockWatch;
  readonly #onClock: ((outlier: ClockOutlier | undefined) => void) | undefined;
  readonly #trust: TrustManager;
  /** Nodes heard recently; a new one is answered with our cards (see `#replies`). */
  readonly #knownNodes: KnownNodes;
  readonly #replies: Throttle;
  /** Our agents' cards as signed for this node (each agent signs its own once). */
  readonly #signedCards = new Map<string, SignedCard>();
  /** Card signatures checked in heartbeats heard. */
  readonly #proofs = new CardProofs();
  /** Called when the registry says an agent left (its trust and routes are dropped). */
  readonly #onLeft: (agentId: string) => void;
  #subscriptions: { unsubscribe(): void }[] = [];
  #cancelHeartbeat: (() => void) | undefined;
  #running = false;

  constructor(
    node: NodeContext,
    trust: TrustManager,
    config: {
      /** Silence after which an agent is dropped: a node silent that long is new again when it returns. */
      readonly leftAfterMs: number;
      /** Called when the registry says an agent left (its trust and routes are dropped). */
      readonly onLeft: (agentId: string) => void;
      /**
       * Called after each remote heartbeat with the clock verdict: this
       * node's clock is the odd one out (see `ClockWatch`), or undefined.
       */
      readonly onClock?: (outlier: ClockOutlier | undefined) => void;
    },
  ) {
    this.#node = node;
    this.#trust = trust;
    this.#onLeft = config.onLeft;
    this.#onClock = config.onClock;
    this.#clockWatch = new ClockWatch(config.leftAfterMs);
    const { heartbeatMs } = node.limits;
    this.#knownNodes = new KnownNodes({ expireAfterMs: config.leftAfterMs });
    // Extra card publications for new nodes: at most one per half heartbeat interval.
    this.#replies = new Throttle(node.clock, Math.max(1, heartbeatMs / 2), () => {
      if (this.#running) this.#publishCards();
    });
  }

  /** Listens for heartbeats and leaves, and sends the first heartbeat. */
  start(): void {
    const { transport, swarm } = this.#node;
    this.#running = true;
    this.#subscriptions.push(
      transport.subscribe(subjects.heartbeat(swarm), (m) => {
        void this.#onHeartbeat(m);
      }),
      transport.subscribe(subjects.leave(swarm), (m) => this.#onLeave(m)),
    );
    this.#heartbeat();
  }

  /** Stops heartbeats; with `announce`, tells every node our agents are leaving. */
  stop(announce: boolean): void {
    const wasRunning = this.#running;
    this.#running = false;
    this.#cancelHeartbeat?.();
    this.#replies.cancel();
    if (wasRunning && announce) this.#announceLeave();
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions = [];
  }

  /**
   * Records a card heard in a heartbeat (or carried by a handshake) if
   * admission grants it and it does not conflict with the key pinned for its
   * id; returns whether it was kept. Its agent is then offered a handshake.
   * `listedByItsNode`: the card came in a heartbeat whose signer was found to
   * speak for the card's node; otherwise the card vouches for its node
   * itself (a handshake's), and may not join a node that has other agents
   * (see `nodeClaimConflict`).
   */
  async observeCard(card: AgentCard, subject: string, listedByItsNode = false): Promise<boolean> {
    const { agents, registry, clock, events, admission } = this.#node;
    const local = agents.get(card.id);
    // Our own agents were admitted by being configured here.
    const ours = local !== undefined && local.card.publicKey === card.publicKey;
    if (!ours && (await admission.admit(card)) === undefined) return false;
    const pinned = local?.card.publicKey ?? registry.get(card.id)?.card.publicKey;
    if (pinned !== undefined && pinned !== card.publicKey) {
      events.emit({
        type: "message.rejected",
        subject,
        code: "E_SIGNATURE",
        reason: `a card for "${card.id}" carries a different public key than the one pinned; ignored (revoke the agent first to rotate its key)`,
      });
      return false;
    }
    const conflict = ours || listedByItsNode ? undefined : nodeClaimConflict(card, registry);
    if (conflict !== undefined) {
      events.emit({ type: "message.rejected", subject, code: "E_SIGNATURE", reason: conflict });
      return false;
    }
    for (const event of registry.observe(card, clock.now())) events.emit(event);
    if (!local) this.#trust.consider(card);
    return true;
  }

  /** Publishes a node-level event (`<swarm>.event.<type>`) for every node and dashboard to see. */
  announce(type: string, body: unknown): void {
    const { transport, swarm, clock, nodeId, limits, events } = this.#node;
    try {
      // Signed by no agent: node events carry news, not commands.
      const envelope = createEnvelope({ type, from: nodeId, body: body as never }, { clock });
      transport.publish(
        subjects.event(swarm, type),
        encodeEnvelope(envelope, { maxBytes: limits.maxEnvelopeBytes }),
      );
    } catch (error) {
      events.emit({ type: "error", error: `publishing ${type}: ${toError(error).message}` });
    }
  }

  #heartbeat(): void {
    const { clock, budgets, registry, events } = this.#node;
    const now = clock.now();
    try {
      this.#publishCards();
    } catch (error) {
      // A closed or broken link must not end the process from a timer: say
      // so, and keep ticking (a transport that reconnects carries on; one
      // that gave up is reported by its own closed()).
      events.emit({ type: "error", error: `heartbeat not sent: ${toError(error).message}` });
    }
    this.#replies.ran();
    this.#knownNodes.prune(now);
    // Someone may have funded a halted agent (conclave ledger fund, any node).
    budgets.poll().catch((e: unknown) => events.emit({ type: "error", error: toError(e).message }));
    // An agent whose credential ran out is refused from now on, and leaves
    // at once rather than after `leftAfterMs` of a silence it may never keep.
    const left = this.#node.admission
      .expire(now)
      .flatMap((id) => registry.leave(id, now))
      .concat(registry.tick(now));
    this.#emitLeaving(left);
    this.#cancelHeartbeat = clock.setTimer(() => this.#heartbeat(), this.#node.limits.heartbeatMs);
  }

  /**
   * Publishes our agents' cards, each signed by its own agent, in heartbeats
   * signed by the first of them (see `checkHeartbeat`). A node without
   * agents has nothing to announce.
   */
  #publishCards(): void {
    const { agents, nodeId, clock, transport, swarm, limits } = this.#node;
    const hosted = [...agents.all()];
    const signer = hosted[0];
    if (!signer) return;
    const cards = hosted.map((a) => this.#signedCard(a));
    for (let i = 0; i < cards.length; i += HEARTBEAT_CHUNK) {
      // Every chunk lists its signer's card, so that it can be checked alone.
      const chunk = cards.slice(i, i + HEARTBEAT_CHUNK);
      if (i > 0) chunk.push(cards[0] as SignedCard);
      const envelope = signHeartbeat(signer.signer, { node: nodeId, cards: chunk }, clock);
      transport.publish(
        subjects.heartbeat(swarm),
        encodeEnvelope(envelope, { maxBytes: limits.maxEnvelopeBytes }),
      );
    }
  }

  #signedCard(agent: LocalAgent): SignedCard {
    let signed = this.#signedCards.get(agent.id);
    if (signed === undefined) {
      signed = signCard({ ...agent.card, node: this.#node.nodeId }, agent.signer.privateKey);
      this.#signedCards.set(agent.id, signed);
    }
    return signed;
  }

  /** Tells every node our agents are leaving, signed by one of them (see `checkLeave`). */
  #announceLeave(): void {
    const { agents, nodeId, clock, transport, swarm, limits } = this.#node;
    const signer = agents.first();
    if (!signer) return;
    const ids = [...agents.all()].map((a) => a.id);
    const envelope = signLeave(signer.signer, { node: nodeId, agents: ids }, clock);
    transport.publish(
      subjects.leave(swarm),
      encodeEnvelope(envelope, { maxBytes: limits.maxEnvelopeBytes }),
    );
  }

  /**
   * A heartbeat's cards are recorded once it checks out and its signer is
   * admitted; anything else is dead-lettered with the reason (a refused
   * agent's heartbeats with its refusal code).
   */
  async #onHeartbeat(message: Message): Promise<void> {
    const { keys, clock, nodeId, limits, deadLetters, admission } = this.#node;
    let heard: { node: string; cards: AgentCard[]; signer: AgentCard };
    try {
      const envelope = decodeEnvelope(message.data, { maxBytes: limits.maxEnvelopeBytes });
      const checked = checkHeartbeat(envelope, {
        keyOf: (id) => keys.pinnedKey(id),
        revoked: (id) => keys.revoked(id),
        proofs: this.#proofs,
        now: clock.now(),
      });
      const signer = checked.cards.find((c) => c.id === envelope.from) as AgentCard;
      heard = { ...checked, signer };
      this.#assertSpeaksForNode(signer);
      if (!(await this.observeCard(signer, message.subject, true))) {
        admission.assertAdmitted(signer.id);
      }
    } catch (error) {
      if (error instanceof StaleHeartbeatError && error.node !== nodeId) {
        this.#clockWatch.skewed(error.node, error.offsetMs, clock.now());
        this.#onClock?.(this.#clockWatch.outlier(clock.now()));
      }
      deadLetters.park(message, error);
      return;
    }
    if (heard.node !== nodeId) {
      this.#clockWatch.accepted(heard.node, clock.now());
      this.#onClock?.(this.#clockWatch.outlier(clock.now()));
    }
    // A node we have not heard from has just joined: answer with our cards
    // soon (throttled, so a burst of joins cannot make us republish per
    // heartbeat heard), so it can verify our agents' messages without
    // waiting a heartbeat interval.
    if (heard.node !== nodeId && this.#knownNodes.observe(heard.node, clock.now())) {
      this.#replies.request();
    }
    for (const card of heard.cards) {
      if (card !== heard.signer) await this.observeCard(card, message.subject, true);
    }
  }

  /**
   * Throws `NodeClaimError` when a heartbeat's signer may not speak for the
   * node it names: that node has agents here and the signer is not one of
   * them (see `nodeClaimConflict`). What it lists is then ignored with it,
   * as a forged heartbeat's is.
   */
  #assertSpeaksForNode(signer: AgentCard): void {
    const local = this.#node.agents.get(signer.id);
    if (local !== undefined && local.card.publicKey === signer.publicKey) return;
    const conflict = nodeClaimConflict(signer, this.#node.registry);
    if (conflict !== undefined) throw new NodeClaimError(conflict);
  }

  /** A signed leave removes the signer's node's agents; an unsigned or forged one is dead-lettered. */
  #onLeave(message: Message): void {
    const { keys, registry, clock, limits, deadLetters } = this.#node;
    try {
      const envelope = decodeEnvelope(message.data, { maxBytes: limits.maxEnvelopeBytes });
      const ids = checkLeave(envelope, {
        keyOf: (id) => keys.key(id),
        entry: (id) => registry.get(id),
        revoked: (id) => keys.revoked(id),
      });
      const now = clock.now();
      // As when it falls silent: its routes are dropped.
      this.#emitLeaving(ids.flatMap((id) => registry.leave(id, now)));
    } catch (error) {
      deadLetters.park(message, error);
    }
  }

  /** Reports the registry's leave events, dropping each departed agent's routes first. */
  #emitLeaving(leaving: readonly RegistryEvent[]): void {
    for (const event of leaving) {
      if (event.type === "agent.left") this.#onLeft(event.card.id);
      this.#node.events.emit(event);
    }
  }
}
