/**
 * Revocations: who may take an agent out of a swarm, and the signed message
 * that does it. Only the swarm's operator (its key, from the swarm file) or
 * the agent itself may revoke an agent; a decision of the swarm
 * (`swarm.revoke`, a privileged action) is the third way, checked where
 * decisions are. Pure: no IO.
 */
import type { KeyObject } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { SignatureError } from "../errors/index.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { signEnvelope, verifyEnvelope } from "../wire/signature.js";

/** Envelope type of a revocation. */
export const REVOKE_TYPE = "registry.revoke";
/** The `from` of a revocation signed with the operator's key. */
export const OPERATOR_ID = "operator";

/** Body of a `registry.revoke` envelope. */
export interface RevocationBody {
  /** The agent revoked. */
  readonly agent: string;
  /** `operator`: signed by the operator's key; `self`: signed by the agent itself. */
  readonly authority: "operator" | "self";
  /** Why, for the audit log and the `agent.left` event. */
  readonly reason?: string;
  /**
   * The swarm it is for. One operator key may serve several swarms: without
   * it, a revocation could be replayed from one swarm into another.
   */
  readonly swarm?: string;
}

/** Signs a revocation: with the operator's key, or an agent revoking itself. */
export function signRevocation(
  body: RevocationBody,
  signer: { readonly id: string; readonly privateKey: KeyObject },
  clock: Clock,
): Envelope<RevocationBody> {
  const from = body.authority === "operator" ? OPERATOR_ID : body.agent;
  if (body.authority === "self" && signer.id !== body.agent) {
    throw new SignatureError(
      `agent "${signer.id}" may revoke only itself; the operator revokes other agents (conclave revoke)`,
    );
  }
  const draft = createEnvelope({ type: REVOKE_TYPE, from, body: { ...body } as never }, { clock });
  return signEnvelope(draft, signer.privateKey) as Envelope<RevocationBody>;
}

/** What checking a revocation needs. */
export interface RevocationCheckContext {
  /** The operator's public key; undefined: no operator revocations are accepted. */
  readonly operatorKey: KeyObject | undefined;
  /** The trusted key of an agent (for a self-revocation). */
  keyOf(agentId: string): KeyObject | undefined;
  /** This node's swarm: a revocation naming another swarm is refused. */
  readonly swarm?: string;
}

/**
 * Checks a revocation's authority and signature; returns its body. Throws
 * `SignatureError` for anything else: a malformed body, an agent revoking
 * another, an operator revocation without (or not signed by) the operator's
 * key.
 */
export function checkRevocation(
  envelope: Envelope,
  context: RevocationCheckContext,
): RevocationBody {
  const body = envelope.body as Partial<RevocationBody> | null;
  if (
    envelope.type !== REVOKE_TYPE ||
    typeof body?.agent !== "string" ||
    (body.authority !== "operator" && body.authority !== "self") ||
    (body.reason !== undefined && typeof body.reason !== "string") ||
    (body.swarm !== undefined && typeof body.swarm !== "string")
  ) {
    throw new SignatureError(
      `a revocation from "${envelope.from}" has no {agent, authority: operator | self, swarm?} body; ignored`,
    );
  }
  if (body.swarm !== undefined && context.swarm !== undefined && body.swarm !== context.swarm) {
    throw new SignatureError(
      `a revocation of "${body.agent}" is for swarm "${body.swarm.slice(0, 128)}", not "${context.swarm}" (replayed from another swarm); ignored`,
    );
  }
  if (body.authority === "operator") {
    if (envelope.from !== OPERATOR_ID || context.operatorKey === undefined) {
      throw new SignatureError(
        `a revocation of "${body.agent}" claims the operator's authority, but ${context.operatorKey === undefined ? "the swarm file names no operator key" : `it comes from "${envelope.from}"`}; ignored`,
      );
    }
    verifyEnvelope(envelope, context.operatorKey);
  } else {
    if (envelope.from !== body.agent) {
      throw new SignatureError(
        `agent "${envelope.from}" tried to revoke "${body.agent}": an agent may revoke only itself; ignored`,
      );
    }
    const key = context.keyOf(body.agent);
    if (key === undefined) {
      throw new SignatureError(
        `a self-revocation from "${envelope.from}", whose key is unknown here; ignored`,
      );
    }
    verifyEnvelope(envelope, key);
  }
  return {
    agent: body.agent,
    authority: body.authority,
    ...(body.reason ? { reason: body.reason } : {}),
    ...(body.swarm === undefined ? {} : { swarm: body.swarm }),
  };
}
