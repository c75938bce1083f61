export {
  type AmqpTlsOptions,
  type AmqpTransportConfig,
  createAmqpTransport,
  deleteAmqpTopology,
} from "./amqp-transport.js";
export { createWindowDedupStore, type DedupStore } from "./dedup.js";
export { bindingKey } from "./topology.js";
