import type { Headers } from "../port.js";

/**
 * Headers the adapter owns on durable messages. They are never shown to
 * handlers, and are rewritten whenever the adapter republishes a message.
 */
export const InternalHeaders = Object.freeze({
  /**
   * Deliveries made before this copy was published. A nak, a retry or an
   * expired lease republishes the message with the count so far; RabbitMQ's
   * own `x-delivery-count` then counts only redeliveries of this copy (after
   * a consumer died holding it).
   */
  deliveries: "conclave-amqp-deliveries",
  /** The subject it was enqueued to; a retried copy's routing key is the queue name. */
  subject: "conclave-amqp-subject",
  /** The delay bucket, matched by the delay exchange's bindings. */
  delay: "conclave-amqp-delay",
  /** Ties a `basic.return` to its publish. */
  publish: "conclave-amqp-publish",
  /**
   * On a copy put back on its queue because its dead letter was refused:
   * the reason it is to be dead-lettered with. Such a copy is dead-lettered
   * when it comes back, never handed to a handler again.
   */
  deadReason: "conclave-amqp-dead-reason",
  /** With `deadReason`: the deliveries its dead letter reports. */
  deadDeliveries: "conclave-amqp-dead-deliveries",
} as const);

const INTERNAL: ReadonlySet<string> = new Set(Object.values(InternalHeaders));

/** Headers RabbitMQ adds (dead-lettering, quorum redelivery counts); not part of the message. */
const BROKER: ReadonlySet<string> = new Set([
  "x-death",
  "x-delivery-count",
  "x-first-death-exchange",
  "x-first-death-queue",
  "x-first-death-reason",
  "x-last-death-exchange",
  "x-last-death-queue",
  "x-last-death-reason",
]);

const EMPTY: Headers = Object.freeze({});

/**
 * The message headers as conclave sees them: string values only (numbers and
 * booleans from other AMQP clients are stringified, tables dropped), without
 * the adapter's and the broker's own headers.
 */
export function readHeaders(raw: Record<string, unknown> | undefined): Headers {
  if (!raw) return EMPTY;
  let out: Record<string, string> | undefined;
  for (const key of Object.keys(raw)) {
    if (INTERNAL.has(key) || BROKER.has(key)) continue;
    const value = raw[key];
    let text: string | undefined;
    if (typeof value === "string") text = value;
    else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
      text = String(value);
    else if (Buffer.isBuffer(value)) text = value.toString("utf8");
    if (text === undefined) continue;
    out ??= {};
    out[key] = text;
  }
  return out ? Object.freeze(out) : EMPTY;
}

/** A fresh AMQP header table from conclave headers plus the adapter's own. */
export function writeHeaders(
  headers: Headers | undefined,
  extra?: Readonly<Record<string, string>>,
): Record<string, string> {
  return { ...headers, ...extra };
}

/**
 * The 1-based delivery count of a received durable message: deliveries
 * before this copy, plus redeliveries of this copy counted by the quorum
 * queue (`x-delivery-count`, or at least one when the broker flags it
 * redelivered), plus this one.
 */
export function deliveryCount(
  raw: Record<string, unknown> | undefined,
  redelivered: boolean,
): number {
  const prior = toCount(raw?.[InternalHeaders.deliveries]);
  const returned = toCount(raw?.["x-delivery-count"]);
  return prior + (returned === 0 && redelivered ? 1 : returned) + 1;
}

function toCount(value: unknown): number {
  const n =
    typeof value === "string" || typeof value === "bigint"
      ? Number(value)
      : typeof value === "number"
        ? value
        : 0;
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** A dead letter still owed by a received message (`InternalHeaders.deadReason`), or undefined. */
export function owedDeadLetter(
  raw: Record<string, unknown> | undefined,
): { readonly reason: string; readonly deliveries: number } | undefined {
  const reason = raw?.[InternalHeaders.deadReason];
  const text = Buffer.isBuffer(reason) ? reason.toString("utf8") : reason;
  if (typeof text !== "string") return undefined;
  return { reason: text, deliveries: toCount(raw?.[InternalHeaders.deadDeliveries]) };
}
