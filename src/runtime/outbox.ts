import { backoffDelay } from "../delivery/backoff.js";
import { QueueFullError, ReplicationPendingError, toError } from "../errors/index.js";
import { accountAgent, type LedgerOperation } from "../ledger/index.js";
import type { OutboxEntry, OutboxSent } from "../store/port.js";
import { refusedForGood } from "../transport/failures.js";
import type { Transport } from "../transport/port.js";
import { redriveLineage, redriveMsgId } from "../transport/settlement.js";
import { sendDeadLetter } from "./dead-letters.js";
import type { NodeContext, Outbox, StagedWrites } from "./node-context.js";
import { SentWatch, type SentWatchSettings } from "./outbox-watch.js";

/** The relay's spacing between recovery passes (and after a failed send). */
const RELAY_BACKOFF = { baseMs: 1000, maxMs: 30_000, factor: 2, jitter: "equal" } as const;
/** A submit's spacing between sends while its queue is full (`deliver`). */
const FULL_BACKOFF = { baseMs: 50, maxMs: 2_000, factor: 2, jitter: "full" } as const;
/** Sent entries forgotten in one store write, at most. */
const DELETE_BATCH = 1000;
/** How long a task may be refused as "still replicating" before it goes under a new message id. */
const RENAME_AFTER_MS = 10_000;
/** Where tasks the bus refuses for good go: `<swarm>.dlq.outbox`, recorded as any dead letter. */
const REFUSED_DEAD_LETTER = "outbox";

type Unsent = Omit<OutboxEntry, "taskId">;

/**
 * The outbox entries the completion of a delivery settles
 * (`TaskCompletion.settles`): its message id and the ids it was made from,
 * where senders may keep what they send (the transport can say what its
 * broker holds, see {@link SentWatch}); elsewhere the entries are gone once
 * sent.
 */
export function settledBy(transport: Transport, msgId: string): string[] {
  // Whether or not this node watches: another node's sender may (its own settings).
  return transport.holds === undefined ? [] : redriveLineage(msgId);
}

/**
 * The transactional outbox. A handler's effects and messages are committed
 * with its task's completion marker in one store transaction; the messages
 * are then sent from memory (the normal path never reads back what it just
 * wrote), and the entries the bus accepted are forgotten in batches, one
 * store write per turn of the event loop.
 *
 * The relay is the recovery path: about once a second it reads what is
 * pending in the store (a crash between commit and send, here or on another
 * node sharing the store, or a send the bus refused) and sends the entries
 * it already saw pending on its previous pass: an entry is relayed only
 * once it has stayed unsent for a whole pass, so the relay does not race a
 * live node that is sending it right now. A repeat of a message already
 * sent is dropped by the bus's deduplication on the envelope id anyway.
 *
 * Where the broker may lose a message it acknowledged (the transport
 * implements `holds`), a sent task is not forgotten but marked sent with the
 * broker's receipt, until the completion or dead letter that settles it
 * deletes it; the relay's passes then also run the {@link SentWatch}, which
 * sends again what the broker lost.
 */
export class NodeOutbox implements Outbox {
  readonly #node: NodeContext;
  /** Entries being sent or sent and not yet forgotten: the relay leaves them alone. */
  readonly #inFlight = new Set<string>();
  /** Sent entries to forget (events, and tasks where nothing watches them). */
  #sent: string[] = [];
  /** Sent tasks to mark sent, with their receipts, for the watch. */
  #marks: OutboxSent[] = [];
  readonly #watch: SentWatch;
  /**
   * Tasks the broker keeps refusing as still replicating an earlier publish
   * of their id (`ReplicationPendingError`): since when, and whether they are
   * now sent under a new id. A publish proposed by a stream leader that then
   * lost its place leaves its id refused so until the stream's duplicate
   * window passes (2 minutes; chaos nats-r3-partition seed 701); the new id
   * is stored at once, and a copy stored twice runs its effects once.
   */
  readonly #replicating = new Map<string, { since: number; renamed: boolean }>();
  /** Entries pending (and not ours in flight) at the relay's previous pass. */
  #seenPending = new Set<string>();
  #flushing: Promise<void> | undefined;
  #cancelRelay: (() => void) | undefined;
  #running = false;

  constructor(node: NodeContext, watch?: SentWatchSettings) {
    this.#node = node;
    this.#watch = new SentWatch(node, watch);
  }

  async commit(
    taskId: string,
    agent: string,
    staged: StagedWrites,
  ): Promise<{ duplicate: boolean; full?: true }> {
    const { store, clock } = this.#node;
    const { duplicate } = await store.completeTask({ taskId, agent, at: clock.now(), ...staged });
    // Holds committed with the task: each payer (the agent, or an auction's
    // other payer) may now be below its minimum.
    if (!duplicate && staged.ledger !== undefined) {
      for (const payer of payersOf(staged.ledger, agent)) await this.#node.budgets.held(payer);
    }
    if (duplicate) {
      await this.resend(taskId);
    } else if (staged.outbox.length > 0) {
      const sent = await this.#send(taskId, staged.outbox);
      if (sent instanceof QueueFullError) return { duplicate, full: true };
    }
    return { duplicate };
  }

  async resend(taskId: string): Promise<boolean> {
    for (;;) {
      const pending = await this.#node.store.pendingOutbox({ taskId, limit: DELETE_BATCH });
      const fresh = pending.filter((e) => !this.#inFlight.has(e.id));
      if (fresh.length === 0) return true;
      if ((await this.#send(taskId, fresh)) !== true) return false;
      if (pending.length < DELETE_BATCH) return true;
      // More than a page: forget this one before reading the next.
      await this.#flush();
    }
  }

  /** Starts relaying: what a crash left unsent goes out from the second pass on. */
  async start(): Promise<void> {
    this.#running = true;
    await this.#relay();
    this.#schedule(1);
  }

  /** Stops relaying and forgets what was sent (call before the store closes). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#cancelRelay?.();
    this.#cancelRelay = undefined;
    await this.#flush();
  }

  /**
   * Sends entries concurrently (a plan of thousands of tasks shares journal
   * commits). What fails stays in the store for the relay, but for what the
   * bus refuses for good, which is given up (`#giveUp`). Returns true when
   * every one was taken or given up, else the first failure (reported as an
   * event unless `report` is false).
   */
  async #send(taskId: string, entries: readonly Unsent[], report = true): Promise<true | unknown> {
    const { transport, clock } = this.#node;
    const mine = entries.filter((e) => !this.#inFlight.has(e.id));
    for (const e of mine) this.#inFlight.add(e.id);
    const results = await Promise.allSettled(
      // Async, so that a publish that throws at once (a closed connection)
      // fails its own entry only: the others are still sent, and none is
      // left marked in flight, which would hide it from the relay.
      mine.map(async (entry) => {
        if (entry.mode === "enqueue") {
          const renamed = this.#replicating.get(entry.id)?.renamed === true;
          const msgId = renamed ? redriveMsgId(entry.id, 1) : entry.id;
          return transport.enqueue(entry.subject, entry.data, { msgId });
        }
        transport.publish(entry.subject, entry.data);
        return undefined;
      }),
    );
    let failure: unknown;
    const at = clock.now();
    const watched = this.#watch.active;
    const refused: { entry: Unsent; reason: unknown }[] = [];
    results.forEach((result, i) => {
      const entry = mine[i] as Unsent;
      const id = entry.id;
      if (result.status === "fulfilled") {
        const renamed = this.#replicating.get(id)?.renamed === true;
        this.#replicating.delete(id);
        const receipt = watched ? result.value?.receipt : undefined;
        if (receipt === undefined) this.#sent.push(id);
        else this.#marks.push({ id, at, receipt, ...(renamed ? { resent: true as const } : {}) });
      } else if (refusedForGood(result.reason)) {
        // Stays in flight (hidden from the relay) while it is given up.
        refused.push({ entry, reason: result.reason });
      } else {
        this.#inFlight.delete(id);
        if (result.reason instanceof ReplicationPendingError) this.#stillReplicating(id, at);
        failure ??= result.reason;
      }
    });
    for (const { entry, reason } of refused) {
      const notTaken = await this.#giveUp(taskId, entry, reason);
      if (notTaken !== undefined) failure ??= notTaken;
    }
    this.#scheduleFlush();
    if (failure === undefined) return true;
    if (report) this.#report(taskId, failure);
    return failure;
  }

  /**
   * Gives up an entry the bus refused for good: a task is sent to the
   * swarm's dead-letter queue with the refusal as its reason, an event is
   * forgotten; reported once, and the entry forgotten. Returns the error
   * when the dead letter could not be sent (the entry stays for the relay).
   */
  async #giveUp(taskId: string, entry: Unsent, refusal: unknown): Promise<unknown> {
    const { clock, events } = this.#node;
    const why = toError(refusal);
    const reason = `the bus refused it for good when the outbox sent it (${why.name}: ${why.message})`;
    if (entry.mode === "enqueue") {
      try {
        // It never reached a queue: no queue named.
        await sendDeadLetter(this.#node, REFUSED_DEAD_LETTER, entry.data, {
          headers: {},
          reason,
          subject: entry.subject,
          deliveries: 0,
          at: clock.now(),
          msgId: entry.id,
        });
      } catch (error) {
        this.#inFlight.delete(entry.id);
        return error;
      }
    }
    this.#sent.push(entry.id);
    events.emit({
      type: "error",
      error:
        entry.mode === "enqueue"
          ? `task ${entry.id} to "${entry.subject}" (from ${taskId}) was dead-lettered: ${reason}; fix the cause, then redrive it`
          : `event ${entry.id} to "${entry.subject}" (from ${taskId}) was dropped: ${reason}`,
    });
    return undefined;
  }

  /** Counts a refusal as still replicating; past `RENAME_AFTER_MS` of them, a new id. */
  #stillReplicating(id: string, now: number): void {
    const known = this.#replicating.get(id);
    if (known === undefined) this.#replicating.set(id, { since: now, renamed: false });
    else if (now - known.since >= RENAME_AFTER_MS) known.renamed = true;
  }

  /** A full queue as `queue.full` (expected under load), anything else as an error. */
  #report(taskId: string, failure: unknown): void {
    this.#node.events.emit(
      failure instanceof QueueFullError
        ? { type: "queue.full", task: taskId, queue: failure.queue, limit: failure.limit }
        : { type: "error", error: `sending outbox of ${taskId}: ${toError(failure).message}` },
    );
  }

  async deliver(taskId: string): Promise<number> {
    const { clock, random, store } = this.#node;
    const began = clock.now();
    for (let attempt = 1; this.#running; attempt++) {
      const pending = await store.pendingOutbox({ taskId, limit: DELETE_BATCH });
      const fresh = pending.filter((e) => !this.#inFlight.has(e.id));
      if (fresh.length === 0) break;
      const sent = await this.#send(taskId, fresh, false);
      if (sent === true) {
        if (pending.length < DELETE_BATCH) break;
        await this.#flush();
        continue;
      }
      if (!(sent instanceof QueueFullError)) {
        this.#report(taskId, sent);
        break;
      }
      // The refused ones (those taken stay in flight until forgotten) are
      // held back from the relay while we wait, so only this loop sends them.
      const refused = fresh.filter((e) => !this.#inFlight.has(e.id));
      for (const e of refused) this.#inFlight.add(e.id);
      try {
        await new Promise<void>((resolve) =>
          clock.setTimer(resolve, backoffDelay(attempt, FULL_BACKOFF, random)),
        );
      } finally {
        for (const e of refused) this.#inFlight.delete(e.id);
      }
    }
    return clock.now() - began;
  }

  /** Forgets sent entries in one write at the end of this turn (or at once, for a big batch). */
  #scheduleFlush(): void {
    if (this.#flushing !== undefined) return;
    if (this.#sent.length + this.#marks.length >= DELETE_BATCH) {
      void this.#flush();
      return;
    }
    this.#flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.#drainSent(),
    );
  }

  async #flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    if (this.#sent.length > 0 || this.#marks.length > 0) {
      this.#flushing = this.#drainSent();
      await this.#flushing;
    }
  }

  async #drainSent(): Promise<void> {
    try {
      while (this.#sent.length > 0 || this.#marks.length > 0) {
        const ids = this.#sent.splice(0, DELETE_BATCH);
        const marks = this.#marks.splice(0, DELETE_BATCH);
        try {
          await this.#node.store.deleteOutbox(ids);
          await this.#node.store.markOutboxSent(marks);
        } catch (error) {
          // Sent but not recorded so: the relay sends them again, and the
          // bus drops the repeats.
          this.#node.events.emit({
            type: "error",
            error: `recording sent outbox entries: ${toError(error).message}`,
          });
        }
        for (const id of ids) this.#inFlight.delete(id);
        for (const m of marks) this.#inFlight.delete(m.id);
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #relay(): Promise<void> {
    const pending = await this.#node.store.pendingOutbox({ limit: 10_000 });
    const seen = new Set<string>();
    const byTask = new Map<string, OutboxEntry[]>();
    for (const entry of pending) {
      if (this.#inFlight.has(entry.id)) continue;
      seen.add(entry.id);
      if (!this.#seenPending.has(entry.id)) continue;
      const list = byTask.get(entry.taskId);
      if (list) list.push(entry);
      else byTask.set(entry.taskId, [entry]);
    }
    this.#seenPending = seen;
    for (const [taskId, entries] of byTask) await this.#send(taskId, entries);
    await this.#watch.pass();
  }

  #schedule(retry: number): void {
    const delay = backoffDelay(retry, RELAY_BACKOFF, this.#node.random);
    this.#cancelRelay = this.#node.clock.setTimer(() => {
      if (!this.#running) return;
      this.#relay().then(
        () => this.#running && this.#schedule(1),
        (error: unknown) => {
          this.#node.events.emit({
            type: "error",
            error: `outbox relay: ${toError(error).message}`,
          });
          if (this.#running) this.#schedule(retry + 1);
        },
      );
    }, delay);
  }
}

/** The agents whose accounts `ledger` debits, `agent` first. */
function payersOf(ledger: readonly LedgerOperation[], agent: string): Set<string> {
  const payers = new Set([agent]);
  for (const op of ledger) {
    for (const e of op.entries) {
      const payer = e.delta < 0 ? accountAgent(e.account) : undefined;
      if (payer !== undefined) payers.add(payer);
    }
  }
  return payers;
}
