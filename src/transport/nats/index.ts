/**
 * The NATS JetStream transport (`conclave/nats`). Importing this module does
 * not load the NATS driver; `createNatsTransport()` does, on first call.
 */
export {
  createNatsTransport,
  deleteNatsQueue,
  type NatsTlsConfig,
  type NatsTransportConfig,
} from "./nats-transport.js";
