export { MemoryBroker, type MemoryBrokerConfig } from "./memory/broker.js";
export type { JournalOptions } from "./memory/journal.js";
export {
  createMemoryTransport,
  MemoryTransport,
  type MemoryTransportConfig,
} from "./memory/memory-transport.js";
export * from "./port.js";
export { assertPattern, assertSubject, SubjectIndex, subjectMatches } from "./subject.js";
