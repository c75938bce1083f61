/**
 * The market layer: auctions as pure state machines (contract-net task
 * allocation is a procurement auction), the bodies of `market.cfp`,
 * `market.bid` and `market.award`, the bid gate against gaming, and
 * reputation weighting. No timers, no clock reads, no IO.
 *
 * @example
 * ```ts
 * const gate = createBidGate({ verify, bidder, canAfford, rateLimiter: createRateLimiter({ capacity: 10, refillPerSecond: 2 }) });
 * const auction = createAuction({
 *   terms: { id: "01JD7Q0000000000000000000A", rule: "vickrey", side: "procurement", reserve: 500, roundMs: 5_000 },
 *   opensAt: now,
 *   gate,
 * });
 * auction.step(createBid({ auction: auction.id, round: 1, from: "dev-1", price: 300, privateKey }), now + 10);
 * auction.tick(now + 5_000); // [{ kind: "awarded", award: { winner: "dev-1", price: 500, … } }]
 * ```
 */
export { createAuction } from "./auction.js";
export { awardBody } from "./auction-rules.js";
export {
  type Auction,
  type AuctionConfig,
  type AuctionEvent,
  type AuctionResult,
  type AuctionStatus,
  type Award,
  type BidOutcome,
  type CallForProposals,
  DEFAULT_MAX_RECORDED_REJECTIONS,
  type RejectedBid,
} from "./auction-types.js";
export {
  type Admission,
  type BidderFacts,
  type BidGate,
  type BidGateConfig,
  type BidRejection,
  bidRejections,
  createBidGate,
  type Rejection,
  toBidRejectedError,
} from "./bid-gate.js";
export {
  type Clearing,
  type ClearingTerms,
  clearSealed,
  type DutchClock,
  dutchClock,
  dutchClockPrice,
  englishThreshold,
  isEnoughRaise,
  rankByPrice,
  sealedRules,
  vickreyPrice,
} from "./clearing.js";
export {
  type AuctioneerSigner,
  AWARD_TYPE,
  type AwardBody,
  awardBodySchema,
  BID_TYPE,
  type BidBody,
  type BidVerifier,
  bidBodySchema,
  bidVerifierFromKeys,
  CFP_TYPE,
  type CfpBody,
  type ClockSchedule,
  type CreateBidOptions,
  cfpBodySchema,
  createAward,
  createBid,
  createCfp,
  parseAwardBody,
  parseBidBody,
  parseCfpBody,
  type StandingBid,
} from "./messages.js";
export {
  effectiveFromOriented,
  effectivePrice,
  orientedScore,
  orientPrice,
  priceFromOriented,
  thresholdPrice,
  withinReserve,
} from "./orientation.js";
export { createRateLimiter, type RateLimiter, type RateLimiterConfig } from "./rate-limiter.js";
export {
  clampReputation,
  NEUTRAL_REPUTATION,
  observationScore,
  type ReputationObservation,
  reputationOf,
  reputationWeight,
  updateMarketReputation,
} from "./reputation.js";
export { criterionValue, missingCriterion, scoreMultiCriteria } from "./scoring.js";
export { auctionIdPattern, criterionNamePattern, MAX_CRITERIA, resolveTerms } from "./terms.js";
export {
  type AcceptedBid,
  type AuctionRule,
  type AuctionSide,
  type AuctionTerms,
  auctionRules,
  auctionSides,
  type BidInput,
  type BidScore,
  type Criterion,
  type CriterionScore,
  DEFAULT_ENGLISH_MAX_ROUNDS,
  type IdentityConflict,
  type RankedBid,
  type ReputationLookup,
  type ResolvedTerms,
  type UnsoldReason,
} from "./types.js";
