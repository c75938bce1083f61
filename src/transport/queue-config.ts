import { ConfigError } from "../errors/index.js";
import type { QueueConfig } from "./port.js";
import { assertPattern, assertSubject } from "./subject.js";

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

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
