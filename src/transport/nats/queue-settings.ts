import type { QueueConfig } from "../port.js";

/** A queue's settings as the consumer side needs them. */
export interface QueueSettings {
  readonly name: string;
  /** JetStream stream holding the queue. */
  readonly stream: string;
  /** Durable pull consumer on that stream. */
  readonly durable: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly deadLetterSubject: string;
}

/** Name of the durable pull consumer created on each queue's stream. */
export const DURABLE = "conclave";
const SETTINGS_PREFIX = "conclave queue settings: ";

/** The settings of a queue declared through this transport. */
export function settingsOf(config: QueueConfig): QueueSettings {
  return {
    name: config.name,
    stream: config.name,
    durable: DURABLE,
    ackWaitMs: config.ackWaitMs,
    maxDeliver: config.maxDeliver,
    deadLetterSubject: config.deadLetterSubject,
  };
}

/**
 * The settings JetStream has no field for travel in the consumer's
 * description, so that a node consuming a queue another node declared knows
 * them.
 */
export function describeSettings(config: QueueConfig): string {
  return (
    SETTINGS_PREFIX +
    JSON.stringify({ maxDeliver: config.maxDeliver, deadLetterSubject: config.deadLetterSubject })
  );
}

/** The settings a consumer description carries, or undefined when conclave did not write it. */
export function parseSettings(
  description: string | undefined,
): { maxDeliver: number; deadLetterSubject: string } | undefined {
  if (!description?.startsWith(SETTINGS_PREFIX)) return undefined;
  try {
    const value = JSON.parse(description.slice(SETTINGS_PREFIX.length)) as {
      maxDeliver?: unknown;
      deadLetterSubject?: unknown;
    };
    if (typeof value.maxDeliver !== "number" || typeof value.deadLetterSubject !== "string") {
      return undefined;
    }
    return { maxDeliver: value.maxDeliver, deadLetterSubject: value.deadLetterSubject };
  } catch {
    return undefined;
  }
}
