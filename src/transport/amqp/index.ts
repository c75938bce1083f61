export { createAmqpTransport } from "./amqp-transport.js";
export type { AmqpTlsOptions, AmqpTransportConfig } from "./config.js";
export {
  createSharedDedupStore,
  createWindowDedupStore,
  type DedupStore,
  type SharedClaims,
  type SharedClaimValue,
  type SharedDedupConfig,
} from "./dedup.js";
export { deleteAmqpTopology } from "./delete-topology.js";
export { bindingKey } from "./topology.js";
