export {
  type AgentCard,
  type AgentStatus,
  agentStatuses,
  hasAll,
  isAcceptingWork,
  sameCard,
  statusOf,
} from "./agent-card.js";
export {
  type AgentEntry,
  createRegistryView,
  type FindQuery,
  type LeaveReason,
  type Liveness,
  type RegistryEvent,
  type RegistryView,
  type RegistryViewConfig,
} from "./registry-view.js";
