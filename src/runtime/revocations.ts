import type { KeyObject } from "node:crypto";
import { toError } from "../errors/index.js";
import {
  checkRevocation,
  OPERATOR_ID,
  type RevocationBody,
  signRevocation,
} from "../registry/revocation.js";
import type { Message } from "../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../wire/codec.js";
import type { Envelope } from "../wire/envelope.js";
import type { NodeContext, Signer } from "./node-context.js";
import { subjects } from "./subjects.js";

/** How often the audit log is read for revocations made without the bus. */
const POLL_MS = 2000;

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
    const { transport, swarm } = this.#node;
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
    for (;;) {
      const page = await store.auditLog({ fromSeq: this.#nextSeq, limit: 1000 });
      for (const entry of page) {
        this.#nextSeq = entry.seq + 1;
        if (entry.kind !== REVOKED_AUDIT_KIND) continue;
        const body = (entry.data as { body?: RevocationBody } | null)?.body;
        if (body && typeof body.agent === "string" && !this.#node.keys.revoked(body.agent)) {
          this.#apply(body);
        }
      }
      if (page.length < 1000) return;
    }
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
      ...(reason === undefined ? {} : { reason }),
    };
    const signer =
      "self" in authority ? authority.self : { id: OPERATOR_ID, privateKey: authority.operatorKey };
    const envelope = signRevocation(body, signer, clock);
    this.#apply(body);
    await store.appendAudit({ kind: REVOKED_AUDIT_KIND, data: envelope });
    transport.publish(
      subjects.revoke(swarm),
      encodeEnvelope(envelope, { maxBytes: limits.maxEnvelopeBytes }),
    );
  }

  #onRevoke(message: Message): void {
    const { limits, admission, keys, deadLetters } = this.#node;
    let envelope: Envelope;
    let body: RevocationBody;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: limits.maxEnvelopeBytes });
      body = checkRevocation(envelope, {
        operatorKey: admission.policy.operatorKey,
        keyOf: (id) => keys.key(id),
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
