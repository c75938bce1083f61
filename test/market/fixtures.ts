/**
 * A small market world for the auction tests: real Ed25519 keys, a registry
 * of bidder facts the test can change, balances, a shared rate limiter, and a
 * bid builder that signs with the sender's key (or another one, to forge).
 */
import type { KeyObject } from "node:crypto";
import { ManualClock } from "../../src/core/clock.js";
import {
  type AgentKeyPair,
  agentKeyPairFromSeed,
  encodePublicKey,
} from "../../src/identity/keys.js";
import {
  type Auction,
  type AuctionTerms,
  type BidderFacts,
  type BidGate,
  bidVerifierFromKeys,
  createAuction,
  createBid,
  createBidGate,
  createRateLimiter,
  type RateLimiter,
  type ReputationLookup,
} from "../../src/market/index.js";
import type { Envelope } from "../../src/wire/envelope.js";

export const T0 = 1_700_000_000_000;

export function keyPair(n: number): AgentKeyPair {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, n);
  return agentKeyPairFromSeed(seed);
}

/** Bidders every world knows, each with its own key, all live, trusted and solvent. */
export const BIDDERS = ["alice", "bob", "carol", "dave", "erin", "mallory"] as const;

export interface WorldOptions {
  /** Tokens per agent (default 1000: effectively unlimited). */
  readonly capacity?: number;
  readonly refillPerSecond?: number;
  /** Balance of every bidder (default 1,000,000). */
  readonly balance?: number;
}

export interface World {
  readonly keys: Map<string, AgentKeyPair>;
  /** What the registry says; tests edit it to make an agent halted, untrusted… */
  readonly facts: Map<string, BidderFacts>;
  readonly balances: Map<string, number>;
  readonly limiter: RateLimiter;
  readonly gate: BidGate;
  readonly clock: ManualClock;
  /** Starts an auction on this world's gate, opening at T0 unless told. */
  auction(terms: AuctionTerms, reputation?: ReputationLookup, opensAt?: number): Auction;
  /** A signed bid from `from` (signed with `signer`'s key when given: a forgery). */
  bid(
    from: string,
    body: {
      auction: string;
      round?: number;
      price: number;
      criteria?: Record<string, number>;
      take?: boolean;
    },
    signer?: string,
  ): Envelope;
}

export function createWorld(options: WorldOptions = {}): World {
  const keys = new Map<string, AgentKeyPair>(BIDDERS.map((id, i) => [id, keyPair(i + 1)]));
  const facts = new Map<string, BidderFacts>(
    [...keys].map(([id, pair]) => [
      id,
      {
        live: true,
        trusted: true,
        halted: false,
        publicKey: encodePublicKey(pair.publicKey),
        owner: `owner-of-${id}`,
      },
    ]),
  );
  const balances = new Map<string, number>(BIDDERS.map((id) => [id, options.balance ?? 1_000_000]));
  const limiter = createRateLimiter({
    capacity: options.capacity ?? 1000,
    refillPerSecond: options.refillPerSecond ?? 1000,
  });
  // The registry key of an agent: known only while the registry knows the agent.
  const registeredKey = (agent: string): KeyObject | undefined =>
    facts.has(agent) ? keys.get(agent)?.publicKey : undefined;
  const gate = createBidGate({
    verify: bidVerifierFromKeys(registeredKey),
    bidder: (id) => facts.get(id),
    canAfford: (id, amount) => (balances.get(id) ?? 0) >= amount,
    rateLimiter: limiter,
  });
  const clock = new ManualClock(T0);
  return {
    keys,
    facts,
    balances,
    limiter,
    gate,
    clock,
    auction: (terms, reputation, opensAt = T0) =>
      createAuction({
        terms,
        opensAt,
        gate,
        ...(reputation === undefined ? {} : { reputation }),
      }),
    bid(from, body, signer = from) {
      const pair = keys.get(signer);
      if (pair === undefined) throw new Error(`no key for ${signer}`);
      return createBid(
        {
          auction: body.auction,
          round: body.round ?? 1,
          from,
          price: body.price,
          ...(body.criteria === undefined ? {} : { criteria: body.criteria }),
          ...(body.take === undefined ? {} : { take: body.take }),
          privateKey: pair.privateKey,
        },
        { clock },
      );
    },
  };
}

/** A reputation table as a lookup; agents not listed are unknown (neutral). */
export function reputations(table: Record<string, number>): ReputationLookup {
  return (bidder) => table[bidder];
}

/** |a − b| ≤ 1e-9: for hand-computed scores. */
export function near(actual: number, expected: number, epsilon = 1e-9): boolean {
  return Math.abs(actual - expected) <= epsilon;
}
