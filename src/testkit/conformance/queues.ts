import type { QueueConfig, Transport } from "../../transport/port.js";

/**
 * Declares the pair of queues most transport tests use under `prefix`: a
 * dead-letter queue `<prefix>-dlq` on `<prefix>.dlq.>`, then a work queue
 * `<prefix>-work` on `<prefix>.task.>` that dead-letters to
 * `<prefix>.dlq.work`. `work` and `dlq` override their settings.
 */
export async function declareTaskQueues(
  transport: Transport,
  prefix: string,
  overrides: { readonly work?: Partial<QueueConfig>; readonly dlq?: Partial<QueueConfig> } = {},
): Promise<{ readonly work: QueueConfig; readonly dlq: string }> {
  await transport.ensureQueue({
    name: `${prefix}-dlq`,
    subjects: `${prefix}.dlq.>`,
    ackWaitMs: 30_000,
    maxDeliver: 1000,
    deadLetterSubject: `${prefix}.dlq.dlq`,
    ...overrides.dlq,
  });
  const work: QueueConfig = {
    name: `${prefix}-work`,
    subjects: `${prefix}.task.>`,
    ackWaitMs: 30_000,
    maxDeliver: 3,
    deadLetterSubject: `${prefix}.dlq.work`,
    ...overrides.work,
  };
  await transport.ensureQueue(work);
  return { work, dlq: `${prefix}-dlq` };
}
