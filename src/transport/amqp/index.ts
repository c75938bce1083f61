export {
  type AmqpTlsOptions,
  type AmqpTransportConfig,
  createAmqpTransport,
  deleteAmqpTopology,
} from "./amqp-transport.js";
export {
  createSharedDedupStore,
  createWindowDedupStore,
  type DedupStore,
  type SharedClaims,
  type SharedClaimValue,
  type SharedDedupConfig,
} from "./dedup.js";
export { bindingKey } from "./topology.js";
