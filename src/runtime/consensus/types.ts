/**
 * The shapes the consensus runtime shares with its node and its callers: a
 * voter hosted by the node, and the options of a proposal. What the engine
 * reads from its node is in `context.ts`; this file imports nothing from the
 * node, so `node-context.ts` can name these shapes without an import cycle.
 */
import type { KeyObject } from "node:crypto";
import type { CompiledPolicy } from "../../consensus/policy.js";
import type { Envelope } from "../../wire/envelope.js";
import type { VoteHandler } from "./voting.js";

/** A voter hosted by this node. */
export interface LocalVoter {
  readonly id: string;
  readonly role: string;
  readonly weight: number;
  /** base64url SPKI, as on the agent's card. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
  /** The agent's rules policy (from its policy file), if any. */
  readonly rules?: CompiledPolicy;
  /** The agent's vote handler (`agent.vote`), if any. */
  readonly handler?: VoteHandler;
}

/** Options of {@link ConsensusEngine.propose}. */
export interface ProposeOptions {
  /** Overrides the action's configured `deadlineMs`: a whole number of ms, 10 to 86_400_000. */
  readonly deadlineMs?: number;
  /**
   * Idempotency key: a second `propose` with the same key (e.g. a retried
   * task handler) returns the first one's decision instead of starting
   * another round, once that decision is sealed. When that round was never
   * sealed (its node stopped), the retry starts a new round and the key
   * moves to it: every later retry gets the newest round's decision.
   */
  readonly key?: string;
  /** The task the proposal is made for, if any: the round's span joins its trace. */
  readonly parent?: Envelope;
}
