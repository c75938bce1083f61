import type { KeyObject } from "node:crypto";
import { SignatureError, toError } from "../errors/index.js";
import { decodePublicKey } from "../identity/keys.js";
import type { AgentCard } from "../registry/agent-card.js";
import {
  checkRevocation,
  OPERATOR_ID,
  type RevocationBody,
  signRevocation,
} from "../registry/revocation.js";
import type { Message } from "../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../wire/codec.js";
import type { Envelope } from "../wire/envelope.js";
import { Gatekeeper } from "./admission.js";
import type { NodeContext, Signer } from "./node-context.js";
import { subjects } from "./subjects.js";

/** How often the audit log is read for revocations made without the bus. */
const POLL_MS = 2000;

/** Logged self-revocations kept until their agent's key is known here. */
const MAX_UNVERIFIED = 10_000;

/** Audit entry kind of a revocation (the signed envelope is its data). */
export const REVOKED_AUDIT_KIND = "registry.revoked";

/** Who revokes: an agent itself, or the operator with its key. */
export type RevocationAuthority = { readonly self: Signer } | { readonly operatorKey: KeyObject };

/**
 * Revocations as a node applies them: it refuses the agent from then on,
 * drops its key and registry entry, and stops it if it is hosted here (its
 * in-flight tasks go back to the queue for the others). Revocations are
 * signed by the operator or by the agent itself, broadcast to every node,
 * and kept in the audit log, from which a node starting later learns them.
 * A revocation signed by anyone else is dead-lettered.
 */
export class Revocations {
  readonly #node: NodeContext;
  readonly #forget: (agentId: string) => void;
  readonly #stopLocal: (agentId: string) => void;
  #subscription: { unsubscribe(): void } | undefined;
  /** The audit log is read from here on the next poll. */
  #nextSeq = 1;
  /** Logged self-revocations (by audit seq) whose agent's key is not known here yet. */
  readonly #unverified = new Map<number, { readonly agent: string; readonly data: unknown }>();
  #cancelPoll: (() => void) | undefined;

  constructor(
    node: NodeContext,
    hooks: {
      /** Drops the agent's trusted key. */
      readonly forget: (agentId: string) => void;
      /** Stops a hosted agent at once (its in-flight tasks are handed back). */
      readonly stopLocal: (agentId: string) => void;
    },
  ) {
    this.#node = node;
    this.#forget = hooks.forget;
    this.#stopLocal = hooks.stopLocal;
  }

  /**
   * Applies the revocations in the audit log, then listens for new ones on
   * the bus, and reads the log again every few seconds (a revocation made
   * by `conclave revoke` on the embedded transport, or a broadcast missed).
   */
  async start(): Promise<void> {
    const { transport, swarm, admission } = this.#node;
    // A card brings the key a waiting self-revocation needs: checked before
    // the card is admitted, not at the next read of the log.
    if (admission instanceof Gatekeeper) admission.revokedByCard = (card) => this.#revokes(card);
    await this.#readLog();
    this.#subscription = transport.subscribe(subjects.revoke(swarm), (m) => this.#onRevoke(m));
    this.#schedulePoll();
  }

  close(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#cancelPoll?.();
    this.#cancelPoll = undefined;
  }

  async #readLog(): Promise<void> {
    const { store } = this.#node;
    // Self-revocations whose agent's key was unknown at the last read: its key may be known now.
    for (const [seq, waiting] of [...this.#unverified]) this.#applyLogged(seq, waiting.data);
    for (;;) {
      const page = await store.auditLog({ fromSeq: this.#nextSeq, limit: 1000 });
      for (const entry of page) {
        this.#nextSeq = entry.seq + 1;
        if (entry.kind === REVOKED_AUDIT_KIND) this.#applyLogged(entry.seq, entry.data);
      }
      if (page.length < 1000) return;
    }
  }

  /**
   * Applies a revocation read from the audit log once it checks out as one
   * heard on the bus does: anyone who can append to the store could have
   * written it. A forged one is reported and ignored; a self-revocation of
   * an agent whose key is not known here yet waits for the next read.
   */
  #applyLogged(seq: number, data: unknown): void {
    const { admission, keys, events } = this.#node;
    this.#unverified.delete(seq);
    let body: RevocationBody;
    try {
      const envelope = decodeEnvelope(JSON.stringify(data ?? null));
      const claimed = envelope.body as { agent?: unknown; authority?: unknown } | null;
      const agent = claimed?.agent;
      if (typeof agent === "string" && keys.revoked(agent)) return;
      if (
        claimed?.authority === "self" &&
        agent === envelope.from &&
        typeof agent === "string" &&
        this.#knownKey(agent) === undefined
      ) {
        this.#defer(seq, agent, data);
        return;
      }
      body = checkRevocation(envelope, {
        operatorKey: admission.policy.operatorKey,
        keyOf: (id) => this.#knownKey(id),
        swarm: this.#node.swarm,
      });
    } catch (error) {
      events.emit({
        type: "error",
        error: `ignoring the revocation at audit seq ${seq}: ${toError(error).message}`,
      });
      return;
    }
    if (!keys.revoked(body.agent)) this.#apply(body);
  }

  /** Keeps a logged self-revocation for the next read; the oldest kept is dropped beyond the bound. */
  #defer(seq: number, agent: string, data: unknown): void {
    this.#unverified.set(seq, { agent, data });
    if (this.#unverified.size <= MAX_UNVERIFIED) return;
    const [oldest] = this.#unverified.keys();
    if (oldest === undefined) return;
    this.#unverified.delete(oldest);
    this.#node.events.emit({
      type: "error",
      error: `ignoring the self-revocation at audit seq ${oldest}: its agent's key never became known here (more than ${MAX_UNVERIFIED} such revocations wait)`,
    });
  }

  /**
   * Whether a logged self-revocation waiting for its agent's key verifies
   * with the key of `card`, which is then refused: applied at once. One
   * signed with another key is left for the next read of the log.
   */
  #revokes(card: AgentCard): boolean {
    if (this.#unverified.size === 0) return false;
    for (const [seq, waiting] of this.#unverified) {
      if (waiting.agent !== card.id) continue;
      let body: RevocationBody;
      try {
        const key = decodePublicKey(card.publicKey);
        body = checkRevocation(decodeEnvelope(JSON.stringify(waiting.data ?? null)), {
          operatorKey: this.#node.admission.policy.operatorKey,
          keyOf: (id) => (id === card.id ? key : undefined),
          swarm: this.#node.swarm,
        });
      } catch {
        continue;
      }
      this.#unverified.delete(seq);
      this.#apply(body);
      return true;
    }
    return false;
  }

  /** The key an agent is known by here: trusted, hosted here, pinned by the swarm file or carried by its admitted card. */
  #knownKey(agentId: string): KeyObject | undefined {
    const { keys, agents, admission, registry } = this.#node;
    const trusted = keys.key(agentId);
    if (trusted !== undefined) return trusted;
    for (const encoded of [
      agents.get(agentId)?.card.publicKey,
      admission.policy.declared.get(agentId)?.publicKey,
      registry.get(agentId)?.card.publicKey,
    ]) {
      if (encoded === undefined || encoded.startsWith("SHA256:")) continue;
      try {
        return decodePublicKey(encoded);
      } catch {
        // Not a key: try the next source.
      }
    }
    return undefined;
  }

  #schedulePoll(): void {
    this.#cancelPoll = this.#node.clock.setTimer(() => {
      this.#readLog().then(
        () => this.#subscription !== undefined && this.#schedulePoll(),
        (error: unknown) => {
          this.#node.events.emit({
            type: "error",
            error: `reading revocations from the audit log: ${toError(error).message}`,
          });
          if (this.#subscription !== undefined) this.#schedulePoll();
        },
      );
    }, POLL_MS);
  }

  /**
   * Revokes `agentId`: applied here at once, recorded in the audit log, and
   * broadcast signed by `authority` (the agent itself, or the operator).
   */
  async revoke(agentId: string, authority: RevocationAuthority, reason?: string): Promise<void> {
    const { clock, transport, swarm, limits, store } = this.#node;
    const body: RevocationBody = {
      agent: agentId,
      authority: "self" in authority ? "self" : "operator",
      swarm,
      ...(reason === undefined ? {} : { reason }),
    };
    const signer =
      "self" in authority ? authority.self : { id: OPERATOR_ID, privateKey: authority.operatorKey };
    const envelope = signRevocation(body, signer, clock);
    if (!("self" in authority)) this.#requireOperatorKey(envelope);
    this.#apply(body);
    await store.appendAudit({ kind: REVOKED_AUDIT_KIND, data: envelope });
    transport.publish(
      subjects.revoke(swarm),
      encodeEnvelope(envelope, { maxBytes: limits.maxEnvelopeBytes }),
    );
  }

  /**
   * Throws `SignatureError` unless `envelope` verifies with this swarm's
   * operator key: every node would refuse it, so it is not applied here
   * either, nor logged or sent.
   */
  #requireOperatorKey(envelope: Envelope<RevocationBody>): void {
    const { admission, swarm } = this.#node;
    try {
      checkRevocation(envelope, {
        operatorKey: admission.policy.operatorKey,
        keyOf: () => undefined,
        swarm,
      });
    } catch (error) {
      throw new SignatureError(
        `the key given to revoke "${envelope.body.agent}" is not this swarm's operator key (operator.publicKey in the swarm file); every node would ignore the revocation, so nothing was revoked: ${toError(error).message}`,
        { cause: error },
      );
    }
  }

  #onRevoke(message: Message): void {
    const { limits, admission, keys, deadLetters } = this.#node;
    let envelope: Envelope;
    let body: RevocationBody;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: limits.maxEnvelopeBytes });
      // Applied here already (its own broadcast coming back, or heard twice):
      // nothing left to do, and the key a self-revocation needs is gone.
      const agent = (envelope.body as { agent?: unknown } | null)?.agent;
      if (typeof agent === "string" && keys.revoked(agent)) return;
      body = checkRevocation(envelope, {
        operatorKey: admission.policy.operatorKey,
        keyOf: (id) => keys.key(id),
        swarm: this.#node.swarm,
      });
    } catch (error) {
      deadLetters.park(message, error);
      return;
    }
    this.#apply(body);
  }

  #apply(body: RevocationBody): void {
    const { admission, registry, clock, events, agents } = this.#node;
    const by = body.authority === "operator" ? "the operator" : "itself";
    try {
      admission.revoke(
        body.agent,
        `agent "${body.agent}" was revoked by ${by}${body.reason ? `: ${body.reason}` : ""}`,
      );
      this.#forget(body.agent);
      for (const event of registry.revoke(body.agent, clock.now())) events.emit(event);
      if (agents.get(body.agent)) this.#stopLocal(body.agent);
    } catch (error) {
      events.emit({ type: "error", error: `revoking ${body.agent}: ${toError(error).message}` });
    }
  }
}
