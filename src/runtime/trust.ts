import { type KeyObject, randomBytes } from "node:crypto";
import { OtherSwarmError, SignatureError, toError, UnknownSignerError } from "../errors/index.js";
import { decodePublicKey } from "../identity/keys.js";
import type { AgentCard } from "../registry/agent-card.js";
import { isAgentCard } from "../registry/gossip.js";
import type { Message } from "../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../wire/codec.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { signEnvelope, verifyEnvelope, verifyEnvelopeOffThread } from "../wire/signature.js";
import type { KeyRing, NodeContext, Signer } from "./node-context.js";
import type { ProvedSigners } from "./proved-signers.js";
import { SWARM_HEADER } from "./subjects.js";

/** Subject a node answers handshakes on. */
export const handshakeSubject = (swarm: string, node: string) => `${swarm}.handshake.${node}`;

/** What the trust manager needs besides the node. */
export interface TrustConfig {
  /** How long a handshake step waits for its answer. */
  readonly timeoutMs: number;
  /**
   * How long after its start a node cannot yet know every live agent: at
   * least the registry's `leftAfterMs` (every live agent announces itself
   * within it), and long enough for a peer process restarting at the same
   * time to come back.
   */
  readonly settleMs: number;
  /**
   * Learns a remote card carried by a challenge (its signature proves the
   * challenger holds the card's key). Returns false when the card conflicts
   * with a pinned key.
   */
  learn(card: AgentCard): Promise<boolean>;
  /** Where the keys proved are kept across restarts, if anywhere. */
  readonly proved?: ProvedSigners;
}

const nonce = () => randomBytes(32).toString("base64url");

/**
 * A signature that does not match a key proved in an earlier run (`earlierRun`)
 * may be the agent's new key (its node came back with another one, not heard
 * yet): an unknown signer, which waits for the handshake, not a forgery.
 */
function remembered(envelope: Envelope, error: unknown, earlierRun: boolean): unknown {
  return error instanceof SignatureError && earlierRun
    ? new UnknownSignerError(envelope.from)
    : error;
}

/**
 * Explicit trust between agents of different nodes. A node accepts work,
 * votes or bids from a remote agent only once that agent has proved, by a
 * mutual challenge-response, that it holds the private key of the card it
 * announced:
 *
 * 1. challenge: node A's signer C sends `{nonce: nA}` signed by C to the
 *    target agent X's node;
 * 2. response: X verifies C's signature (C's card must be known) and answers
 *    `{nonce: nA, counter: nB}` signed by X; A checks it and trusts X;
 * 3. confirm: C sends `{counter: nB}` signed by C; X's node checks it and
 *    trusts C.
 *
 * A revoked agent (see `Revocations`) has no key here any more, and the
 * registry ignores its id and key.
 */
export class TrustManager implements KeyRing {
  readonly #trusted = new Map<string, KeyObject>();
  /** The card key (encoded) each remote agent proved by handshake: a card with another key asks again. */
  readonly #provedKey = new Map<string, string>();
  /** Agents trusted on a proof of an earlier run (`TrustConfig.proved`), not proved again yet. */
  readonly #provedBefore = new Set<string>();
  readonly #attempted = new Map<string, number>();
  readonly #pendingConfirm = new Map<string, { challenger: string; counter: string; at: number }>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #node: NodeContext;
  readonly #config: TrustConfig;
  /** When `start()` ran; until then the node has heard nobody. */
  #startedAt: number | undefined;

  constructor(node: NodeContext, config: TrustConfig) {
    this.#node = node;
    this.#config = config;
  }

  async start(): Promise<void> {
    this.#startedAt = this.#node.clock.now();
    // What handshakes proved before a restart, as far as admission still
    // grants it without a card (revocations in the audit log are applied next).
    for (const [id, publicKey] of (await this.#config.proved?.load()) ?? []) {
      if (this.#trusted.has(id) || this.revoked(id)) continue;
      if (!(await this.#node.admission.admitsRemembered(id, publicKey))) continue;
      try {
        this.#trusted.set(id, decodePublicKey(publicKey));
        this.#provedKey.set(id, publicKey);
        this.#provedBefore.add(id);
      } catch {
        // Not a key: proved anew when the agent is heard.
      }
    }
    const t = this.#node.transport;
    const a = t.subscribe(
      handshakeSubject(this.#node.swarm, this.#node.nodeId),
      // Nobody awaits the handler: a throw must not become an unhandled
      // rejection, which would end the process.
      (m) =>
        void this.#onHandshake(m).catch((error: unknown) => {
          this.#node.events.emit({
            type: "error",
            error: `answering a handshake on ${m.subject}: ${toError(error).message}`,
          });
        }),
    );
    this.#unsubscribe.push(() => a.unsubscribe());
  }

  close(): void {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe.length = 0;
  }

  /** Trusts a local agent's key (no handshake needed within a node). */
  trustLocal(agentId: string, key: KeyObject): void {
    this.#trusted.set(agentId, key);
  }

  /** The key of a trusted agent; undefined for unknown, unproven or revoked agents. */
  key(agentId: string): KeyObject | undefined {
    return this.#trusted.get(agentId);
  }

  pinnedKey(agentId: string): KeyObject | undefined {
    return this.#provedBefore.has(agentId) ? undefined : this.#trusted.get(agentId);
  }

  revoked(agentId: string): boolean {
    return this.#node.registry.isRevoked(agentId);
  }

  mayBecomeTrusted(agentId: string): boolean {
    if (this.revoked(agentId)) return false;
    if (this.#node.registry.get(agentId) !== undefined) return true;
    // A node that has just started has not heard every live agent yet (a
    // process restarted beside another restarting one): a stranger now may
    // announce itself within `settleMs`.
    const started = this.#startedAt;
    return started === undefined || this.#node.clock.now() - started < this.#config.settleMs;
  }

  verify(envelope: Envelope): void {
    const key = this.#signerKey(envelope);
    if (key === undefined) return;
    const earlierRun = this.#provedBefore.has(envelope.from);
    try {
      verifyEnvelope(envelope, key);
    } catch (error) {
      throw remembered(envelope, error, earlierRun);
    }
  }

  verifyOffThread(envelope: Envelope): Promise<void> | undefined {
    const key = this.#signerKey(envelope);
    if (key === undefined) return undefined;
    // Whether the key was proved in an earlier run is read now, with the
    // key: a handshake may prove the agent's new key while the check runs,
    // and the old key's mismatch is then still the wait for it, not a forgery.
    const earlierRun = this.#provedBefore.has(envelope.from);
    let checking: Promise<void> | undefined;
    try {
      checking = verifyEnvelopeOffThread(envelope, key);
    } catch (error) {
      throw remembered(envelope, error, earlierRun);
    }
    if (checking === undefined || !earlierRun) return checking;
    return checking.catch((error: unknown) => {
      throw remembered(envelope, error, earlierRun);
    });
  }

  /** The key to check the envelope against; undefined for an unsigned envelope the policy allows. */
  #signerKey(envelope: Envelope): KeyObject | undefined {
    this.#node.admission.assertAdmitted(envelope.from);
    if (this.revoked(envelope.from)) {
      throw new SignatureError(`agent "${envelope.from}" was revoked; its messages are refused`);
    }
    const signedFor = envelope.headers?.[SWARM_HEADER];
    if (signedFor !== undefined && signedFor !== this.#node.swarm) {
      throw new OtherSwarmError(signedFor, this.#node.swarm);
    }
    if (envelope.sig === undefined) {
      if (this.#node.limits.signing === "required") {
        throw new SignatureError(
          `envelope ${envelope.id} from "${envelope.from}" is unsigned and this swarm requires signatures; sign it with the sender's Ed25519 key (docs/PROTOCOL.md)`,
        );
      }
      return undefined;
    }
    const key = this.#trusted.get(envelope.from);
    if (!key || this.#staleProof(envelope.from)) throw new UnknownSignerError(envelope.from);
    return key;
  }

  /**
   * An earlier run's proof of a key the agent no longer announces (its node
   * came back with another key): wait for the handshake with the new one
   * instead of refusing what it signed as forged.
   */
  #staleProof(agentId: string): boolean {
    if (!this.#provedBefore.has(agentId)) return false;
    const card = this.#node.registry.get(agentId)?.card;
    return card !== undefined && card.publicKey !== this.#provedKey.get(agentId);
  }

  /**
   * Forgets an agent (revoked): it must prove itself again. An agent that
   * merely went silent (its node partitioned, paused or restarting) is not
   * forgotten: the key its handshake proved still checks what it signed,
   * and its tasks queued meanwhile must not die as from an unknown signer.
   */
  forget(agentId: string): void {
    this.#trusted.delete(agentId);
    this.#provedKey.delete(agentId);
    this.#provedBefore.delete(agentId);
    this.#attempted.delete(agentId);
    this.#config.proved?.forget(agentId);
  }

  /**
   * Starts a handshake with a remote agent heard in a heartbeat, unless it is
   * trusted, ours, or was tried within the last `timeoutMs`.
   */
  consider(card: AgentCard): void {
    if (!card.node || card.node === this.#node.nodeId) return;
    // Trusted, unless it comes back with another key than it proved (a node
    // restarted with fresh keys after it was dropped): that one is proved anew.
    if (this.#trusted.has(card.id) && this.#provedKey.get(card.id) === card.publicKey) return;
    if (this.#node.registry.isRevoked(card.id)) return;
    const now = this.#node.clock.now();
    const last = this.#attempted.get(card.id);
    if (last !== undefined && now - last < this.#config.timeoutMs) return;
    this.#attempted.set(card.id, now);
    // Right after a start the peer is often not listening yet: the next
    // heartbeat tries again, so a failure here is a retry, not an error.
    this.#challenge(card).catch((error: unknown) => {
      this.#node.events.emit({
        type: "trust.retrying",
        agent: card.id,
        reason: `handshake with ${card.id} failed, will retry: ${toError(error).message}`,
      });
    });
  }

  async #challenge(card: AgentCard): Promise<void> {
    const signer = this.#node.agents.first()?.signer;
    if (!signer) return;
    const key = decodePublicKey(card.publicKey);
    const nA = nonce();
    const challenge = this.#sign(
      signer,
      "handshake.challenge",
      { nonce: nA, card: this.#localCard(signer.id) ?? null },
      card.id,
    );
    const reply = await this.#node.transport.request(
      handshakeSubject(this.#node.swarm, card.node as string),
      this.#encode(challenge),
      { timeoutMs: this.#config.timeoutMs },
    );
    const response = decodeEnvelope(reply.data, { maxBytes: this.#node.limits.maxEnvelopeBytes });
    if (response.type === "handshake.error") {
      throw new SignatureError(
        `agent ${card.id} refused the challenge: ${JSON.stringify(response.body)}`,
      );
    }
    const body = response.body as { nonce?: unknown; counter?: unknown };
    if (response.type !== "handshake.response" || response.from !== card.id || body.nonce !== nA) {
      throw new SignatureError(
        `agent ${card.id} answered the challenge with the wrong nonce or identity`,
      );
    }
    verifyEnvelope(response, key);
    if (typeof body.counter !== "string")
      throw new SignatureError(`agent ${card.id} sent no counter-challenge`);
    // Revoked while the challenge was in flight: the proof must not bring it back.
    if (this.revoked(card.id)) return;
    this.#proved(card.id, key, card.publicKey);
    const confirm = this.#sign(signer, "handshake.confirm", { counter: body.counter }, card.id);
    await this.#node.transport.request(
      handshakeSubject(this.#node.swarm, card.node as string),
      this.#encode(confirm),
      { timeoutMs: this.#config.timeoutMs },
    );
  }

  /** Answers one handshake step; returns what `reply` returned, for early exits. */
  async #onHandshake(message: Message): Promise<undefined> {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: this.#node.limits.maxEnvelopeBytes });
    } catch {
      return undefined;
    }
    const reply = (signer: Signer | undefined, type: string, body: unknown): undefined => {
      if (!message.reply) return undefined;
      const data = signer
        ? this.#encode(this.#sign(signer, type, body, envelope.from))
        : this.#encode(
            createEnvelope(
              { type, from: this.#node.nodeId, body: body as never },
              { clock: this.#node.clock },
            ),
          );
      this.#node.transport.publish(message.reply, data);
      return undefined;
    };
    if (
      typeof envelope.body !== "object" ||
      envelope.body === null ||
      Array.isArray(envelope.body)
    ) {
      return reply(undefined, "handshake.error", { code: "E_BAD_HANDSHAKE" });
    }
    const target =
      envelope.to === undefined ? undefined : this.#node.agents.get(envelope.to)?.signer;
    // Only a card of the shape a heartbeat's may have is learnt (or checked against).
    const claimed = (envelope.body as { card?: unknown }).card;
    const carried = isAgentCard(claimed) ? claimed : undefined;
    const challengerCard =
      this.#node.registry.get(envelope.from)?.card ??
      (carried && carried.id === envelope.from && !this.#node.registry.isRevoked(carried.id)
        ? carried
        : undefined);
    if (!target) return reply(undefined, "handshake.error", { code: "E_NO_SUCH_AGENT" });
    if (!challengerCard || this.#node.registry.isRevoked(envelope.from)) {
      return reply(undefined, "handshake.error", { code: "E_UNKNOWN_CHALLENGER" });
    }
    let challengerKey: KeyObject;
    try {
      challengerKey = decodePublicKey(challengerCard.publicKey);
      verifyEnvelope(envelope, challengerKey);
    } catch {
      this.#node.events.emit({
        type: "message.rejected",
        subject: message.subject,
        code: "E_SIGNATURE",
        reason: `handshake from "${envelope.from}" is not signed by the key of its card`,
      });
      return reply(undefined, "handshake.error", { code: "E_SIGNATURE" });
    }
    const body = envelope.body as { nonce?: unknown; counter?: unknown };
    if (carried && carried.id === envelope.from && !(await this.#config.learn(carried))) {
      const refusal = this.#node.admission.refusal(envelope.from);
      return reply(
        undefined,
        "handshake.error",
        refusal ? { code: refusal.code, reason: refusal.reason } : { code: "E_KEY_CONFLICT" },
      );
    }
    const refusal = this.#node.admission.refusal(envelope.from);
    if (refusal) {
      return reply(undefined, "handshake.error", { code: refusal.code, reason: refusal.reason });
    }
    if (envelope.type === "handshake.challenge" && typeof body.nonce === "string") {
      const counter = nonce();
      this.#pendingConfirm.set(`${envelope.from}>${target.id}`, {
        challenger: envelope.from,
        counter,
        at: this.#node.clock.now(),
      });
      return reply(target, "handshake.response", { nonce: body.nonce, counter });
    }
    if (envelope.type === "handshake.confirm") {
      const key = `${envelope.from}>${target.id}`;
      const pending = this.#pendingConfirm.get(key);
      if (!pending || pending.counter !== body.counter) {
        return reply(undefined, "handshake.error", { code: "E_BAD_CONFIRM" });
      }
      this.#pendingConfirm.delete(key);
      this.#proved(envelope.from, challengerKey, challengerCard.publicKey);
      return reply(undefined, "handshake.ok", {});
    }
    return reply(undefined, "handshake.error", { code: "E_BAD_HANDSHAKE" });
  }

  /** A handshake proved that `agentId` holds the key of its card. */
  #proved(agentId: string, key: KeyObject, publicKey: string): void {
    if (this.revoked(agentId)) return;
    this.#trusted.set(agentId, key);
    this.#provedKey.set(agentId, publicKey);
    this.#provedBefore.delete(agentId);
    this.#config.proved?.remember(agentId, publicKey);
    this.#node.events.emit({ type: "agent.trusted", agent: agentId });
  }

  #sign(signer: Signer, type: string, body: unknown, to?: string): Envelope {
    const draft = createEnvelope(
      { type, from: signer.id, body: body as never, ...(to ? { to } : {}) },
      { clock: this.#node.clock },
    );
    return signEnvelope(draft, signer.privateKey);
  }

  /** The card this node announces for a local agent. */
  #localCard(agentId: string): AgentCard | undefined {
    const agent = this.#node.agents.get(agentId);
    return agent ? { ...agent.card, node: this.#node.nodeId } : undefined;
  }

  #encode(envelope: Envelope): Uint8Array {
    return encodeEnvelope(envelope, { maxBytes: this.#node.limits.maxEnvelopeBytes });
  }
}
