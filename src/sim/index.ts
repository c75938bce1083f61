/**
 * A deterministic simulated network with a virtual clock, for driving the
 * protocols' pure state machines in tests and scale studies: latency models,
 * loss, duplication, reordering, partitions, crashes and restarts, and
 * Byzantine behaviours as node wrappers. Every run replays from its seed.
 *
 * @example
 * ```ts
 * import { createSimNetwork } from "./sim/index.js";
 * const net = createSimNetwork<string>({ seed: 7, latency: { kind: "normal", meanMs: 20, stdDevMs: 5 } });
 * ```
 */
export {
  type EquivocatingOptions,
  equivocating,
  type ForgingOptions,
  forging,
  type GarbageOptions,
  garbage,
  type ReplayingOptions,
  replaying,
  silent,
} from "./byzantine.js";
export {
  type EnvelopeSigner,
  forgeSender,
  type GarbageEnvelopeOptions,
  garbageEnvelope,
  randomSignature,
  tamperBody,
} from "./envelope-faults.js";
export { type LatencyModel, type LatencySampler, latencySampler } from "./latency.js";
export {
  createSimNetwork,
  type SimDropReason,
  type SimNetwork,
  type SimNetworkConfig,
  type SimRunOptions,
  type SimRunResult,
  type SimStats,
  type SimTraceEvent,
} from "./network.js";
export { BROADCAST, type SimNode, type SimOutput, type SimSend } from "./node.js";
export { deriveSeed } from "./seed.js";
