import type { Clock } from "../../core/clock.js";
import { ClosedError, TransportError, toError } from "../../errors/index.js";
import { DeadLetterHeaders, type Headers } from "../port.js";
import {
  DEAD_LETTER_ATTEMPTS_HELD,
  deadLetterHeaders,
  deadLetterMsgId,
  deadLetterRetryPause,
  redriveMsgId,
} from "../settlement.js";
import { fitDeadLetter } from "./dead-letter-size.js";
import type { JsMsg } from "./driver.js";
import { type OwedDeadLetter, type OwedDeadLetters, parkedHeaders } from "./owed-dead-letters.js";
import type { QueueSettings } from "./queue-settings.js";

/**
 * Header on a dead letter naming the original's sequence in its queue's
 * stream (the queue is `DeadLetterHeaders.queue`). JetStream cannot move a
 * message between streams atomically, so a dead letter is published first
 * (nothing is lost if the mover dies) and the original removed after; a
 * consumer that receives the dead letter first completes the removal before
 * its handler sees it. So once a dead letter is observed, the original is gone.
 */
export const ORIGINAL_SEQ_HEADER = "conclave-original-seq";
/**
 * With `ORIGINAL_SEQ_HEADER`, on the dead letter of a parked copy only: the
 * id the original is stored under, which is not its message id (a parked
 * copy is stored under a unique one, see `moveToDeadLetter`).
 */
export const ORIGINAL_STORED_ID_HEADER = "conclave-original-stored-id";

/** Longest pause before a message given back owing its dead letter comes again. */
const OWED_REDELIVERY_MAX_MS = 5_000;

/** What moving a dead letter needs from the transport. */
export interface DeadLetterMoveHost {
  readonly clock: Clock;
  /** Durably stores a message (a JetStream publish deduplicated by `msgId`). */
  publishDeadLetter(
    subject: string,
    data: Uint8Array,
    msgId: string,
    headers: Headers,
  ): Promise<void>;
  /** Resolves once the server has read everything sent so far. */
  flush(): Promise<void>;
  report(error: Error): void;
  /** True once the transport is closed: settling can no longer reach the server. */
  isClosed(): boolean;
  /** The server's `max_payload`, once known: a dead letter is trimmed to fit it. */
  maxPayload?(): number | undefined;
}

/** The leased message to move, and what the consumer knows of it. */
export interface MovedMessage {
  readonly message: JsMsg;
  /** Its queue's settings now. */
  readonly settings: () => QueueSettings;
  /** Its own headers (without the `ParkedHeaders` of a parked copy). */
  readonly headers: Headers;
  /** Its message id: the original's, for a parked copy. */
  readonly msgId: string;
  /** The id it is stored under in its stream (`Nats-Msg-Id`). */
  readonly storedId: string;
  /** True once its consumer is draining or closed: then it is not held for more attempts. */
  readonly stopping: () => boolean;
  /** Waits `ms` between attempts; sooner when its consumer stops. */
  readonly pause: (ms: number) => Promise<void>;
  readonly owed: OwedDeadLetters;
}

/** How a dead letter left: stored, or parked in a copy that owes it. */
export type MoveOutcome = "dead-lettered" | "parked";

/**
 * Moves a leased message to its queue's dead-letter subject, with `reason`
 * and `deliveries`, then removes it (TERM; in a work-queue stream that
 * removes the message, like an ack).
 *
 * A dead letter the server refuses (the dead-letter queue full or gone, its
 * store failing) must not bring the message back to a handler, which
 * already gave up on it (a NAK did: a termed message ran again, and one at
 * its last delivery came back past `maxDeliver` and was dead-lettered as an
 * expired lease, its reason lost). So:
 * 1. The message stays leased (kept alive with WORKING) while the dead
 *    letter is tried again with backoff (`DEAD_LETTER_ATTEMPTS_HELD`
 *    attempts; fewer once its consumer stops).
 * 2. Then a copy is parked at the tail of its queue carrying the dead
 *    letter it owes (`ParkedHeaders`), stored under a unique id
 *    (`redriveMsgId(msgId, seq)`: the original's id is still in the
 *    stream's duplicate window), and the original is removed. Whoever
 *    receives the copy, in any process, removes the original if still
 *    there and dead-letters the copy with the owed reason: this survives a
 *    crash of this process.
 * 3. When even the copy is refused (the queue full too), the message is
 *    given back with a NAK after a pause and remembered in `owed` (local:
 *    see `OwedDeadLetters` for what a crash then costs), and the call
 *    rejects with the dead letter's refusal.
 *
 * Rejects with `ClosedError` when the transport closed meanwhile (the
 * server then redelivers the message after its ack deadline).
 */
export async function moveToDeadLetter(
  host: DeadLetterMoveHost,
  moved: MovedMessage,
  reason: string,
  deliveries: number,
): Promise<MoveOutcome> {
  const { message } = moved;
  // NATS header values are single lines.
  const owed: OwedDeadLetter = {
    reason: reason.replace(/[\r\n]+/g, " "),
    deliveries,
    msgId: moved.msgId,
  };
  const stopKeepingAlive = keepAlive(host, moved);
  try {
    for (let attempt = 1; ; attempt++) {
      if (host.isClosed()) throw new ClosedError("the NATS transport");
      const s = moved.settings();
      const refusal = await failureOf(
        host.publishDeadLetter(
          s.deadLetterSubject,
          message.data,
          deadLetterMsgId(moved.msgId),
          deadLetter(host, moved, owed),
        ),
      );
      if (refusal === undefined) {
        await removeOriginal(host, moved);
        return "dead-lettered";
      }
      if (host.isClosed()) throw refusal;
      const last = attempt >= DEAD_LETTER_ATTEMPTS_HELD || moved.stopping();
      const pause = deadLetterRetryPause(attempt);
      host.report(
        new TransportError(
          `could not dead-letter message "${moved.msgId}" from queue "${s.name}" to "${s.deadLetterSubject}" (${refusal.message}); ${last ? "it goes to the tail of its queue and is dead-lettered when it comes back (its handler does not run again)" : `trying again in ${pause} ms (its handler does not run again)`}: check the dead-letter queue (full, or deleted)`,
          { cause: refusal },
        ),
      );
      if (!last) {
        await moved.pause(pause);
        continue;
      }
      if (await park(host, moved, owed)) return "parked";
      giveBackOwing(moved, owed);
      throw refusal;
    }
  } finally {
    stopKeepingAlive();
  }
}

/** The failure `work` rejects with, or undefined once it resolves. */
async function failureOf(work: Promise<unknown>): Promise<Error | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    return toError(error);
  }
}

/** The dead letter's headers, trimmed to fit the server's `max_payload`. */
function deadLetter(host: DeadLetterMoveHost, moved: MovedMessage, owed: OwedDeadLetter): Headers {
  const { message } = moved;
  const dead: Headers = {
    ...deadLetterHeaders({
      headers: moved.headers,
      reason: owed.reason,
      queue: moved.settings().name,
      subject: message.subject,
      deliveries: owed.deliveries,
      at: host.clock.now(),
      msgId: moved.msgId,
    }),
    [ORIGINAL_SEQ_HEADER]: String(message.seq),
    ...(moved.storedId === moved.msgId ? {} : { [ORIGINAL_STORED_ID_HEADER]: moved.storedId }),
  };
  // The dead letter's headers must not push it over max_payload: then it
  // could never be stored, and the message came back forever.
  return fitDeadLetter(
    message.data.byteLength,
    dead,
    { "Nats-Msg-Id": deadLetterMsgId(moved.msgId) },
    host.maxPayload?.(),
    [
      DeadLetterHeaders.at,
      DeadLetterHeaders.deliveries,
      ORIGINAL_STORED_ID_HEADER,
      ORIGINAL_SEQ_HEADER,
    ],
  );
}

/**
 * Parks a copy of the message at the tail of its queue, owing its dead
 * letter, then removes the original; false (reported) when the copy is refused.
 */
async function park(
  host: DeadLetterMoveHost,
  moved: MovedMessage,
  owed: OwedDeadLetter,
): Promise<boolean> {
  const { message } = moved;
  const headers = parkedHeaders(moved.headers, owed, {
    seq: message.seq,
    storedId: moved.storedId,
  });
  try {
    if (host.isClosed()) throw new ClosedError("the NATS transport");
    await host.publishDeadLetter(
      message.subject,
      message.data,
      redriveMsgId(moved.msgId, message.seq),
      headers,
    );
  } catch (error) {
    const cause = toError(error);
    if (!host.isClosed()) {
      host.report(
        new TransportError(
          `could not park message "${moved.msgId}" at the tail of queue "${moved.settings().name}" until its dead letter is taken (${cause.message}); it is given back to its queue, owing its dead letter as far as this process remembers (its handler does not run again here; after a restart of this process it may)`,
          { cause },
        ),
      );
    }
    return false;
  }
  await removeOriginal(host, moved);
  return true;
}

/** Removes the leased message, whose dead letter (or parked copy) is stored. */
async function removeOriginal(host: DeadLetterMoveHost, moved: MovedMessage): Promise<void> {
  // Plain TERM: the reason travels in the dead letter's headers (a TERM
  // reason needs nats-server 2.11).
  moved.message.term();
  moved.owed.forget(moved.message.info.stream, moved.message.seq);
  await host.flush();
}

/** Gives the message back after a pause, remembering here that it owes `owed`. */
function giveBackOwing(moved: MovedMessage, owed: OwedDeadLetter): void {
  const { message } = moved;
  moved.owed.owe(message.info.stream, message.seq, moved.storedId, owed);
  try {
    message.nak(Math.min(moved.settings().ackWaitMs, OWED_REDELIVERY_MAX_MS));
  } catch {
    // Connection gone: redelivered after the ack deadline.
  }
}

/**
 * Keeps the message leased while it is being moved: a WORKING every third
 * of its ack wait, however long the attempts and their pauses take (a slow
 * publish included). Returns the function that stops it.
 */
function keepAlive(host: DeadLetterMoveHost, moved: MovedMessage): () => void {
  let cancel: (() => void) | undefined;
  const arm = () => {
    cancel = host.clock.setTimer(
      () => {
        try {
          moved.message.working();
        } catch {
          // Connection gone: nothing keeps it; the server redelivers it.
          return;
        }
        arm();
      },
      Math.max(1, Math.floor(moved.settings().ackWaitMs / 3)),
    );
  };
  arm();
  return () => {
    cancel?.();
    cancel = undefined;
  };
}
