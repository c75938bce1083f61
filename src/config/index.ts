export { type Environment, interpolate } from "./interpolate.js";
export { swarmJsonSchema } from "./json-schema.js";
export {
  type LoadSwarmConfigOptions,
  loadSwarmConfig,
  type ParseSwarmConfigOptions,
  parseSwarmConfig,
  type ValidateSwarmConfigOptions,
  validateSwarmConfig,
} from "./load.js";
export {
  type McpHttpServerConfig,
  type McpServerConfig,
  type McpStdioServerConfig,
  parseMcpToolReference,
} from "./mcp.js";
export {
  type AgentLlmConfig,
  DEFAULT_KEY_VARIABLE,
  LLM_DEFAULTS,
  MODEL_PROVIDERS,
  type ModelBreakerConfig,
  type ModelConfig,
  type ModelProvider,
  resolveAgentLlmPaths,
} from "./models.js";
export { applyOverrides, type SwarmOverrides } from "./overrides.js";
export { type PoolConfig, poolSlotIds } from "./pools.js";
export type {
  ConsensusProtocolName,
  PrivilegedActionConfig,
  ThresholdConfig,
} from "./privileged.js";
export { redactUrl } from "./redact.js";
export {
  type AgentConfig,
  type BackoffConfig,
  type BrokerConfig,
  type BrokerTlsConfig,
  type DefaultsConfig,
  type OrderingMode,
  type RoleConfig,
  type RoutingStrategy,
  type SwarmConfig,
  type SwarmConfigInput,
  swarmConfigSchema,
} from "./schema.js";
