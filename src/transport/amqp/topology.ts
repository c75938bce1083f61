import { createHash } from "node:crypto";
import { InvalidSubjectError } from "../../errors/index.js";

/**
 * How conclave's subjects, queues and retries map onto RabbitMQ objects.
 * Everything the adapter declares is named here, so that tests and operators
 * can find (and delete) it.
 *
 * - One durable topic exchange (default `conclave`): subjects are routing keys.
 * - A work queue is a quorum queue of the configured name, bound with the
 *   queue's subject pattern; its settings live in `<name>.conclave-config`.
 * - Delayed retries go through `<exchange>.delay`, a headers exchange, into
 *   one of the quorum queues `<exchange>.delay.<k>` (delays of 2^k to
 *   2^(k+1) ms), which dead-letter expired messages through the default
 *   exchange back to the work queue named by their routing key.
 */

/** AMQP 0-9-1 short strings (routing keys, queue names) are at most 255 bytes. */
const MAX_SHORT_STRING = 255;

/** Longest retry delay; longer ones are clamped (about 24.8 days). */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The AMQP binding key for a subject pattern. `*` is one token in both
 * worlds; NATS' `>` is one or more tokens while AMQP's `#` is zero or more,
 * so `>` becomes `*.#` (one token, then any number), which matches exactly
 * what `>` matches.
 */
export function bindingKey(pattern: string): string {
  const tokens = pattern.split(".");
  if (tokens[tokens.length - 1] === ">") tokens[tokens.length - 1] = "*.#";
  return tokens.join(".");
}

/** Throws `InvalidSubjectError` when `key` is too long to be an AMQP routing or binding key. */
export function assertRoutingKey(subject: string, key = subject): void {
  if (Buffer.byteLength(key) > MAX_SHORT_STRING) {
    throw new InvalidSubjectError(
      subject,
      `it is longer than ${MAX_SHORT_STRING} bytes, the AMQP routing key limit`,
    );
  }
}

/** The queue holding the stored settings (`QueueConfig`) of work queue `name`. */
export function configQueueName(name: string): string {
  return `${name}.conclave-config`;
}

/** The headers exchange that sorts delayed retries into their delay queues. */
export function delayExchangeName(exchange: string): string {
  return `${exchange}.delay`;
}

/** The delay queue for bucket `k` (delays of 2^k to 2^(k+1) - 1 ms). */
export function delayQueueName(exchange: string, k: number): string {
  return `${exchange}.delay.${k}`;
}

/** Every delay bucket a delay may fall into. */
export const DELAY_BUCKETS: readonly number[] = Array.from({ length: 31 }, (_, k) => k);

/**
 * The bucket of a delay: `floor(log2(delayMs))`. Messages in one delay queue
 * expire in FIFO order, so a short delay queued behind a longer one waits for
 * it; bucketing by powers of two bounds that extra wait by the bucket width.
 */
export function delayBucket(delayMs: number): number {
  const d = Math.min(MAX_DELAY_MS, Math.max(1, Math.round(delayMs)));
  return 31 - Math.clz32(d);
}

/**
 * The shared queue of a queue group: every member of (group, pattern) consumes
 * from it, so RabbitMQ gives each message to one of them. Readable prefix,
 * hash for uniqueness and length.
 */
export function groupQueueName(exchange: string, group: string, pattern: string): string {
  const hash = createHash("sha256").update(`${group}\u0000${pattern}`).digest("hex").slice(0, 16);
  const readable = `${group}.${pattern}`.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 80);
  return `${exchange}.group.${readable}.${hash}`;
}

/** Arguments of a work queue. */
export function workQueueArguments(maxPending: number | undefined): Record<string, unknown> {
  return maxPending === undefined
    ? { "x-queue-type": "quorum" }
    : { "x-queue-type": "quorum", "x-max-length": maxPending, "x-overflow": "reject-publish" };
}

/** Arguments of a settings queue: keeps only the newest settings message. */
export const CONFIG_QUEUE_ARGUMENTS = Object.freeze({
  "x-queue-type": "quorum",
  "x-max-length": 1,
  "x-overflow": "drop-head",
});

/**
 * Arguments of a delay queue: expired messages go through the default
 * exchange (routing key = work queue name), at least once.
 */
export const DELAY_QUEUE_ARGUMENTS = Object.freeze({
  "x-queue-type": "quorum",
  "x-dead-letter-exchange": "",
  "x-dead-letter-strategy": "at-least-once",
  "x-overflow": "reject-publish",
});

// ---- replies ----------------------------------------------------------------

const INBOX = "_INBOX.amqp";
const DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");
const unb64 = (s: string) => Buffer.from(s, "base64url").toString("utf8");

/**
 * The `reply` subject shown to a receiver. RabbitMQ's direct reply-to
 * addresses are not valid subjects and need the request's correlation id, so
 * they are wrapped as `_INBOX.amqp.<address>.<correlation id>` (base64url);
 * `publish` to such a subject unwraps it.
 */
export function replySubject(replyTo: unknown, correlationId: unknown): string | undefined {
  if (typeof replyTo !== "string" || replyTo.length === 0) return undefined;
  if (!replyTo.startsWith(DIRECT_REPLY_TO) && isPlainSubject(replyTo)) return replyTo;
  const corr = typeof correlationId === "string" && correlationId.length > 0 ? correlationId : "";
  return corr ? `${INBOX}.${b64(replyTo)}.${b64(corr)}` : `${INBOX}.${b64(replyTo)}`;
}

/** Where a publish to a wrapped reply subject goes, or undefined for an ordinary subject. */
export function replyTarget(
  subject: string,
): { readonly routingKey: string; readonly correlationId: string | undefined } | undefined {
  if (!subject.startsWith(`${INBOX}.`)) return undefined;
  const tokens = subject.split(".");
  if (tokens.length !== 3 && tokens.length !== 4) return undefined;
  const routingKey = unb64(tokens[2] as string);
  if (routingKey.length === 0) return undefined;
  return { routingKey, correlationId: tokens[3] === undefined ? undefined : unb64(tokens[3]) };
}

const PLAIN_SUBJECT = /^[A-Za-z0-9_\-:$]+(\.[A-Za-z0-9_\-:$]+)*$/;

function isPlainSubject(s: string): boolean {
  return s.length <= 512 && PLAIN_SUBJECT.test(s);
}
