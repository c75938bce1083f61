import { toError } from "../errors/index.js";
import type { OutboxSent, SentOutboxEntry } from "../store/port.js";
import type { Transport } from "../transport/port.js";
import { redriveMsgId } from "../transport/settlement.js";
import type { NodeContext } from "./node-context.js";

/** When the watch looks at sent tasks, and how far it goes. */
export interface SentWatchSettings {
  /** A sent task is looked at once it has been unsettled this long (and again after as long). */
  readonly afterMs: number;
  /** A task the broker no longer holds is sent again once it has stayed missing this long. */
  readonly graceMs: number;
  /** Sends again at most this many times; then the task is reported and no longer watched. */
  readonly maxResends: number;
  /** Sent tasks looked at per pass, at most. */
  readonly perPass: number;
}

export const SENT_WATCH_DEFAULTS: SentWatchSettings = Object.freeze({
  afterMs: 10_000,
  graceMs: 10_000,
  maxResends: 5,
  perPass: 200,
});

/** Whether senders on `transport` watch what they send (its broker may lose what it acknowledged). */
export function watchesSent(transport: Transport): boolean {
  return transport.features.watchSent === true && transport.holds !== undefined;
}

/** Broker questions asked at once. */
const CONCURRENT_CHECKS = 50;

/**
 * The watch over sent tasks, for transports whose broker may lose a message
 * after acknowledging it (`Transport.holds`; NATS JetStream across a
 * partition, nats-io/nats-server#6236). A task the bus took stays in the
 * outbox, marked sent, until the completion or dead letter that settles it
 * deletes it. On each relay pass the watch looks at the tasks sent longest
 * ago: one the broker still holds is only waiting its turn (looked at again
 * later); one the broker no longer holds, with no dead letter of its queue
 * waiting to be recorded (else the broker cannot tell), and still unsettled
 * on a later pass at least a grace period on (not a completion that
 * committed while it was looked at), was lost: it is sent again under a new
 * message id (the receiver's completion marker still applies its effects
 * once), with a `task.resent` event. Several nodes sharing a store may watch the same
 * task; they send it again under the same id, which the bus deduplicates.
 */
export class SentWatch {
  readonly #node: NodeContext;
  readonly #settings: SentWatchSettings;
  /** Tasks found missing, with when they were first found so. */
  #missing = new Map<string, number>();
  /** Whether an inactive watch has forgotten what an earlier, watching run kept. */
  #forgotten = false;

  constructor(node: NodeContext, settings: SentWatchSettings = SENT_WATCH_DEFAULTS) {
    this.#node = node;
    this.#settings = settings;
  }

  /** Whether this node's transport can say what its broker holds (else tasks are not kept). */
  get active(): boolean {
    return watchesSent(this.#node.transport);
  }

  /**
   * Looks at the tasks sent longest ago; sends again those lost. Where this
   * node does not watch (`watchSent` turned off since an earlier run kept
   * tasks), its first pass forgets the tasks kept as sent: the bus took
   * each of them, and nothing would ever settle them here.
   */
  async pass(): Promise<void> {
    const { store, clock } = this.#node;
    if (!this.active) {
      if (!this.#forgotten) await this.#forgetKept();
      return;
    }
    const now = clock.now();
    const due = await store.sentOutbox({
      sentBefore: now - this.#settings.afterMs,
      limit: this.#settings.perPass,
    });
    const missing = new Map<string, number>();
    const stillHeld: OutboxSent[] = [];
    const lost: SentOutboxEntry[] = [];
    const unwatchable: string[] = [];
    for (let i = 0; i < due.length; i += CONCURRENT_CHECKS) {
      const batch = due.slice(i, i + CONCURRENT_CHECKS);
      const answers = await Promise.all(batch.map((entry) => this.#holds(entry)));
      batch.forEach((entry, j) => {
        const held = answers[j];
        const since = this.#missing.get(entry.id);
        if (entry.receipt === undefined) unwatchable.push(entry.id);
        else if (held === true) stillHeld.push({ id: entry.id, at: now, receipt: entry.receipt });
        else if (held === false && since !== undefined && now - since >= this.#settings.graceMs) {
          lost.push(entry);
        } else if (held === false || since !== undefined) {
          // Cannot tell (undefined) keeps what an earlier pass found.
          missing.set(entry.id, since ?? now);
        }
      });
    }
    this.#missing = missing;
    // Looked at again after another `afterMs`, behind the others.
    await store.markOutboxSent(stillHeld);
    if (unwatchable.length > 0) await store.deleteOutbox(unwatchable);
    for (const entry of lost) await this.#sendAgain(entry, missing);
  }

  /** Deletes every entry marked sent, a page at a time. */
  async #forgetKept(): Promise<void> {
    const { store } = this.#node;
    for (;;) {
      const kept = await store.sentOutbox({
        sentBefore: Number.MAX_SAFE_INTEGER,
        limit: this.#settings.perPass,
      });
      if (kept.length > 0) await store.deleteOutbox(kept.map((e) => e.id));
      if (kept.length < this.#settings.perPass) break;
    }
    this.#forgotten = true;
  }

  #holds(entry: SentOutboxEntry): Promise<boolean | undefined> {
    const { transport } = this.#node;
    if (entry.receipt === undefined || transport.holds === undefined) {
      return Promise.resolve(undefined);
    }
    const msgId = entry.resends === 0 ? entry.id : redriveMsgId(entry.id, entry.resends);
    return transport.holds(entry.receipt, msgId).catch(() => undefined);
  }

  async #sendAgain(entry: SentOutboxEntry, missing: Map<string, number>): Promise<void> {
    const { store, transport, clock, events } = this.#node;
    if (entry.resends >= this.#settings.maxResends) {
      events.emit({
        type: "error",
        error: `task ${entry.id} to "${entry.subject}": the bus took it ${entry.resends + 1} times and no longer holds it, and no completion or dead letter settled it; it is no longer sent again (its receiver does not record settlements in this store, or the bus keeps losing it)`,
      });
      await store.deleteOutbox([entry.id]);
      return;
    }
    const resends = entry.resends + 1;
    try {
      const { receipt } = await transport.enqueue(entry.subject, entry.data, {
        msgId: redriveMsgId(entry.id, resends),
      });
      await store.markOutboxSent([
        {
          id: entry.id,
          at: clock.now(),
          ...(receipt === undefined ? {} : { receipt }),
          resent: true,
        },
      ]);
      events.emit({ type: "task.resent", id: entry.id, subject: entry.subject, resends });
    } catch (error) {
      // Still missing: sent again on a later pass.
      missing.set(entry.id, clock.now() - this.#settings.graceMs);
      events.emit({
        type: "error",
        error: `sending lost task ${entry.id} again: ${toError(error).message}`,
      });
    }
  }
}
