/**
 * conclave: swarms of agents that coordinate over an event bus.
 *
 * @example
 * ```ts
 * import { createSwarm, createMemoryTransport, openSqliteStore, loadOrCreateAgentKey } from "conclave";
 * ```
 */
export {
  type AgentConfig as SwarmFileAgent,
  type BackoffConfig,
  type BrokerConfig as SwarmFileBroker,
  loadSwarmConfig,
  type McpServerConfig,
  type OrderingMode,
  parseSwarmConfig,
  type RoleConfig as SwarmFileRole,
  redactUrl,
  type SwarmConfig as SwarmFile,
  swarmConfigSchema,
  swarmJsonSchema,
  validateSwarmConfig,
} from "./config/index.js";
export type {
  AuditLogCounts,
  AuditLogVerdict,
  DecisionTrust,
  DeclaredVoter,
  VerifyAuditLogOptions,
} from "./consensus/audit-verify.js";
export * from "./consensus/index.js";
export type { RuntimeProposal } from "./consensus/rule.js";
export { type Clock, ManualClock, systemClock } from "./core/clock.js";
export { type Random, seededRandom, systemRandom } from "./core/random.js";
export * from "./delivery/index.js";
export * from "./ensemble/index.js";
export * from "./errors/index.js";
export * from "./errors/mcp.js";
export * from "./errors/teams.js";
export * from "./hierarchy/index.js";
export * from "./identity/index.js";
export * from "./llm/index.js";
export * from "./registry/index.js";
export * from "./routing/index.js";
export {
  Agent,
  type AgentSpec,
  StartContext,
  type StartHook,
  type TaskHandler,
} from "./runtime/agent.js";
export { storeDedup } from "./runtime/broker-dedup.js";
export type { AgentBudget, Escrow, SpendRequest } from "./runtime/budget.js";
export { storedHeads } from "./runtime/consensus/audit-heads.js";
export {
  readAuditLog,
  type StoredAuditChecks,
  verifyAuditLog,
  verifyStoredAuditLog,
} from "./runtime/consensus/audit-log.js";
export type { VoteContext, VoteHandler } from "./runtime/consensus/voting.js";
export {
  type CallOptions,
  type GatherCall,
  type Gathered,
  StagingContext,
  type SubmitOptions,
  TaskContext,
} from "./runtime/context.js";
export type { SwarmEvent, SwarmEventListener } from "./runtime/events.js";
export {
  loadSwarmModule,
  type OpenSwarmOptions,
  type OpenTransportOptions,
  openSwarm,
  openTransport,
  type SetupContext,
  type SwarmModule,
} from "./runtime/from-config.js";
export type {
  AuctionOptions,
  AuctionOutcome,
  BidHandler,
  BidOffer,
  BidRequest,
} from "./runtime/market/engine.js";
export { type McpCallFor, McpTools, type McpToolsConfig } from "./runtime/mcp-tools.js";
export type { WaitOptions } from "./runtime/node-context.js";
export { queueNames, subjects } from "./runtime/subjects.js";
export { createSupervisor, type Supervisor } from "./runtime/supervisor.js";
export {
  createSwarm,
  type KeyProvider,
  type RoleConfig as SwarmRoleConfig,
  Swarm,
  type SwarmConfig as SwarmOptions,
} from "./runtime/swarm.js";
export {
  type TeamCaller,
  TeamDelegation,
  type TeamGatherCall,
  type TeamRoleOption,
} from "./runtime/team-delegation.js";
export { TEAM_HEADER, type TeamPlacement, type TeamSpec } from "./runtime/teams.js";
export { type WorkloadProgress, workloadProgress } from "./runtime/workload.js";
export * from "./store/index.js";
export * from "./transport/index.js";
export * from "./wire/index.js";
