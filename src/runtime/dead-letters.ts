import {
  ConclaveError,
  RedriveRefusedError,
  toError,
  UnknownSignerError,
} from "../errors/index.js";
import {
  type Consumer,
  DeadLetterHeaders,
  type Delivery,
  type Message,
} from "../transport/port.js";
import {
  type DeadLetterFacts,
  deadLetterHeaders,
  deadLetterMsgId,
  fromRedrive,
  redriveLineage,
  redriveMsgId,
} from "../transport/settlement.js";
import { decodeEnvelope } from "../wire/codec.js";
import type { Envelope } from "../wire/envelope.js";
import { ulid } from "../wire/ulid.js";
import { escrowOf } from "./budget.js";
import type { BadInputPark, NodeContext } from "./node-context.js";
import { otherRunOf, parkOtherRun, strayRun } from "./run-identity.js";
import { isTaskSubject, queueNames, subjects } from "./subjects.js";

/** Message ids of parked input (`DeadLetters.park`) start so. */
const PARKED_PREFIX = "bad-";

/**
 * Whether a dead letter was a task (sent on one of the swarm's task
 * subjects), which a redrive can run again, rather than parked input (a
 * heartbeat, vote or bid that failed to parse or verify; it keeps the
 * subject it came on).
 */
export function wasTask(swarm: string, record: { id: string; subject: string }): boolean {
  return !record.id.startsWith(PARKED_PREFIX) && isTaskSubject(swarm, record.subject);
}

/** Deliveries of a dead letter whose signer is not trusted yet, before it is recorded without settling its escrow. */
const TRUST_WAITS = 5;

/**
 * Dead letters, both ways: bad input heard on the core bus is parked in the
 * dead-letter queue with its reason, and everything that reaches that queue
 * (tasks that used up their deliveries or were refused, parked input) is
 * recorded in the store, where a delegated task's escrow is refunded and an
 * auctioned task's winner loses reputation.
 */
export class DeadLetters implements BadInputPark {
  readonly #node: NodeContext;
  #consumer: Consumer | undefined;

  constructor(node: NodeContext) {
    this.#node = node;
  }

  /** Starts recording what reaches the dead-letter queue (declared by `declareQueues`). */
  start(): void {
    this.#consumer = this.#node.transport.consume(
      queueNames.deadLetters(this.#node.swarm),
      (delivery) => this.#record(delivery),
      { maxInFlight: 16 },
    );
  }

  async stop(graceful: boolean): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (graceful) await consumer?.drain();
    else await consumer?.close();
  }

  /**
   * Sends dead letter `id`'s task to its queue again, as it was (same
   * envelope, same signature, fresh deliveries), after whatever made it fail
   * was fixed. Recorded in the audit log: who, when, which attempt, and the
   * reason it had died with. A task whose escrow was refunded when it died
   * runs unpaid, and only when asked (`unpaid`): redriving it must not make
   * its delegator pay twice, and nothing can pay its worker.
   *
   * @throws RedriveRefusedError saying why it cannot.
   */
  async redrive(id: string, options: RedriveOptions): Promise<Redriven> {
    const { store, outbox, clock, swarm, events } = this.#node;
    const record = await store.deadLetter(id);
    if (record === undefined) {
      throw new RedriveRefusedError(`no dead letter ${id}; conclave dead-letters list shows them`);
    }
    if (!wasTask(swarm, record)) {
      throw new RedriveRefusedError(
        `dead letter ${id} was input that failed to parse or verify (${record.reason}), not a task: there is nothing to run again`,
      );
    }
    if (await store.isCompleted(id)) {
      throw new RedriveRefusedError(`task ${id} has completed since; nothing to redrive`);
    }
    const data = Buffer.from(record.data, "base64");
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(data, { maxBytes: Number.MAX_SAFE_INTEGER });
    } catch (error) {
      throw new RedriveRefusedError(`dead letter ${id} cannot be read: ${toError(error).message}`);
    }
    if (envelope.deadline !== undefined && clock.now() > envelope.deadline) {
      throw new RedriveRefusedError(
        `task ${id}'s deadline passed at ${new Date(envelope.deadline).toISOString()} (it is signed into the task), so it would be dead-lettered again at once; submit it anew with a later deadline`,
      );
    }
    const escrow = escrowOf(envelope);
    if (escrow !== undefined && options.unpaid !== true) {
      throw new RedriveRefusedError(
        `task ${id} carried ${escrow.amount} credits of ${escrow.delegator}'s escrow, refunded when it died; redrive it with --unpaid to run it without pay, or have ${escrow.delegator} delegate it again`,
      );
    }
    const attempt = Number((await store.getMeta(redriveKey(id))) ?? "0") + 1;
    const at = clock.now();
    await store.setMeta(redriveKey(id), String(attempt));
    await store.appendAudit({
      kind: REDRIVEN_KIND,
      data: {
        id,
        subject: record.subject,
        type: envelope.type,
        reason: record.reason,
        deliveries: record.deliveries,
        by: options.by,
        at,
        attempt,
        ...(escrow === undefined ? {} : { unpaid: true }),
      },
    });
    // Through the outbox, so that nothing between here and the bus loses it:
    // the dead letter is removed (waiters see no outcome until the task
    // completes or dies anew) and the task queued in the outbox in one
    // transaction (a crash from here on leaves it to the relay), then sent;
    // where the watch runs, kept until it settles (outbox-watch.ts). Its
    // message id is numbered by the time, unlike the small numbers of the
    // watch's copies, so that no bus drops it as a duplicate of one.
    const marker = `redrive:${id}:${attempt}`;
    const queued = await store.redriveDeadLetter(id, {
      id: redriveMsgId(id, at),
      taskId: marker,
      subject: record.subject,
      data,
    });
    if (!queued) {
      throw new RedriveRefusedError(`dead letter ${id} was redriven meanwhile; nothing to redrive`);
    }
    const sent = await outbox.resend(marker);
    events.emit({ type: "task.redriven", id, subject: record.subject, by: options.by, attempt });
    return { id, subject: record.subject, attempt, sent };
  }

  /** Core-bus input that fails to parse or verify: parked with the reason, never dropped. */
  park(message: Message, error: unknown): void {
    const { clock, transport, events, swarm } = this.#node;
    const e = toError(error);
    const code = e instanceof ConclaveError ? e.code : "E_INVALID_ENVELOPE";
    events.emit({ type: "message.rejected", subject: message.subject, code, reason: e.message });
    transport
      .enqueue(subjects.deadLetter(swarm, "input"), message.data, {
        msgId: `${PARKED_PREFIX}${ulid(clock)}`,
        headers: {
          [DeadLetterHeaders.reason]: `${e.name}: ${e.message}`,
          [DeadLetterHeaders.subject]: message.subject,
          [DeadLetterHeaders.deliveries]: "1",
          [DeadLetterHeaders.at]: String(clock.now()),
        },
      })
      .catch((err: unknown) => events.emit({ type: "error", error: toError(err).message }));
  }

  #strayRun(envelope: Envelope): string | undefined {
    if (otherRunOf(envelope, this.#node.runId) === undefined) return undefined;
    try {
      this.#node.keys.verify(envelope);
      return undefined;
    } catch (error) {
      return strayRun(envelope, this.#node.runId, error);
    }
  }

  /** Why `envelope` does not verify here, or undefined when it does. */
  #unverified(envelope: Envelope): Error | undefined {
    try {
      this.#node.keys.verify(envelope);
      return undefined;
    } catch (error) {
      return toError(error);
    }
  }

  async #record(delivery: Delivery): Promise<void> {
    const { clock, store, budgets, market, events } = this.#node;
    const h = delivery.headers;
    let envelope: Envelope | undefined;
    try {
      envelope = decodeEnvelope(delivery.data, { maxBytes: Number.MAX_SAFE_INTEGER });
    } catch {
      envelope = undefined;
    }
    // Another run's dead letter, unverifiable here, is not this run's to record (run-identity.ts).
    const stray = envelope === undefined ? undefined : this.#strayRun(envelope);
    if (stray !== undefined && envelope !== undefined) {
      await parkOtherRun(this.#node, delivery, envelope, stray, "dlq");
      return;
    }
    const died = h[DeadLetterHeaders.msgId] || delivery.msgId || `anonymous-${ulid(clock)}`;
    const subject = h[DeadLetterHeaders.subject] ?? delivery.subject;
    // Credits and reputation move only for what its signer really sent: a
    // forged task (dead-lettered for its signature) names any escrow and
    // any delegator in its headers (and any task id).
    const unverified = envelope === undefined ? undefined : this.#unverified(envelope);
    const record = {
      // A task is recorded under its own id, which its waiters know, even
      // when it went under another message id (an unsold auction's
      // `unsold-<id>`); a redriven message keeps its dead letter's id.
      id:
        envelope !== undefined &&
        unverified === undefined &&
        isTaskSubject(this.#node.swarm, subject) &&
        !died.startsWith(PARKED_PREFIX)
          ? envelope.id
          : fromRedrive(died),
      subject,
      reason: h[DeadLetterHeaders.reason] ?? "unknown",
      deliveries: Number(h[DeadLetterHeaders.deliveries] ?? "0") || 0,
      at: Number(h[DeadLetterHeaders.at] ?? clock.now()) || clock.now(),
      data: Buffer.from(delivery.data).toString("base64"),
      ...(envelope ? { corr: envelope.corr ?? envelope.id, type: envelope.type } : {}),
    };
    // For escrow, a signer not trusted yet (a node just started) is waited
    // for a few times, then recorded without settling.
    const escrow = escrowOf(envelope);
    if (
      unverified instanceof UnknownSignerError &&
      escrow !== undefined &&
      delivery.deliveryCount < TRUST_WAITS
    ) {
      await delivery.nak({ delayMs: 2000, reason: unverified.message });
      return;
    }
    try {
      // Settles the outbox entries it was sent from (a redrive's, a copy's).
      await store.recordDeadLetter(record, { settles: redriveLineage(died) });
      if (unverified === undefined) {
        // A delegated task that died never earns its budget: give it back.
        // One that completed did (a redelivery dead-lettered after its commit).
        if (!(await store.isCompleted(record.id))) {
          const problem =
            escrow && envelope
              ? await budgets.settleEscrow(escrow, "fail", escrow.delegator, envelope)
              : undefined;
          if (problem !== undefined) {
            events.emit({ type: "error", error: `dead letter ${record.id}: ${problem}` });
          }
          await market.failed(envelope);
        }
      } else if (escrow) {
        events.emit({
          type: "error",
          error: `dead letter ${record.id} names escrow ${escrow.key} but cannot be verified (${unverified.message}); its escrow is left as it is (conclave ledger show lists escrow with no live task)`,
        });
      }
    } catch (error) {
      await delivery.nak({ delayMs: 1000, reason: toError(error).message });
      return;
    }
    await delivery.ack();
    this.#node.outcomes.decided(record.id);
    events.emit({
      type: "task.dead_lettered",
      id: record.id,
      subject: record.subject,
      reason: record.reason,
      deliveries: record.deliveries,
    });
  }
}

/**
 * Dead-letters `data` from this node rather than through a broker's
 * delivery (a task the bus refused for good, one a stopped agent won): to
 * `<swarm>.dlq.<source>`, with the headers and deduplication id a broker's
 * dead letter carries, so the dead-letter consumer records it like any other
 * and a repeat is stored once.
 */
export function sendDeadLetter(
  node: Pick<NodeContext, "transport" | "swarm">,
  source: string,
  data: Uint8Array,
  facts: DeadLetterFacts,
): Promise<unknown> {
  return node.transport.enqueue(subjects.deadLetter(node.swarm, source), data, {
    msgId: deadLetterMsgId(facts.msgId),
    headers: deadLetterHeaders(facts),
  });
}

/** Audit entry kind of a redrive. */
export const REDRIVEN_KIND = "dead-letter.redriven";

/** Meta key of the redrive attempt dead letter `id` is at (`DeadLetters.redrive` counts them). */
export const redriveKey = (id: string) => `redrive.${id}`;

export interface RedriveOptions {
  /** Who redrives it, for the audit log (an operator's name, `dashboard`). */
  readonly by: string;
  /** Run a task whose escrow was refunded when it died, without pay. */
  readonly unpaid?: boolean;
}

export interface Redriven {
  readonly id: string;
  readonly subject: string;
  /** 1 for the first redrive of this dead letter, then 2, … */
  readonly attempt: number;
  /**
   * Whether the bus took it. When not (its queue full, the broker
   * unreachable: reported as an event), it waits in the store's outbox and
   * the relay of any node sharing the store sends it.
   */
  readonly sent: boolean;
}
