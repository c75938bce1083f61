/**
 * Who may join a swarm, and as what. A card says what an agent claims (its
 * role, weight, owner, key); admission decides what it is granted, from the
 * swarm file or from a grant the swarm's authority made, never from the card
 * itself. A node records, trusts, routes to and counts the votes of admitted
 * agents only, with the role and weight of their grant.
 *
 * Three policies (`admission:` in the swarm file):
 * - `declared`: only agents the swarm file declares, with the role, weight
 *   and owner it gives them; a declared agent may pin its key in the file,
 *   or is pinned on first sight.
 * - `credential`: as `declared`, and also any agent whose card carries a
 *   membership credential signed by the operator's key
 *   (`{swarm, agent, role, publicKey, weight?, owner?, notAfter}`), until it
 *   expires.
 * - `vote`: as `declared`, and also any agent the swarm admitted by an
 *   approved decision (`swarm.admit`).
 * - `open` (libraries and tests only): any agent that proves its key.
 *
 * A key stays pinned after its agent leaves: a new key for a known id needs
 * a credential for that key (conclave admit).
 *
 * Pure: no IO, no clock; the runtime passes `now` and what it knows.
 */
import type { KeyObject } from "node:crypto";
import { ConclaveError } from "../errors/index.js";
import { decodePublicKey, fingerprint } from "../identity/keys.js";
import { canonicalize } from "../wire/canonical.js";
import { MAX_FUTURE_SKEW_MS, signaturePattern } from "../wire/envelope.js";
import { signText, verifyText } from "../wire/signature.js";
import type { AgentCard } from "./agent-card.js";

/** The admission policies. */
export const admissionModes = ["declared", "credential", "vote", "open"] as const;
export type AdmissionMode = (typeof admissionModes)[number];

/** Why an agent was refused: the code of `agent.refused` events and of its dead letters. */
export const refusalCodes = [
  /** Not declared in the swarm file, and no valid credential or approved vote. */
  "E_NOT_ADMITTED",
  /** The card claims another role, weight or owner than its grant. */
  "E_ROLE_MISMATCH",
  /** The card's credential expired. */
  "E_CREDENTIAL_EXPIRED",
  /** The credential is forged, malformed, for another swarm, agent or key. */
  "E_CREDENTIAL_INVALID",
  /** The card carries another key than the one pinned for its id. */
  "E_KEY_MISMATCH",
  /** The agent was revoked by the operator, a decision of the swarm, or itself. */
  "E_REVOKED",
] as const;
export type RefusalCode = (typeof refusalCodes)[number];

/**
 * An agent refused admission; thrown for what it sends. Its code is the
 * refusal's, and its message starts with it, so a dead letter's reason
 * (`AdmissionError: E_NOT_ADMITTED: …`) tells a client in any language why.
 */
export class AdmissionError extends ConclaveError {
  constructor(
    readonly refusal: RefusalCode,
    reason: string,
  ) {
    super(refusal, `${refusal}: ${reason}`);
  }
}

/** An agent as the swarm file declares it. */
export interface DeclaredAgent {
  readonly id: string;
  readonly role: string;
  readonly weight: number;
  readonly owner?: string;
  /** The pinned key: base64url public key, or `SHA256:` fingerprint. */
  readonly publicKey?: string;
}

/** What an admitted agent may be: the card must not claim more. */
export interface Grant {
  readonly agent: string;
  readonly role: string;
  readonly weight: number;
  readonly owner?: string;
  /** The key the grant is for (base64url); undefined: the key pinned on first sight. */
  readonly publicKey?: string;
  /** How it was granted. */
  readonly via: "declared" | "credential" | "vote" | "open";
  /** When the grant ends (a credential's `notAfter`), ms since epoch. */
  readonly expiresAt?: number;
}

/** The swarm's admission policy, from the swarm file. */
export interface AdmissionPolicy {
  readonly mode: AdmissionMode;
  readonly swarm: string;
  readonly declared: ReadonlyMap<string, DeclaredAgent>;
  /** The operator's public key: signs credentials, revocations and re-keys. */
  readonly operatorKey?: KeyObject;
}

/** What the runtime knows about an agent id when it admits a card. */
export interface AdmissionFacts {
  readonly now: number;
  /** The key pinned for the id (first sight, or a re-key), base64url; undefined if none yet. */
  readonly pinnedKey?: string;
  /** A grant the swarm voted for this id, when one was approved. */
  readonly voted?: Grant;
}

/** The verdict on one card. */
export type Admission =
  | { readonly admitted: true; readonly grant: Grant }
  | { readonly admitted: false; readonly code: RefusalCode; readonly reason: string };

// ---- credentials ------------------------------------------------------------

/** A membership credential: the operator's signed grant for one agent and key. */
export interface MembershipCredential {
  readonly type: "conclave.credential";
  readonly swarm: string;
  readonly agent: string;
  readonly role: string;
  /** The agent's Ed25519 public key, base64url (as on its card). */
  readonly publicKey: string;
  /** Vote weight granted. Default 1. */
  readonly weight?: number;
  readonly owner?: string;
  /** Issued at, ms since epoch. */
  readonly issuedAt: number;
  /** Valid until, ms since epoch. */
  readonly notAfter: number;
  /** Ed25519 signature by the operator's key over {@link credentialSigningText}, base64url. */
  readonly sig: string;
}

/** What a credential's signature covers: its RFC 8785 canonical JSON without `sig`. */
export function credentialSigningText(credential: Omit<MembershipCredential, "sig">): string {
  const { sig: _sig, ...unsigned } = credential as MembershipCredential;
  return canonicalize(unsigned);
}

/** Issues a credential signed with the operator's private key. */
export function issueCredential(
  fields: Omit<MembershipCredential, "type" | "sig">,
  operatorPrivateKey: KeyObject,
): MembershipCredential {
  const unsigned = { type: "conclave.credential" as const, ...fields };
  return { ...unsigned, sig: signText(credentialSigningText(unsigned), operatorPrivateKey) };
}

/** Checks a credential for `card`; returns the grant it makes, or the refusal. */
export function checkCredential(
  credential: unknown,
  card: Pick<AgentCard, "id" | "publicKey">,
  policy: Pick<AdmissionPolicy, "swarm" | "operatorKey">,
  now: number,
): Admission {
  const invalid = (reason: string): Admission => ({
    admitted: false,
    code: "E_CREDENTIAL_INVALID",
    reason: `the credential of "${card.id}" ${reason}`,
  });
  if (!isCredential(credential)) return invalid("is malformed (see docs/PROTOCOL.md, Admission)");
  if (policy.operatorKey === undefined) {
    return invalid("cannot be checked: the swarm file names no operator key (operator.publicKey)");
  }
  if (!verifyText(credentialSigningText(credential), credential.sig, policy.operatorKey)) {
    return invalid("is not signed by the swarm's operator key (forged, or changed after signing)");
  }
  if (credential.swarm !== policy.swarm) {
    return invalid(`is for swarm "${credential.swarm}", not "${policy.swarm}"`);
  }
  if (credential.agent !== card.id) return invalid(`names agent "${credential.agent}"`);
  if (credential.publicKey !== card.publicKey) {
    return invalid("is for another key than the card's");
  }
  if (credential.issuedAt > now + MAX_FUTURE_SKEW_MS) {
    return invalid(
      `is issued at ${new Date(credential.issuedAt).toISOString()}, more than 5 minutes after this node's clock (${new Date(now).toISOString()}): the operator's clock or this node's is off; fix it, or issue the credential again (conclave admit)`,
    );
  }
  if (now > credential.notAfter) {
    return {
      admitted: false,
      code: "E_CREDENTIAL_EXPIRED",
      reason: `the credential of "${card.id}" expired at ${new Date(credential.notAfter).toISOString()}; ask the operator for a new one (conclave admit)`,
    };
  }
  return {
    admitted: true,
    grant: {
      agent: credential.agent,
      role: credential.role,
      weight: credential.weight ?? 1,
      ...(credential.owner === undefined ? {} : { owner: credential.owner }),
      publicKey: credential.publicKey,
      via: "credential",
      expiresAt: credential.notAfter,
    },
  };
}

function isCredential(value: unknown): value is MembershipCredential {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  const text = (v: unknown) => typeof v === "string" && v.length > 0 && v.length <= 256;
  const time = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  return (
    c["type"] === "conclave.credential" &&
    text(c["swarm"]) &&
    text(c["agent"]) &&
    text(c["role"]) &&
    text(c["publicKey"]) &&
    (c["weight"] === undefined ||
      (typeof c["weight"] === "number" && Number.isFinite(c["weight"]) && c["weight"] >= 0)) &&
    (c["owner"] === undefined || text(c["owner"])) &&
    time(c["issuedAt"]) &&
    time(c["notAfter"]) &&
    typeof c["sig"] === "string" &&
    signaturePattern.test(c["sig"])
  );
}

// ---- admitting a card -------------------------------------------------------

/**
 * Decides whether `card` is admitted under `policy`, and with what grant.
 * A card that claims another role, weight or owner than its grant is
 * refused (`E_ROLE_MISMATCH`): it may never claim more than it was given.
 *
 * @example
 * ```ts
 * const verdict = admitCard(policy, card, { now: clock.now(), pinnedKey });
 * if (!verdict.admitted) emit({ type: "agent.refused", agent: card.id, code: verdict.code, reason: verdict.reason });
 * ```
 */
export function admitCard(
  policy: AdmissionPolicy,
  card: AgentCard,
  facts: AdmissionFacts,
): Admission {
  const credential = (card as AgentCard & { credential?: unknown }).credential;
  const declared = policy.declared.get(card.id);
  let grant: Grant | undefined;
  if (declared !== undefined) {
    grant = {
      agent: declared.id,
      role: declared.role,
      weight: declared.weight,
      ...(declared.owner === undefined ? {} : { owner: declared.owner }),
      ...(declared.publicKey === undefined ? {} : { publicKey: declared.publicKey }),
      via: "declared",
    };
  } else if (policy.mode === "open") {
    grant = { agent: card.id, role: card.role, weight: card.weight, via: "open" };
    if (card.owner !== undefined) grant = { ...grant, owner: card.owner };
  } else if (policy.mode === "credential" && credential !== undefined) {
    const checked = checkCredential(credential, card, policy, facts.now);
    if (!checked.admitted) return checked;
    grant = checked.grant;
  } else if (policy.mode === "vote" && facts.voted !== undefined) {
    grant = facts.voted;
  }
  if (grant === undefined) {
    const how =
      policy.mode === "credential"
        ? "declare it in the swarm file, or give it a credential (conclave admit)"
        : policy.mode === "vote"
          ? "declare it in the swarm file, or have the swarm vote it in (swarm.admit)"
          : "declare it under agents: in the swarm file";
    return {
      admitted: false,
      code: "E_NOT_ADMITTED",
      reason: `agent "${card.id}" is not admitted to swarm "${policy.swarm}" (admission: ${policy.mode}); ${how}`,
    };
  }
  const keyProblem = keyMismatch(card, grant, facts, credential, policy);
  if (keyProblem !== undefined)
    return { admitted: false, code: "E_KEY_MISMATCH", reason: keyProblem };
  const claimed = claimsMore(card, grant);
  if (claimed !== undefined) {
    return {
      admitted: false,
      code: "E_ROLE_MISMATCH",
      reason: `agent "${card.id}" claims ${claimed}; its admission grants ${describeGrant(grant)}`,
    };
  }
  return { admitted: true, grant };
}

/** Why the card's key is not the one its id is bound to, or undefined. */
function keyMismatch(
  card: AgentCard,
  grant: Grant,
  facts: AdmissionFacts,
  credential: unknown,
  policy: AdmissionPolicy,
): string | undefined {
  if (grant.publicKey !== undefined) {
    if (!sameKey(grant.publicKey, card.publicKey)) {
      return `agent "${card.id}" presents another key than the one its ${grant.via === "declared" ? "swarm file pins" : "grant names"}`;
    }
    return undefined;
  }
  if (facts.pinnedKey === undefined || facts.pinnedKey === card.publicKey) return undefined;
  // A new key for a known id: only a valid credential for it re-keys the agent.
  if (credential !== undefined && checkCredential(credential, card, policy, facts.now).admitted) {
    return undefined;
  }
  return `agent "${card.id}" presents a new key, but its id stays pinned to the key first seen; re-key it with a credential for the new key (conclave admit)`;
}

/** Whether a pinned key (base64url, or `SHA256:` fingerprint) is the card's key. */
export function sameKey(pinned: string, publicKey: string): boolean {
  if (pinned === publicKey) return true;
  if (!pinned.startsWith("SHA256:")) return false;
  try {
    return fingerprint(decodePublicKey(publicKey)) === pinned;
  } catch {
    return false;
  }
}

function claimsMore(card: AgentCard, grant: Grant): string | undefined {
  if (card.role !== grant.role) return `role "${card.role}"`;
  if (card.weight !== grant.weight) return `weight ${card.weight}`;
  if ((card.owner ?? undefined) !== grant.owner)
    return `owner ${JSON.stringify(card.owner ?? null)}`;
  return undefined;
}

function describeGrant(grant: Grant): string {
  return `role "${grant.role}", weight ${grant.weight}${grant.owner === undefined ? "" : `, owner "${grant.owner}"`} (${grant.via})`;
}
