export {
  agentKeyPath,
  loadAgentKey,
  loadOrCreateAgentKey,
  type SaveAgentKeyOptions,
  saveAgentKey,
} from "./key-file.js";
export {
  type AgentKeyPair,
  agentKeyPairFromSeed,
  decodePublicKey,
  encodePublicKey,
  fingerprint,
  generateAgentKeyPair,
  privateKeySeed,
} from "./keys.js";
