// Registry traffic between nodes, kept bounded and authenticated: which
// nodes were heard recently (so a new one is answered with our cards), how
// often such answers may go out, signed heartbeats carrying cards each
// signed by its own agent, and the signed departure of a node's agents.
import type { KeyObject } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { InvalidEnvelopeError, SignatureError, StaleHeartbeatError } from "../errors/index.js";
import { decodePublicKey } from "../identity/keys.js";
import { canonicalize } from "../wire/canonical.js";
import { createEnvelope, type Envelope, signaturePattern } from "../wire/envelope.js";
import { signEnvelope, signText, verifyEnvelope, verifyText } from "../wire/signature.js";
import { type AgentCard, agentStatuses } from "./agent-card.js";
import type { AgentEntry, RegistryView } from "./registry-view.js";

/** Envelope type of a node's signed departure notice. */
export const LEAVE_TYPE = "registry.leave";

/**
 * The nodes this node has heard a heartbeat from, each forgotten after
 * `expireAfterMs` of silence (and the oldest dropped beyond `maxNodes`), so
 * a long-running node does not accumulate every node id ever seen, and a
 * node that comes back after going quiet is greeted again.
 */
export class KnownNodes {
  /** Node id → last heard; insertion order is least recently heard first. */
  readonly #lastHeard = new Map<string, number>();
  readonly #expireAfterMs: number;
  readonly #maxNodes: number;

  constructor(config: { readonly expireAfterMs: number; readonly maxNodes?: number }) {
    this.#expireAfterMs = config.expireAfterMs;
    this.#maxNodes = config.maxNodes ?? 10_000;
  }

  /** Records a heartbeat of `node`; true when it was not known (never heard, or expired). */
  observe(node: string, now: number): boolean {
    const last = this.#lastHeard.get(node);
    this.#lastHeard.delete(node);
    this.#lastHeard.set(node, now);
    if (this.#lastHeard.size > this.#maxNodes) {
      const oldest = this.#lastHeard.keys().next().value;
      if (oldest !== undefined) this.#lastHeard.delete(oldest);
    }
    return last === undefined || now - last > this.#expireAfterMs;
  }

  /** Forgets the nodes silent for longer than the expiry. */
  prune(now: number): void {
    for (const [node, last] of this.#lastHeard) {
      if (now - last <= this.#expireAfterMs) break;
      this.#lastHeard.delete(node);
    }
  }

  has(node: string): boolean {
    return this.#lastHeard.has(node);
  }

  get size(): number {
    return this.#lastHeard.size;
  }
}

/**
 * Runs `send` at most once per `minIntervalMs`: a request within the
 * interval is coalesced into one run at its end. Answering every new node
 * at once would let a burst of joins (or forged heartbeats with fresh node
 * ids) make every node republish all its cards once per heartbeat heard.
 */
export class Throttle {
  readonly #clock: Clock;
  readonly #minIntervalMs: number;
  readonly #send: () => void;
  #lastAt = Number.NEGATIVE_INFINITY;
  #cancelTimer: (() => void) | undefined;

  constructor(clock: Clock, minIntervalMs: number, send: () => void) {
    this.#clock = clock;
    this.#minIntervalMs = minIntervalMs;
    this.#send = send;
  }

  request(): void {
    if (this.#cancelTimer) return;
    const wait = this.#lastAt + this.#minIntervalMs - this.#clock.now();
    if (wait <= 0) {
      this.#run();
      return;
    }
    this.#cancelTimer = this.#clock.setTimer(() => {
      this.#cancelTimer = undefined;
      this.#run();
    }, wait);
  }

  /** Records a run made some other way (e.g. the periodic heartbeat). */
  ran(): void {
    this.#lastAt = this.#clock.now();
  }

  cancel(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  #run(): void {
    this.#lastAt = this.#clock.now();
    this.#send();
  }
}

/** Body of a `registry.leave` envelope. */
export interface LeaveBody {
  readonly node: string;
  readonly agents: readonly string[];
}

/**
 * The departure of a node's agents, signed by one of them (`from`): a
 * receiver accepts it only for agents of the signer's own node.
 */
export function signLeave(
  signer: { readonly id: string; readonly privateKey: KeyObject },
  body: LeaveBody,
  clock: Clock,
): Envelope<LeaveBody> {
  const draft = createEnvelope(
    { type: LEAVE_TYPE, from: signer.id, body: { node: body.node, agents: [...body.agents] } },
    { clock },
  );
  return signEnvelope(draft, signer.privateKey) as Envelope<LeaveBody>;
}

/** What checking a leave needs to know about agents. */
export interface LeaveCheckContext {
  /** The key `id` is known by here (trusted, or pinned from its card); undefined for a stranger. */
  keyOf(id: string): KeyObject | undefined;
  /** The registry's entry for `id` (with the node it runs on), if any. */
  entry(id: string): AgentEntry | undefined;
  revoked(id: string): boolean;
  /**
   * How far the signer's clock may run behind ours: an agent that joined
   * (as seen here) more than this after the leave was signed is kept, so a
   * replayed old leave does not remove an agent that came back. Default 30 s.
   */
  readonly maxClockSkewMs?: number;
}

const DEFAULT_MAX_CLOCK_SKEW_MS = 30_000;

/**
 * Checks a `registry.leave` envelope and returns the agents that may be
 * removed: those the registry knows on the signer's node, not seen joining
 * after the leave was signed (a replayed old leave). Throws `SignatureError`
 * for an unsigned leave, one from an unknown or revoked signer (or one not in
 * the registry), a bad signature, or a signer that speaks for another node.
 */
export function checkLeave(envelope: Envelope, context: LeaveCheckContext): string[] {
  const body = envelope.body as Partial<LeaveBody> | null;
  const node = body?.node;
  const agents = body?.agents;
  if (typeof node !== "string" || !Array.isArray(agents)) {
    throw new SignatureError(
      `registry.leave from "${envelope.from}" has no {node, agents} body; ignored`,
    );
  }
  if (envelope.sig === undefined) {
    throw new SignatureError(
      `registry.leave from "${envelope.from}" is unsigned; a leave must be signed by an agent of the leaving node`,
    );
  }
  if (context.revoked(envelope.from)) {
    throw new SignatureError(`registry.leave signed by revoked agent "${envelope.from}"; ignored`);
  }
  const key = context.keyOf(envelope.from);
  if (key === undefined) {
    throw new SignatureError(
      `registry.leave signed by "${envelope.from}", whose key this node does not know; ignored`,
    );
  }
  verifyEnvelope(envelope, key);
  const signerNode = context.entry(envelope.from)?.card.node;
  if (signerNode !== node) {
    throw new SignatureError(
      signerNode === undefined
        ? `registry.leave signed by "${envelope.from}", which is not in the registry; ignored`
        : `registry.leave signed by "${envelope.from}" of node "${signerNode}" speaks for node "${node}"; an agent may only announce the departure of its own node`,
    );
  }
  const skew = context.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  return agents.filter((id): id is string => {
    if (typeof id !== "string") return false;
    const entry = context.entry(id);
    return entry !== undefined && entry.card.node === node && entry.joinedAt <= envelope.ts + skew;
  });
}

// ---- which node an agent is on ------------------------------------------------

/**
 * A node announced by an agent that is not one of its agents, while the node
 * has agents. A leave is accepted for the signer's node only (see
 * `checkLeave`): an agent that could put itself on another node by saying so
 * could then sign that node's agents away.
 */
export class NodeClaimError extends SignatureError {}

/** What judging an agent's claim to a node needs: the registry's entry by id, and its count of agents per node. */
export type NodeClaimContext = Pick<RegistryView, "get" | "agentsOn">;

/**
 * Why `card`, which vouches for its node itself (a heartbeat's signer, a
 * handshake's challenger), may not put its agent on the node it names, or
 * undefined when it may. A node that has agents in the registry is spoken
 * for by them only: an agent not among them is refused there until they all
 * left or timed out. A new agent of a node is listed in the heartbeat one of
 * its agents signs, and is not judged here; an agent restarted on a new node
 * moves at once, as nobody else is on that node.
 */
export function nodeClaimConflict(
  card: Pick<AgentCard, "id" | "node">,
  context: NodeClaimContext,
): string | undefined {
  const node = card.node;
  if (node === undefined || context.get(card.id)?.card.node === node) return undefined;
  if (context.agentsOn(node) === 0) return undefined;
  return `"${card.id}" announces node "${node.slice(0, 128)}", which has agents here, and it is not one of them: only a node's own agents speak for it (a new agent of a node is listed in the heartbeat one of them signs; a node restarted under the same id with other agents is heard once the old ones left or timed out); ignored`;
}

// ---- heartbeats -----------------------------------------------------------------

/** Envelope type of a node's heartbeat (its agents' cards). */
export const HEARTBEAT_TYPE = "registry.heartbeat";

/**
 * A card as a heartbeat carries it: bound to the node hosting the agent and
 * signed by the agent's own key, so that no one else can change what it says
 * (role, weight, owner, node) or attach it to another node.
 */
export interface SignedCard extends AgentCard {
  readonly node: string;
  /** Ed25519 signature (base64url) by the card's `publicKey` over {@link cardSigningText}. */
  readonly sig: string;
}

/** Body of a `registry.heartbeat` envelope. */
export interface HeartbeatBody {
  readonly node: string;
  readonly cards: readonly SignedCard[];
}

/**
 * What a card's signature covers: the RFC 8785 canonical JSON of
 * `{"card": <the card without sig>, "type": "registry.card"}`. The type keeps
 * a card signature from ever passing as the signature of anything else.
 */
export function cardSigningText(card: AgentCard): string {
  const { sig: _sig, ...unsigned } = card as AgentCard & { sig?: unknown };
  return canonicalize({ card: unsigned, type: "registry.card" });
}

/** Signs `card` (which names its node) with its agent's private key. */
export function signCard(
  card: AgentCard & { readonly node: string },
  privateKey: KeyObject,
): SignedCard {
  const { sig: _sig, ...unsigned } = card as AgentCard & { node: string; sig?: unknown };
  return { ...unsigned, sig: signText(cardSigningText(unsigned), privateKey) };
}

/**
 * The heartbeat of a node: its agents' signed cards, in an envelope signed by
 * one of those agents (`from`), whose timestamp makes it fresh.
 */
export function signHeartbeat(
  signer: { readonly id: string; readonly privateKey: KeyObject },
  body: HeartbeatBody,
  clock: Clock,
): Envelope<HeartbeatBody> {
  const draft = createEnvelope(
    {
      type: HEARTBEAT_TYPE,
      from: signer.id,
      body: { node: body.node, cards: [...body.cards] } as never,
    },
    { clock },
  );
  return signEnvelope(draft, signer.privateKey) as Envelope<HeartbeatBody>;
}

/**
 * Card signatures this node checked, with the text each covered. A node
 * hears the same signed cards every heartbeat interval: the signature
 * arithmetic runs once per card, later heartbeats compare the text. The
 * text holds the card's public key, so the same signature over the same
 * text is the same check. Bounded; the oldest is dropped first.
 */
export class CardProofs {
  readonly #checked = new Map<string, string>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** Whether `card.sig` is its own key's signature over what the card says. */
  valid(card: SignedCard): boolean {
    const text = cardSigningText(card);
    if (this.#checked.get(card.sig) === text) return true;
    let ok: boolean;
    try {
      ok = verifyText(text, card.sig, decodePublicKey(card.publicKey));
    } catch {
      ok = false;
    }
    if (ok) {
      this.#checked.set(card.sig, text);
      if (this.#checked.size > this.#max) {
        const oldest = this.#checked.keys().next().value;
        if (oldest !== undefined) this.#checked.delete(oldest);
      }
    }
    return ok;
  }
}

/** What checking a heartbeat needs to know. */
export interface HeartbeatCheckContext {
  /** The key `id` is known by here (trusted, or pinned from its card); undefined for a stranger. */
  keyOf(id: string): KeyObject | undefined;
  revoked(id: string): boolean;
  readonly proofs: CardProofs;
  /** Now, on this node's clock. */
  readonly now: number;
  /** How far the signer's clock may differ from ours before a heartbeat counts as stale. Default 30 s. */
  readonly maxClockSkewMs?: number;
}

/** Whether a value has the shape of an agent card (what a heartbeat may carry). */
export function isAgentCard(value: unknown): value is AgentCard {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  return (
    typeof c["id"] === "string" &&
    /^[A-Za-z0-9_-]{1,128}$/.test(c["id"]) &&
    typeof c["role"] === "string" &&
    strings(c["tags"]) &&
    strings(c["capabilities"]) &&
    typeof c["weight"] === "number" &&
    Number.isFinite(c["weight"]) &&
    typeof c["publicKey"] === "string" &&
    /^[A-Za-z0-9_-]{43}$/.test(c["publicKey"]) &&
    (c["node"] === undefined || typeof c["node"] === "string") &&
    (c["owner"] === undefined || typeof c["owner"] === "string") &&
    (c["team"] === undefined || typeof c["team"] === "string") &&
    (c["lead"] === undefined || typeof c["lead"] === "string") &&
    (c["leads"] === undefined || strings(c["leads"])) &&
    (c["status"] === undefined || (agentStatuses as readonly unknown[]).includes(c["status"])) &&
    (c["credential"] === undefined ||
      (typeof c["credential"] === "object" && c["credential"] !== null))
  );
}

function isSignedCard(value: unknown): value is SignedCard {
  if (!isAgentCard(value)) return false;
  const c = value as unknown as Record<string, unknown>;
  return (
    typeof c["node"] === "string" && typeof c["sig"] === "string" && signaturePattern.test(c["sig"])
  );
}

/**
 * Checks a `registry.heartbeat` envelope and returns its node and cards
 * (without their signatures). Throws `InvalidEnvelopeError` for a body that
 * is not `{node, cards}` with well-formed signed cards, and `SignatureError`
 * when the heartbeat is unsigned, signed by no agent it lists or by a revoked
 * one, with a key other than the one pinned for the signer, forged, stale
 * (signed more than the clock skew away from now: a replay), or when a card
 * names another node or its own signature does not match what it says.
 */
export function checkHeartbeat(
  envelope: Envelope,
  context: HeartbeatCheckContext,
): { node: string; cards: AgentCard[] } {
  const body = envelope.body as Partial<HeartbeatBody> | null;
  const node = body?.node;
  const cards = body?.cards;
  if (typeof node !== "string" || !Array.isArray(cards) || !cards.every(isSignedCard)) {
    throw new InvalidEnvelopeError(
      `heartbeat from "${envelope.from}" has no {node, cards} body with well-formed agent cards; each card needs id, role, tags, capabilities, weight, a base64url publicKey, its node and its agent's sig, and a status, if any, of ${agentStatuses.join(", ")}`,
    );
  }
  const what = `registry.heartbeat of node "${node.slice(0, 128)}" from "${envelope.from}"`;
  if (envelope.sig === undefined) {
    throw new SignatureError(
      `${what} is unsigned; a heartbeat must be signed by one of the agents it lists`,
    );
  }
  const signerCard = cards.find((c) => c.id === envelope.from);
  if (signerCard === undefined) {
    throw new SignatureError(`${what} is signed by an agent it does not list; ignored`);
  }
  if (context.revoked(envelope.from)) {
    throw new SignatureError(`${what} is signed by revoked agent "${envelope.from}"; ignored`);
  }
  const pinned = context.keyOf(envelope.from);
  const key = pinned ?? decodePublicKey(signerCard.publicKey);
  if (pinned !== undefined && !pinned.equals(decodePublicKey(signerCard.publicKey))) {
    throw new SignatureError(
      `${what} lists its signer with a different public key than the one pinned for it; ignored (revoke the agent first to rotate its key)`,
    );
  }
  verifyEnvelope(envelope, key);
  const skew = context.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (Math.abs(context.now - envelope.ts) > skew) {
    throw new StaleHeartbeatError(
      `${what} was signed ${Math.round(Math.abs(context.now - envelope.ts) / 1000)} s ${envelope.ts > context.now ? "ahead of" : "behind"} this node's clock, beyond the ${skew / 1000} s allowed: ${envelope.ts > context.now ? "its node's clock or this one needs synchronising (NTP)" : "a replay, or its node's clock or this one needs synchronising (NTP)"}`,
      node,
      envelope.ts - context.now,
    );
  }
  const accepted: AgentCard[] = [];
  for (const card of cards) {
    if (card.node !== node) {
      throw new SignatureError(
        `${what} carries the card of "${card.id}" for node "${card.node.slice(0, 128)}"; a node may only list its own agents`,
      );
    }
    if (!context.proofs.valid(card)) {
      throw new SignatureError(
        `${what} carries a card for "${card.id}" whose signature does not match what it says: changed after its agent signed it, or signed with another key; ignored`,
      );
    }
    const { sig: _sig, ...plain } = card;
    accepted.push(plain);
  }
  return { node, cards: accepted };
}
