/**
 * What anchors the audit chain outside the store that holds it: seal
 * signatures and signed heads (docs/PROTOCOL.md, "Signed seals and signed
 * heads").
 *
 * A seal alone is a hash: anyone who can write the store can delete a
 * decision and recompute every later seal. So the agent that appends a
 * decision signs its seal ({@link signSeal}), and a node publishes signed
 * heads of the log ({@link signHead}) that other nodes keep as witnesses.
 * Without an agent's private key, a rewritten or truncated log then fails
 * either a seal signature or a witnessed head.
 */
import type { KeyObject } from "node:crypto";
import { canonicalize } from "../wire/canonical.js";
import { signText, verifyText } from "../wire/signature.js";

/** The appender's signature of a decision's seal, stored with the decision (not sealed itself). */
export interface SealSignature {
  /** The agent that appended the decision: its proposer, whose node coordinated the round. */
  readonly signer: string;
  /** Ed25519 (base64url) over {@link sealSigningText}. */
  readonly sig: string;
}

/**
 * What a seal signature covers: the RFC 8785 canonical JSON of
 * `{"seal": <seal hex>, "signer": <agent id>, "type": "audit.seal"}`. The
 * seal covers `prevSeal`, so the signature fixes the decision's place in
 * the chain; the type keeps the text from being read as any other signed
 * document.
 */
export function sealSigningText(seal: string, signer: string): string {
  return canonicalize({ seal, signer, type: "audit.seal" });
}

/**
 * Signs a decision's seal as `signer`.
 *
 * @example
 * ```ts
 * const signature = signSeal(decision.seal, "architect", architectKey.privateKey);
 * store.appendAudit({ kind: "consensus.decision", data: { ...decision, signature }, hash: () => decision.seal });
 * ```
 */
export function signSeal(seal: string, signer: string, privateKey: KeyObject): SealSignature {
  return { signer, sig: signText(sealSigningText(seal, signer), privateKey) };
}

/** Why `signature` is not `publicKey`'s signature of `seal`, or undefined when it is. */
export function sealSignatureProblem(
  seal: string,
  signature: unknown,
  publicKey: KeyObject,
): string | undefined {
  const s = signature as Partial<SealSignature> | null;
  if (typeof s !== "object" || s === null || typeof s.signer !== "string") {
    return "its seal signature is not an object with signer and sig";
  }
  if (typeof s.sig !== "string" || !verifyText(sealSigningText(seal, s.signer), s.sig, publicKey)) {
    return `its seal signature by ${s.signer} does not verify: the decision was re-sealed or altered without ${s.signer}'s key`;
  }
  return undefined;
}

/**
 * A signed head (checkpoint) of a swarm's audit log: entry `seq` had hash
 * `headHash` when `signer` signed it at `ts`. Published on
 * `<swarm>.event.consensus.head` and kept by the nodes that see it.
 */
export interface SignedHead {
  readonly swarm: string;
  /** The log's length the head vouches for: the seq of its last entry. */
  readonly seq: number;
  /** The hash of entry `seq` (a decision's seal). */
  readonly headHash: string;
  /** When it was signed, ms since the epoch. */
  readonly ts: number;
  readonly signer: string;
  /** Ed25519 (base64url) over {@link headSigningText}. */
  readonly sig: string;
}

/** A head before signing. */
export type HeadFields = Omit<SignedHead, "sig">;

/**
 * What a head's signature covers: the RFC 8785 canonical JSON of
 * `{"head": <the head without sig>, "type": "audit.head"}`.
 */
export function headSigningText(head: HeadFields): string {
  const { sig: _sig, ...fields } = head as HeadFields & { sig?: unknown };
  return canonicalize({ head: fields, type: "audit.head" });
}

/** Signs a head. */
export function signHead(head: HeadFields, privateKey: KeyObject): SignedHead {
  const fields: HeadFields = {
    swarm: head.swarm,
    seq: head.seq,
    headHash: head.headHash,
    ts: head.ts,
    signer: head.signer,
  };
  return { ...fields, sig: signText(headSigningText(fields), privateKey) };
}

/** Reads a signed head from untrusted JSON: the head, or why it is not one. */
export function parseSignedHead(value: unknown): SignedHead | string {
  const h = value as Record<string, unknown> | null;
  if (typeof h !== "object" || h === null || Array.isArray(h)) return "a head is a JSON object";
  for (const key of ["swarm", "headHash", "signer", "sig"] as const) {
    if (typeof h[key] !== "string") return `a head's ${key} must be a string`;
  }
  for (const key of ["seq", "ts"] as const) {
    if (!Number.isSafeInteger(h[key]) || (h[key] as number) < 0) {
      return `a head's ${key} must be a non-negative integer`;
    }
  }
  const extra = Object.keys(h).filter(
    (k) => !["swarm", "seq", "headHash", "ts", "signer", "sig"].includes(k),
  );
  if (extra.length > 0) return `a head has no field ${extra[0]}`;
  return h as unknown as SignedHead;
}

/** Whether `head` carries `publicKey`'s signature. */
export function verifyHead(head: SignedHead, publicKey: KeyObject): boolean {
  return verifyText(headSigningText(head), head.sig, publicKey);
}
