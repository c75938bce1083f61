/**
 * The market on the wire: three envelope types and their bodies, shared by
 * the auction state machine, the runtime and docs/PROTOCOL.md.
 *
 * - `market.cfp`: the auctioneer's call for proposals, one per round;
 * - `market.bid`: a bidder's signed bid (or Dutch take);
 * - `market.award`: the auctioneer's signed result: winner and price, or unsold.
 *
 * Every one is correlated (`corr`) to the auction id. Bids and awards must be
 * signed (an award moves credits); calls for proposals are signed too, so a
 * bidder can tell the real auctioneer from an impostor.
 */
import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { InvalidEnvelopeError } from "../errors/index.js";
import {
  agentIdPattern,
  type CreateEnvelopeOptions,
  createEnvelope,
  type Envelope,
} from "../wire/envelope.js";
import type { JsonValue } from "../wire/json-value.js";
import { signEnvelope, verifierFromKeyTable } from "../wire/signature.js";
import { isBuilt } from "./built.js";
import { auctionIdPattern, criterionNamePattern, MAX_CRITERIA } from "./terms.js";
import {
  type AuctionRule,
  type AuctionSide,
  auctionRules,
  auctionSides,
  type BidScore,
  type Criterion,
  type UnsoldReason,
} from "./types.js";

/** Envelope `type` of a bid. */
export const BID_TYPE = "market.bid";
/** Envelope `type` of a call for proposals. */
export const CFP_TYPE = "market.cfp";
/** Envelope `type` of an award (or unsold notice). */
export const AWARD_TYPE = "market.award";

/**
 * Checks an envelope's signature against its sender's registered key; the
 * same contract as the consensus layer's `Verifier`, restated here because
 * the market may not depend on consensus. True only for a valid signature by
 * the registered key of `envelope.from`.
 */
export type BidVerifier = (envelope: Envelope) => boolean;

/** The body of a `market.bid` envelope. */
export interface BidBody {
  /** The auction id, as in the call for proposals. */
  readonly auction: string;
  /** The round bid in, from 1, as in the call for proposals. */
  readonly round: number;
  /** Integer credits ≥ 0: offered (sale) or asked (procurement); for a Dutch take, the clock price. */
  readonly price: number;
  /** Multi-criteria values by criterion name (finite numbers). */
  readonly criteria?: Readonly<Record<string, number>>;
  /** Dutch: true to take the clock price. Required there, ignored elsewhere. */
  readonly take?: boolean;
}

/** The standing (best) bid of an English auction, as announced. */
export interface StandingBid {
  readonly bidder: string;
  readonly price: number;
  /** Its reputation-weighted price (sale `price × w`, procurement `price / w`). */
  readonly effective: number;
}

/** A Dutch clock, as announced: bidders compute the price at any time from it. */
export interface ClockSchedule {
  readonly startPrice: number;
  readonly step: number;
  readonly stepMs: number;
  /** The last price the clock shows (sale: reserve or 0; procurement: reserve). */
  readonly stopPrice: number;
  /** When the clock passes its stop price and the auction ends unsold. */
  readonly expiresAt: number;
}

/** The body of a `market.cfp` envelope: one round's call for proposals. */
export interface CfpBody {
  readonly auction: string;
  readonly rule: AuctionRule;
  readonly side: AuctionSide;
  /** This round, from 1. Bids must name it. */
  readonly round: number;
  readonly maxRounds: number;
  /** When this round starts taking bids, ms since the epoch. */
  readonly opensAt: number;
  /** When it stops: bids received at or after this time are late. */
  readonly closesAt: number;
  readonly reserve?: number;
  readonly criteria?: readonly Criterion[];
  /** English: how much a raise must beat the standing effective bid by. */
  readonly minIncrement?: number;
  /** English, from round 2: the bid to beat. */
  readonly standing?: StandingBid;
  /**
   * English, from round 2: the effective bid a raise must reach (sale: at
   * least; procurement: at most). A bidder with reputation weight `w` must
   * bid at least `minimumEffective / w` (sale) or ask at most
   * `minimumEffective × w` (procurement).
   */
  readonly minimumEffective?: number;
  /** Dutch: the clock. */
  readonly clock?: ClockSchedule;
  /** What is sold or bought; opaque to the market. */
  readonly item?: JsonValue;
}

/** The body of a `market.award` envelope. */
export type AwardBody =
  | {
      readonly auction: string;
      readonly rule: AuctionRule;
      readonly side: AuctionSide;
      /** The round the auction ended in. */
      readonly round: number;
      readonly outcome: "awarded";
      readonly winner: string;
      /** Envelope id of the winning bid. */
      readonly bid: string;
      /** Integer credits the winner pays (sale) or is paid (procurement). */
      readonly price: number;
      /** `price` weighted by the winner's reputation. */
      readonly effectivePrice: number;
      /** Multi-criteria: the winner's score breakdown. */
      readonly score?: BidScore;
    }
  | {
      readonly auction: string;
      readonly rule: AuctionRule;
      readonly side: AuctionSide;
      readonly round: number;
      readonly outcome: "unsold";
      readonly reason: UnsoldReason;
    };

const credits = () => z.int().min(0);
const agentId = () => z.string().regex(agentIdPattern, "must be an agent id");
const auctionId = () =>
  z.string().regex(auctionIdPattern, "must be the auction id (1-128 printable ASCII characters)");
const criterionName = () =>
  z.string().regex(criterionNamePattern, "must be a criterion name (a-z, 0-9, _ and -)");
const criteriaValues = () =>
  z
    .record(criterionName(), z.number())
    .refine((values) => Object.keys(values).length <= MAX_CRITERIA, {
      message: `must hold at most ${MAX_CRITERIA} criteria`,
    });

/** Schema of a {@link BidBody}. Unknown fields are dropped (they stay covered by the signature). */
export const bidBodySchema = z.object({
  auction: auctionId(),
  round: z.int().min(1),
  price: credits(),
  criteria: criteriaValues().optional(),
  take: z.boolean().optional(),
});

const criterionSchema = z.object({
  name: criterionName(),
  weight: z.number().positive(),
  direction: z.enum(["min", "max"]),
});

const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
);

/** Schema of a {@link CfpBody}. */
export const cfpBodySchema = z.object({
  auction: auctionId(),
  rule: z.enum(auctionRules),
  side: z.enum(auctionSides),
  round: z.int().min(1),
  maxRounds: z.int().min(1),
  opensAt: z.int().min(0),
  closesAt: z.int().min(0),
  reserve: credits().optional(),
  criteria: z.array(criterionSchema).min(1).max(MAX_CRITERIA).optional(),
  minIncrement: z.number().positive().optional(),
  standing: z
    .object({ bidder: agentId(), price: credits(), effective: z.number().min(0) })
    .optional(),
  minimumEffective: z.number().optional(),
  clock: z
    .object({
      startPrice: credits(),
      step: z.int().min(1),
      stepMs: z.int().min(1),
      stopPrice: credits(),
      expiresAt: z.int().min(0),
    })
    .optional(),
  item: jsonValueSchema.optional(),
});

const criterionScoreSchema = z.object({
  name: criterionName(),
  value: z.number(),
  normalised: z.number().min(0).max(1),
  weight: z.number().min(0).max(1),
  contribution: z.number().min(0).max(1),
});

const awardCommon = {
  auction: auctionId(),
  rule: z.enum(auctionRules),
  side: z.enum(auctionSides),
  round: z.int().min(1),
};

/** Schema of an {@link AwardBody}. */
export const awardBodySchema = z.discriminatedUnion("outcome", [
  z.object({
    ...awardCommon,
    outcome: z.literal("awarded"),
    winner: agentId(),
    bid: z.string().min(1).max(128),
    price: credits(),
    effectivePrice: z.number().min(0),
    score: z
      .object({
        bidder: agentId(),
        price: credits(),
        criteria: z.array(criterionScoreSchema),
        raw: z.number().min(0).max(1),
        reputation: z.number().min(0).max(1),
        reputationWeight: z.number().min(0.5).max(1.5),
        effective: z.number().min(0),
      })
      .optional(),
  }),
  z.object({
    ...awardCommon,
    outcome: z.literal("unsold"),
    reason: z.enum(["no-bids", "no-eligible-bids", "no-taker", "unpaid"]),
  }),
]);

/** Zod issues as one line: `path: message; path: message`. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `body${issue.path.map((key) => `.${String(key)}`).join("")}: ${issue.message}`)
    .join("; ");
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T | string {
  const result = schema.safeParse(body);
  return result.success ? result.data : describeIssues(result.error);
}

/**
 * Reads a bid body. Returns the body, or a string saying what is wrong.
 *
 * @example
 * ```ts
 * parseBidBody({ auction: "a1", round: 1, price: 120 }); // the body
 * parseBidBody({ auction: "a1", round: 1, price: 1.5 }); // "body.price: Invalid input: expected int, …"
 * ```
 */
export function parseBidBody(body: unknown): BidBody | string {
  return parseWith<BidBody>(bidBodySchema, body);
}

/** Reads a call-for-proposals body. Returns the body, or a string saying what is wrong. */
export function parseCfpBody(body: unknown): CfpBody | string {
  return parseWith<CfpBody>(cfpBodySchema, body);
}

/** Reads an award body. Returns the body, or a string saying what is wrong. */
export function parseAwardBody(body: unknown): AwardBody | string {
  return parseWith<AwardBody>(awardBodySchema, body);
}

/** What {@link createBid} needs. */
export interface CreateBidOptions {
  readonly auction: string;
  readonly round: number;
  /** The bidder's agent id. */
  readonly from: string;
  /** Integer credits: offered (sale), asked (procurement), or the clock price (Dutch take). */
  readonly price: number;
  readonly criteria?: Readonly<Record<string, number>>;
  /** Dutch only: take the clock price. */
  readonly take?: boolean;
  /** The auctioneer's agent id, when the bid is addressed to it. */
  readonly to?: string;
  readonly privateKey: KeyObject;
}

function signed<TBody>(
  type: string,
  from: string,
  to: string | undefined,
  corr: string,
  body: TBody,
  privateKey: KeyObject,
  envelopeOptions: CreateEnvelopeOptions | undefined,
): Envelope<TBody> {
  const envelope = createEnvelope<TBody>(
    { type, from, ...(to === undefined ? {} : { to }), corr, body },
    envelopeOptions,
  );
  return signEnvelope(envelope, privateKey);
}

function requireValid<T>(what: string, parsed: T | string): T {
  if (typeof parsed === "string") throw new InvalidEnvelopeError(`${what}: ${parsed}`);
  return parsed;
}

/**
 * A signed `market.bid` envelope, correlated (`corr`) to the auction id.
 *
 * @throws InvalidEnvelopeError if a body field is invalid (e.g. a fractional
 *   price) or the agent id is; KeyError if the key is not an Ed25519 private key.
 *
 * @example
 * ```ts
 * const bid = createBid(
 *   { auction: cfp.auction, round: cfp.round, from: "dev-1", price: 420, privateKey },
 *   { clock },
 * );
 * auction.step(bid, clock.now());
 * ```
 */
export function createBid(
  options: CreateBidOptions,
  envelopeOptions?: CreateEnvelopeOptions,
): Envelope<BidBody> {
  const body: BidBody = requireValid(
    "bid",
    parseBidBody({
      auction: options.auction,
      round: options.round,
      price: options.price,
      ...(options.criteria === undefined ? {} : { criteria: options.criteria }),
      ...(options.take === undefined ? {} : { take: options.take }),
    }),
  );
  return signed(
    BID_TYPE,
    options.from,
    options.to,
    options.auction,
    body,
    options.privateKey,
    envelopeOptions,
  );
}

/** What {@link createCfp} and {@link createAward} need besides the body. */
export interface AuctioneerSigner {
  /** The auctioneer's agent id. */
  readonly from: string;
  readonly privateKey: KeyObject;
}

/**
 * A signed `market.cfp` envelope carrying `cfp` (e.g. `auction.announcement()`).
 * The body is checked against its schema, unless the auction built it (its
 * announcement: valid by construction, frozen).
 *
 * @throws InvalidEnvelopeError if the body fails its schema.
 *
 * @example
 * ```ts
 * transport.publish(subject, encodeEnvelope(createCfp(auction.announcement(), { from: "lead", privateKey })));
 * ```
 */
export function createCfp(
  cfp: CfpBody,
  signer: AuctioneerSigner,
  envelopeOptions?: CreateEnvelopeOptions,
): Envelope<CfpBody> {
  // One the auction built itself (its announcement) was valid when built, and is frozen.
  if (!isBuilt(cfp)) requireValid("call for proposals", parseCfpBody(cfp));
  return signed(
    CFP_TYPE,
    signer.from,
    undefined,
    cfp.auction,
    cfp,
    signer.privateKey,
    envelopeOptions,
  );
}

/**
 * A signed `market.award` envelope carrying `award` (e.g. `awardBody(auction.result())`).
 * The body is checked against its schema, unless `awardBody` made it from a
 * result the auction built (valid by construction, frozen).
 *
 * @throws InvalidEnvelopeError if the body fails its schema.
 */
export function createAward(
  award: AwardBody,
  signer: AuctioneerSigner,
  envelopeOptions?: CreateEnvelopeOptions,
): Envelope<AwardBody> {
  // One `awardBody` made from the auction's own result was valid when built, and is frozen.
  if (!isBuilt(award)) requireValid("award", parseAwardBody(award));
  return signed(
    AWARD_TYPE,
    signer.from,
    undefined,
    award.auction,
    award,
    signer.privateKey,
    envelopeOptions,
  );
}

/**
 * A {@link BidVerifier} backed by a table of public keys: true when the
 * envelope is signed by the registered key of its `from`. An agent without a
 * key never verifies.
 *
 * @example
 * ```ts
 * const verify = bidVerifierFromKeys((agent) => registry.publicKeyOf(agent));
 * ```
 */
export function bidVerifierFromKeys(
  keys: ReadonlyMap<string, KeyObject> | ((agent: string) => KeyObject | undefined),
): BidVerifier {
  return verifierFromKeyTable(keys);
}
