import type { QueueConfig } from "../port.js";
import {
  deadLetterRoutedLocally,
  unroutableDeadLetterError,
  validateQueueConfig as validateCommon,
} from "../queue-config.js";
import { assertRoutingKey, bindingKey } from "./topology.js";

/** The shared checks, plus that every subject maps to a valid AMQP routing key. */
export function validateQueueConfig(config: QueueConfig): void {
  validateCommon(config);
  assertRoutingKey(config.subjects, bindingKey(config.subjects));
  assertRoutingKey(config.deadLetterSubject);
}

/** AMQP cannot list bindings: the dead-letter queue must be declared on this connection first. */
export function assertDeadLetterRoutable(config: QueueConfig, others: Iterable<QueueConfig>): void {
  if (!deadLetterRoutedLocally(config, others)) throw unroutableDeadLetterError(config);
}

/** Only the fields of the port's `QueueConfig`, in a stable order. */
export function normalise(config: QueueConfig): QueueConfig {
  const base = {
    name: config.name,
    subjects: config.subjects,
    ackWaitMs: config.ackWaitMs,
    maxDeliver: config.maxDeliver,
    deadLetterSubject: config.deadLetterSubject,
  };
  return Object.freeze(
    config.maxPending === undefined ? base : { ...base, maxPending: config.maxPending },
  );
}

export function sameConfig(a: QueueConfig, b: QueueConfig): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

/** A stored settings message. `at` orders two copies left by a race. */
interface StoredConfig {
  readonly v: 1;
  readonly at: number;
  readonly config: QueueConfig;
}

export function encodeStoredConfig(config: QueueConfig, at: number): Buffer {
  const stored: StoredConfig = { v: 1, at, config: normalise(config) };
  return Buffer.from(JSON.stringify(stored), "utf8");
}

/** The settings in a stored message, or undefined when it is not one. */
export function decodeStoredConfig(
  content: Uint8Array,
): { readonly at: number; readonly config: QueueConfig } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(content).toString("utf8")) as Partial<StoredConfig>;
    if (parsed.v !== 1 || typeof parsed.at !== "number" || !parsed.config) return undefined;
    const config = normalise(parsed.config);
    validateQueueConfig(config);
    return { at: parsed.at, config };
  } catch {
    return undefined;
  }
}
