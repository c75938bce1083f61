import type { Headers } from "../port.js";

/**
 * Headers of a copy of a message parked at the tail of its own queue because
 * its dead letter was refused: the dead letter it owes, and where the
 * original was. Such a copy is dead-lettered when it comes back, by any
 * process, never handed to a handler; the headers never reach a handler or
 * a dead letter.
 */
export const ParkedHeaders = Object.freeze({
  /** The reason its dead letter is to carry. */
  reason: "conclave-nats-dead-reason",
  /** The deliveries its dead letter reports. */
  deliveries: "conclave-nats-dead-deliveries",
  /** The message's own id (the copy is stored under another, unique one). */
  msgId: "conclave-nats-dead-msg-id",
  /** The sequence of the message it copies, in the same stream. */
  fromSeq: "conclave-nats-parked-seq",
  /** The stored id (`Nats-Msg-Id`) of the message it copies. */
  fromId: "conclave-nats-parked-id",
} as const);

/** A dead letter a message owes: an earlier delivery of it could not store it. */
export interface OwedDeadLetter {
  readonly reason: string;
  readonly deliveries: number;
  /** The message's own id, for the dead letter's (`dlq:<msgId>`). */
  readonly msgId: string;
}

/** What a received message's headers say: its own headers, and the dead letter it owes if it is a parked copy. */
export interface ReadHeaders {
  readonly headers: Headers;
  readonly owed?: OwedDeadLetter;
  /** The message a parked copy replaces, to remove if it is still stored (a crash between the two). */
  readonly parkedFrom?: { readonly seq: number; readonly storedId: string };
}

const INTERNAL: ReadonlySet<string> = new Set(Object.values(ParkedHeaders));

/** Splits a received message's headers into its own and what a parked copy owes. */
export function readParked(headers: Headers): ReadHeaders {
  const reason = headers[ParkedHeaders.reason];
  const msgId = headers[ParkedHeaders.msgId];
  if (reason === undefined || !msgId) return { headers };
  const own: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) if (!INTERNAL.has(key)) own[key] = value;
  const deliveries = Number(headers[ParkedHeaders.deliveries]);
  const seq = Number(headers[ParkedHeaders.fromSeq]);
  const storedId = headers[ParkedHeaders.fromId];
  return {
    headers: own,
    owed: { reason, deliveries: Number.isSafeInteger(deliveries) ? deliveries : 0, msgId },
    ...(storedId && Number.isSafeInteger(seq) && seq > 0 ? { parkedFrom: { seq, storedId } } : {}),
  };
}

/** The headers of a parked copy: the message's own, plus what it owes and where it came from. */
export function parkedHeaders(
  headers: Headers,
  owed: OwedDeadLetter,
  from: { readonly seq: number; readonly storedId: string },
): Headers {
  return {
    ...headers,
    [ParkedHeaders.reason]: owed.reason,
    [ParkedHeaders.deliveries]: String(owed.deliveries),
    [ParkedHeaders.msgId]: owed.msgId,
    [ParkedHeaders.fromSeq]: String(from.seq),
    [ParkedHeaders.fromId]: from.storedId,
  };
}

/** Entries remembered at most; the oldest are forgotten first. */
const MAX_ENTRIES = 10_000;

/**
 * The messages this transport gave back to JetStream owing a dead letter,
 * by stream sequence: their dead letter was refused, and so was a parked
 * copy carrying it (a JetStream message's headers cannot change on a NAK).
 * When one comes back to a consumer of this transport, it is dead-lettered
 * with that reason instead of handled.
 *
 * Local and bounded: after a crash of this process, or once forgotten
 * behind `MAX_ENTRIES` newer ones, such a message comes back as an ordinary
 * delivery (its handler runs again if attempts remain; past `maxDeliver` it
 * is dead-lettered as an expired lease). A repeat, never a loss.
 */
export class OwedDeadLetters {
  readonly #owed = new Map<string, { readonly owed: OwedDeadLetter; readonly storedId: string }>();

  /** Notes that message `seq` of `stream`, stored as `storedId`, owes `owed`. */
  owe(stream: string, seq: number, storedId: string, owed: OwedDeadLetter): void {
    const key = keyOf(stream, seq);
    this.#owed.delete(key);
    this.#owed.set(key, { owed, storedId });
    if (this.#owed.size > MAX_ENTRIES) {
      const oldest = this.#owed.keys().next();
      if (!oldest.done) this.#owed.delete(oldest.value);
    }
  }

  /** The dead letter message `seq` of `stream` owes, if it is the one stored as `storedId`. */
  get(stream: string, seq: number, storedId: string): OwedDeadLetter | undefined {
    const entry = this.#owed.get(keyOf(stream, seq));
    // A stream deleted and declared again numbers its messages from 1 again.
    return entry?.storedId === storedId ? entry.owed : undefined;
  }

  /** Forgets a message that left its queue. */
  forget(stream: string, seq: number): void {
    this.#owed.delete(keyOf(stream, seq));
  }

  get size(): number {
    return this.#owed.size;
  }
}

function keyOf(stream: string, seq: number): string {
  return `${stream}\u0000${seq}`;
}
