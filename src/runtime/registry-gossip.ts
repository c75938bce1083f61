// Registry traffic between nodes, kept bounded and authenticated: which
// nodes were heard recently (so a new one is answered with our cards), how
// often such answers may go out, and the signed departure of a node's agents.
import type { KeyObject } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { SignatureError } from "../errors/index.js";
import type { AgentEntry } from "../registry/registry-view.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { signEnvelope, verifyEnvelope } from "../wire/signature.js";

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
