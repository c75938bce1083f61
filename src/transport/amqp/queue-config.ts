import { ConfigError } from "../../errors/index.js";
import type { QueueConfig } from "../port.js";
import { assertPattern, assertSubject, subjectMatches } from "../subject.js";
import { assertRoutingKey, bindingKey } from "./topology.js";

export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** The same checks, with the same messages, as the memory broker; plus what AMQP adds. */
export function validateQueueConfig(config: QueueConfig): void {
  if (!QUEUE_NAME.test(config.name)) {
    throw new ConfigError(`queue name "${config.name}" must be 1-128 letters, digits, '_' or '-'`);
  }
  assertPattern(config.subjects);
  assertRoutingKey(config.subjects, bindingKey(config.subjects));
  assertSubject(config.deadLetterSubject);
  assertRoutingKey(config.deadLetterSubject);
  if (!Number.isInteger(config.ackWaitMs) || config.ackWaitMs < 1) {
    throw new ConfigError(
      `queue "${config.name}": ackWaitMs must be a positive integer of milliseconds`,
    );
  }
  if (!Number.isInteger(config.maxDeliver) || config.maxDeliver < 1) {
    throw new ConfigError(`queue "${config.name}": maxDeliver must be an integer of at least 1`);
  }
  if (
    config.maxPending !== undefined &&
    (!Number.isInteger(config.maxPending) || config.maxPending < 1)
  ) {
    throw new ConfigError(`queue "${config.name}": maxPending must be an integer of at least 1`);
  }
}

/**
 * Throws the memory broker's `ConfigError` unless some queue takes the
 * dead-letter subject: the queue itself, or one of `others` (the queues this
 * transport knows). RabbitMQ cannot list bindings over AMQP, so a dead-letter
 * queue declared only by another process is not seen: declare it on this
 * connection too (the runtime declares every queue on every node).
 */
export function assertDeadLetterRoutable(config: QueueConfig, others: Iterable<QueueConfig>): void {
  if (subjectMatches(config.subjects, config.deadLetterSubject)) return;
  for (const other of others) {
    if (other.name !== config.name && subjectMatches(other.subjects, config.deadLetterSubject)) {
      return;
    }
  }
  throw new ConfigError(
    `queue "${config.name}" dead-letters to "${config.deadLetterSubject}", which no queue takes; declare the dead-letter queue first`,
  );
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
