export { type RequireApprovalOptions, requireApproval } from "./approval.js";
export {
  type HeadFields,
  headSigningText,
  parseSignedHead,
  type SealSignature,
  type SignedHead,
  sealSignatureProblem,
  sealSigningText,
  signHead,
  signSeal,
  verifyHead,
} from "./audit-anchor.js";
export { type VerifyChainOptions, type VerifyChainResult, verifyChain } from "./audit-verify.js";
export {
  type Coordination,
  type FaultTolerance,
  type ProtocolChoice,
  type ProtocolRequirements,
  type ResolvedRequirements,
  SELECTION_MATRIX,
  type SelectionRule,
  selectProtocol,
} from "./auto.js";
export {
  type ClusterVoteBody,
  choiceForOutcome,
  clusterVoteBody,
  createClusterVote,
  parseClusterVoteBody,
  type VoteRef,
  voteRefs,
} from "./cluster-vote.js";
export {
  type DecisionRule,
  type VerifyDecisionOptions,
  type VerifyDecisionResult,
  verifyDecision,
} from "./decision.js";
export {
  type ClusterDecision,
  type ClusterRound,
  type ClusterRoundOptions,
  type ClusterVoteCheck,
  createClusterRound,
  createHierarchicalRound,
  type HierarchicalReceipt,
  type HierarchicalResult,
  type HierarchicalRound,
  type HierarchicalRoundConfig,
} from "./hierarchical.js";
export {
  type ClusterNode,
  DEFAULT_CLUSTER_SIZE,
  defaultHierarchySeed,
  type HierarchyConfig,
  type HierarchyPlan,
  type HierarchyRecord,
  planHierarchy,
} from "./hierarchy-plan.js";
export * from "./pbft.js";
export {
  type AnyPolicy,
  allOf,
  applyPolicy,
  type CompiledPolicy,
  compilePolicy,
  evaluatePolicy,
  type PolicyContext,
  type PolicyHandler,
  type PolicyRule,
  type PolicyVerdict,
  parsePolicy,
  parsePolicyYaml,
  type VoterPolicy,
} from "./policy.js";
export {
  createQuorumRound,
  type QuorumRound,
  type QuorumRoundConfig,
  type RoundResult,
  type VoteDeferral,
  type VoteReceipt,
  type VoteRejection,
} from "./quorum.js";
export {
  fromWeightUnits,
  type QuorumCounts,
  type QuorumStatus,
  type QuorumThreshold,
  quorumStatus,
  resolveOutcome,
  thresholdUnits,
  toRational,
  toTally,
  toWeightUnits,
  WEIGHT_SCALE,
} from "./quorum-math.js";
export {
  type ClusterVoteRequest,
  type ConsensusRound,
  fixedRound,
  fromHierarchicalRound,
  fromPbftRound,
  fromQuorumRound,
  type HierarchicalAdapterOptions,
  type RoundOutgoing,
  type RoundProgress,
  type RoundReceipt,
  type RoundRefusal,
} from "./round.js";
export {
  computeSeal,
  type Decision,
  type DecisionParts,
  sealDecision,
} from "./seal.js";
export type {
  ByzantineEvidence,
  Outcome,
  Proposal,
  ProtocolName,
  Tally,
  Verifier,
  VoteBody,
  VoteChoice,
  Voter,
} from "./types.js";
export {
  CLUSTER_VOTE_TYPE,
  type CreateVoteOptions,
  createVote,
  envelopeHash,
  hashProposal,
  parseVoteBody,
  VOTE_TYPE,
  verifierFromKeys,
} from "./vote.js";
