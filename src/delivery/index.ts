/**
 * Delivery guarantees on top of any transport: retry spacing, and ordering
 * per conversation or by causality. Everything here is a pure function or a
 * pure state machine; the runtime supplies time and IO.
 */
export { type BackoffPolicy, backoffDelay, defaultBackoff } from "./backoff.js";
export {
  type CausalMessage,
  type CausalOrderer,
  type CausalOrdererConfig,
  type CausalOrderStats,
  type CausalOutput,
  type CausalReport,
  type ClockOrder,
  compare,
  createCausalOrderer,
  happenedBefore,
  increment,
  merge,
  type VectorClock,
} from "./causal-order.js";
export {
  type ConversationItem,
  type ConversationOrderer,
  type ConversationOrdererConfig,
  type ConversationOrderStats,
  createConversationOrderer,
  type GapSkipReason,
  type OrderOutput,
  type OrderReport,
} from "./conversation-order.js";
