import { randomBytes } from "node:crypto";
import { type Clock, systemClock } from "../../core/clock.js";
import { NoRespondersError, QueueFullError, toError, UnroutableError } from "../../errors/index.js";
import { createErrorReporter, requestTimeoutError } from "../failures.js";
import type { EnqueueResult, Headers, Message, MessageHandler, QueueConfig } from "../port.js";
import { unroutableDeadLetterError, validateQueueConfig } from "../queue-config.js";
import { deadLetterHeaders, deadLetterMsgId } from "../settlement.js";
import { assertPattern, assertSubject, SubjectIndex, subjectMatches } from "../subject.js";
import { DurableQueue, type StoredMessage } from "./durable-queue.js";
import { Journal, type JournalOptions } from "./journal.js";

const EMPTY_HEADERS: Headers = Object.freeze({});

/** How an in-process broker keeps its durable queues. */
export interface MemoryBrokerConfig {
  /**
   * SQLite file that journals durable queues. Omit (or `":memory:"`) for a
   * broker whose queues vanish with the process.
   */
  readonly journalPath?: string;
  readonly journal?: JournalOptions;
  /** How long an enqueued message id is remembered for deduplication. Default 2 minutes. */
  readonly dedupWindowMs?: number;
  readonly clock?: Clock;
  /** Called with failures nobody awaits (a journal write behind a lease, a throwing handler). */
  readonly onError?: (error: Error) => void;
}

/** A core subscription as the broker holds it. */
export interface BrokerSubscription {
  readonly pattern: string;
  readonly queue: string | undefined;
  readonly handler: MessageHandler;
  active: boolean;
}

/**
 * The in-process message broker behind `createMemoryTransport`. Several
 * transports (one per node in tests) may share one broker. Core messages are
 * delivered on a microtask, never on the publisher's stack.
 */
export class MemoryBroker {
  readonly clock: Clock;
  readonly journal: Journal | undefined;
  readonly #subs = new SubjectIndex<BrokerSubscription>();
  readonly #queues = new Map<string, DurableQueue>();
  readonly #queueIndex = new SubjectIndex<DurableQueue>();
  readonly #dedup: Map<string, number>;
  readonly #dedupWindowMs: number;
  /**
   * Enqueues whose journal commit is under way, by msgId: a repeat of one
   * waits for its outcome rather than report a duplicate of a message the
   * journal may yet refuse.
   */
  readonly #writing = new Map<string, Promise<void>>();
  readonly #groupCursor = new Map<string, number>();
  /** Reports a failure nobody awaits (`onError`, else a process warning). */
  readonly report: (error: Error) => void;
  #outboxSubs: BrokerSubscription[] = [];
  #outboxMsgs: Message[] = [];
  #flushScheduled = false;
  #closed = false;

  constructor(config: MemoryBrokerConfig = {}) {
    this.clock = config.clock ?? systemClock;
    this.#dedupWindowMs = config.dedupWindowMs ?? 120_000;
    this.report = createErrorReporter(config.onError, "memory broker");
    const path = config.journalPath;
    this.journal = path && path !== ":memory:" ? new Journal(path, config.journal) : undefined;
    try {
      this.#dedup = this.journal?.loadDedup(this.clock.now()) ?? new Map();
      if (this.journal) this.#restore(this.journal);
    } catch (error) {
      // Else the journal stays open and locked, and no broker of this process opens it again.
      this.journal?.close();
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ---- core messaging -------------------------------------------------------

  subscribe(pattern: string, handler: MessageHandler, queue?: string): BrokerSubscription {
    assertPattern(pattern);
    const sub: BrokerSubscription = { pattern, queue, handler, active: true };
    this.#subs.add(pattern, sub);
    return sub;
  }

  unsubscribe(sub: BrokerSubscription): void {
    if (!sub.active) return;
    sub.active = false;
    this.#subs.remove(sub.pattern, sub);
  }

  /** Number of subscriptions that would receive a message on `subject`. */
  interest(subject: string): number {
    return this.#subs.match(subject).length;
  }

  publish(subject: string, data: Uint8Array, headers?: Headers, reply?: string): void {
    assertSubject(subject);
    const matches = this.#subs.match(subject);
    if (matches.length === 0) return;
    const message: Message =
      reply === undefined
        ? { subject, data, headers: headers ?? EMPTY_HEADERS }
        : { subject, data, headers: headers ?? EMPTY_HEADERS, reply };
    let groups: Map<string, BrokerSubscription[]> | undefined;
    for (const sub of matches) {
      if (sub.queue === undefined) {
        this.#outboxSubs.push(sub);
        this.#outboxMsgs.push(message);
      } else {
        groups ??= new Map();
        const key = `${sub.pattern}\u0000${sub.queue}`;
        const members = groups.get(key);
        if (members) members.push(sub);
        else groups.set(key, [sub]);
      }
    }
    if (groups) {
      for (const [key, members] of groups) {
        const cursor = this.#groupCursor.get(key) ?? 0;
        this.#groupCursor.set(key, cursor + 1);
        this.#outboxSubs.push(members[cursor % members.length] as BrokerSubscription);
        this.#outboxMsgs.push(message);
      }
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const subs = this.#outboxSubs;
    const msgs = this.#outboxMsgs;
    this.#outboxSubs = [];
    this.#outboxMsgs = [];
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i] as BrokerSubscription;
      if (!sub.active) continue;
      try {
        const result = sub.handler(msgs[i] as Message);
        if (result && typeof result.then === "function") {
          result.then(undefined, (e: unknown) => this.report(toError(e)));
        }
      } catch (e) {
        this.report(toError(e));
      }
    }
  };

  /**
   * Sends a request and waits for the first reply. `onAbort`, when given,
   * receives a function that fails the request at once with an error (its
   * transport closing) and frees its timer and inbox.
   */
  request(
    subject: string,
    data: Uint8Array,
    timeoutMs: number,
    headers?: Headers,
    onAbort?: (abort: (error: Error) => void) => void,
  ): Promise<Message> {
    assertSubject(subject);
    if (this.interest(subject) === 0) return Promise.reject(new NoRespondersError(subject));
    const inbox = `_INBOX.${randomBytes(12).toString("hex")}`;
    return new Promise<Message>((resolve, reject) => {
      const sub = this.subscribe(inbox, (reply) => {
        cancel();
        this.unsubscribe(sub);
        resolve(reply);
      });
      const cancel = this.clock.setTimer(() => {
        this.unsubscribe(sub);
        reject(requestTimeoutError(subject, timeoutMs));
      }, timeoutMs);
      onAbort?.((error) => {
        cancel();
        this.unsubscribe(sub);
        reject(error);
      });
      this.publish(subject, data, headers, inbox);
    });
  }

  // ---- durable queues -------------------------------------------------------

  ensureQueue(config: QueueConfig): void {
    validateQueueConfig(config);
    // Checked and journaled before anything changes: a refused declaration
    // used to leave its queue taking enqueues in memory, never journaled, so
    // a restart dropped every message acknowledged into it.
    const routable =
      subjectMatches(config.subjects, config.deadLetterSubject) ||
      this.#queueIndex.match(config.deadLetterSubject).some((q) => q.name !== config.name);
    if (!routable) throw unroutableDeadLetterError(config);
    this.journal?.saveQueue(config.name, config);
    const existing = this.#queues.get(config.name);
    if (existing) {
      if (existing.config.subjects !== config.subjects) {
        this.#queueIndex.remove(existing.config.subjects, existing);
        this.#queueIndex.add(config.subjects, existing);
      }
      existing.config = config;
    } else {
      const queue = this.#newQueue(config);
      this.#queues.set(config.name, queue);
      this.#queueIndex.add(config.subjects, queue);
    }
  }

  queue(name: string): DurableQueue | undefined {
    return this.#queues.get(name);
  }

  async enqueue(
    subject: string,
    data: Uint8Array,
    msgId: string,
    headers?: Headers,
  ): Promise<EnqueueResult> {
    assertSubject(subject);
    const now = this.clock.now();
    const seen = this.#dedup.get(msgId);
    if (seen !== undefined && seen >= now) {
      const writing = this.#writing.get(msgId);
      if (writing === undefined) return { duplicate: true };
      // The first enqueue of this id is not durable yet: a duplicate only if it becomes so.
      const stored = await writing.then(
        () => true,
        () => false,
      );
      return stored ? { duplicate: true } : this.enqueue(subject, data, msgId, headers);
    }
    const targets = this.#queueIndex.match(subject);
    if (targets.length === 0) throw new UnroutableError(subject);
    for (const queue of targets) {
      const limit = queue.config.maxPending;
      if (limit !== undefined && queue.messages.size >= limit) {
        throw new QueueFullError(queue.name, limit);
      }
    }
    const expiresAt = now + this.#dedupWindowMs;
    this.#dedup.delete(msgId);
    this.#dedup.set(msgId, expiresAt);
    this.journal?.dedup(msgId, expiresAt);
    this.#pruneDedup(now);
    const writes = targets.map((queue) =>
      queue.add(subject, msgId, headers ?? EMPTY_HEADERS, data, this.journal !== undefined),
    );
    const written = writes.length === 1 ? (writes[0] as Promise<void>) : Promise.all(writes);
    if (!this.journal) {
      await written;
      return { duplicate: false };
    }
    const done = written.then(() => undefined);
    this.#writing.set(msgId, done);
    try {
      await done;
    } catch (error) {
      // Nothing is durable (the queues dropped their copies): the producer's
      // retry of this id must be stored, not reported as a duplicate.
      if (this.#dedup.get(msgId) === expiresAt) this.#dedup.delete(msgId);
      throw error;
    } finally {
      if (this.#writing.get(msgId) === done) this.#writing.delete(msgId);
    }
    return { duplicate: false };
  }

  /** Moves `message` out of `from` into the queue of its dead-letter subject. */
  deadLetter(from: DurableQueue, message: StoredMessage, reason: string, deliveries: number): void {
    const subject = from.config.deadLetterSubject;
    const targets = this.#queueIndex.match(subject);
    if (targets.length === 0) {
      // Its dead-letter queue was re-declared on other subjects: removed, the
      // message would be lost. Kept (and dead-lettered again after a restart).
      this.report(unroutableDeadLetterError(from.config));
      return;
    }
    from.remove(message).catch((e: unknown) => this.report(toError(e)));
    const headers = deadLetterHeaders({
      headers: message.headers,
      reason,
      queue: from.name,
      subject: message.subject,
      deliveries,
      at: this.clock.now(),
      msgId: message.msgId,
    });
    const msgId = deadLetterMsgId(message.msgId);
    for (const queue of targets) {
      queue
        .add(subject, msgId, headers, message.data)
        .catch((e: unknown) => this.report(toError(e)));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const queue of this.#queues.values()) queue.close();
    this.journal?.close();
  }

  #newQueue(config: QueueConfig): DurableQueue {
    return new DurableQueue(config, {
      clock: this.clock,
      journal: this.journal,
      deadLetter: (from, message, reason, deliveries) =>
        this.deadLetter(from, message, reason, deliveries),
      report: (error) => this.report(error),
    });
  }

  #restore(journal: Journal): void {
    for (const [name, raw] of journal.loadQueues()) {
      const config = raw as QueueConfig;
      const queue = this.#newQueue(config);
      this.#queues.set(name, queue);
      this.#queueIndex.add(config.subjects, queue);
    }
    for (const row of journal.loadMessages()) {
      const queue = this.#queues.get(row.queue);
      if (!queue) continue;
      queue.restore({
        seq: row.seq,
        subject: row.subject,
        msgId: row.msgId,
        headers: row.headers,
        data: row.data,
        deliveries: row.deliveries,
        visibleAt: row.visibleAt,
        lease: undefined,
      });
    }
  }

  #pruneCounter = 0;
  #journalPrunedAt = Number.NEGATIVE_INFINITY;
  #pruneDedup(now: number): void {
    if (++this.#pruneCounter < 1024) return;
    this.#pruneCounter = 0;
    // Insertion order is expiry order while the window is constant.
    for (const [id, expiresAt] of this.#dedup) {
      if (expiresAt >= now) break;
      this.#dedup.delete(id);
    }
    // The journal's prune reads its whole dedup table (window × rate rows):
    // run every 1,024 enqueues, it took most of the CPU of a long busy run.
    // A quarter window apart, it costs a fraction of a microsecond per enqueue.
    if (now - this.#journalPrunedAt < this.#dedupWindowMs / 4) return;
    this.#journalPrunedAt = now;
    try {
      this.journal?.prune(now);
    } catch (error) {
      // Housekeeping, run inside an enqueue that already recorded its id as
      // seen: thrown, it failed that enqueue and its retry was taken for a
      // duplicate (the message lost). The next prune deletes what this one left.
      this.report(toError(error));
    }
  }
}
