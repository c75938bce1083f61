/**
 * The NATS JetStream transport (`conclave/nats`). Importing this module does
 * not load the NATS driver; `createNatsTransport()` does, on first call.
 */
export type { NatsTlsConfig, NatsTransportConfig } from "./config.js";
export { PayloadTooLargeError } from "./errors.js";
export { createNatsTransport, deleteNatsQueue } from "./nats-transport.js";
export { ReplicationUnsafeError, SyncNotStrictError } from "./sync-check.js";
