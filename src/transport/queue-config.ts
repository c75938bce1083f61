import { ConfigError, QueueFullError } from "../errors/index.js";
import type { ConsumeOptions, QueueConfig } from "./port.js";
import { assertPattern, assertSubject, subjectMatches } from "./subject.js";

/** What a queue may be called on every adapter (a JetStream stream name, a RabbitMQ queue name). */
export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Checks a queue declaration the same way on every adapter, so a bad one
 * gets the same `ConfigError` (or `InvalidSubjectError`) whatever the broker.
 */
export function validateQueueConfig(config: QueueConfig): void {
  if (!QUEUE_NAME.test(config.name)) {
    throw new ConfigError(`queue name "${config.name}" must be 1-128 letters, digits, '_' or '-'`);
  }
  assertPattern(config.subjects);
  assertSubject(config.deadLetterSubject);
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

/** Checks `consume()`'s options the same way on every adapter. */
export function validateConsumeOptions(options: ConsumeOptions): void {
  if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
    throw new ConfigError("consume(): maxInFlight must be an integer of at least 1");
  }
}

/**
 * Whether a queue's dead letters land in a queue known here: itself, or
 * another of `declared` (the adapter may also ask its broker).
 */
export function deadLetterRoutedLocally(
  config: QueueConfig,
  declared: Iterable<QueueConfig>,
): boolean {
  if (subjectMatches(config.subjects, config.deadLetterSubject)) return true;
  for (const other of declared) {
    if (other.name !== config.name && subjectMatches(other.subjects, config.deadLetterSubject)) {
      return true;
    }
  }
  return false;
}

/** The error for a queue whose dead letters no queue takes. */
export function unroutableDeadLetterError(config: QueueConfig): ConfigError {
  return new ConfigError(
    `queue "${config.name}" dead-letters to "${config.deadLetterSubject}", which no queue takes; declare the dead-letter queue first`,
  );
}

/**
 * The error for an enqueue a full queue refused: the first of `declared`
 * that takes `subject` and has a `maxPending`, when one is known here.
 */
export function fullQueueError(
  declared: Iterable<QueueConfig>,
  subject: string,
): QueueFullError | undefined {
  for (const config of declared) {
    if (config.maxPending !== undefined && subjectMatches(config.subjects, subject)) {
      return new QueueFullError(config.name, config.maxPending);
    }
  }
  return undefined;
}
