import { ConclaveError, toError } from "../errors/index.js";
import {
  type Consumer,
  DeadLetterHeaders,
  type Delivery,
  type Message,
} from "../transport/port.js";
import { decodeEnvelope } from "../wire/codec.js";
import type { Envelope } from "../wire/envelope.js";
import { ulid } from "../wire/ulid.js";
import { escrowOf } from "./budget.js";
import type { BadInputPark, NodeContext } from "./node-context.js";
import { queueNames, subjects } from "./subjects.js";

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

  /** Core-bus input that fails to parse or verify: parked with the reason, never dropped. */
  park(message: Message, error: unknown): void {
    const { clock, transport, events, swarm } = this.#node;
    const e = toError(error);
    const code = e instanceof ConclaveError ? e.code : "E_INVALID_ENVELOPE";
    events.emit({ type: "message.rejected", subject: message.subject, code, reason: e.message });
    transport
      .enqueue(subjects.deadLetter(swarm, "input"), message.data, {
        msgId: `bad-${ulid(clock)}`,
        headers: {
          [DeadLetterHeaders.reason]: `${e.name}: ${e.message}`,
          [DeadLetterHeaders.subject]: message.subject,
          [DeadLetterHeaders.deliveries]: "1",
          [DeadLetterHeaders.at]: String(clock.now()),
        },
      })
      .catch((err: unknown) => events.emit({ type: "error", error: toError(err).message }));
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
    const record = {
      id: h[DeadLetterHeaders.msgId] || delivery.msgId || `anonymous-${ulid(clock)}`,
      subject: h[DeadLetterHeaders.subject] ?? delivery.subject,
      reason: h[DeadLetterHeaders.reason] ?? "unknown",
      deliveries: Number(h[DeadLetterHeaders.deliveries] ?? "0") || 0,
      at: Number(h[DeadLetterHeaders.at] ?? clock.now()) || clock.now(),
      data: Buffer.from(delivery.data).toString("base64"),
      ...(envelope ? { corr: envelope.corr ?? envelope.id, type: envelope.type } : {}),
    };
    try {
      await store.recordDeadLetter(record);
      // A delegated task that died never earns its budget: give it back.
      const escrow = escrowOf(envelope);
      if (escrow) await budgets.settle(escrow.key, escrow.amount, "fail", escrow.delegator);
      await market.failed(envelope);
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
