import { ConfigError, OrderingError } from "../errors/index.js";
import { DeadlineQueue } from "./deadline-queue.js";

/**
 * Strict per-conversation ordering: a reorder buffer that hands each
 * conversation's messages on in `seq` order, exactly once, waiting a bounded
 * time for a missing one.
 *
 * A pure state machine (no timers, no clock, no IO): time is passed in, and
 * the runtime that owns it calls {@link ConversationOrderer.tick} at
 * {@link ConversationOrderer.nextDeadline}. Identical inputs give identical
 * outputs, so runs replay in the simulator.
 *
 * Policies, in one place:
 * - **Start.** A conversation expects `seq` 0 first (`firstSeq: 0`, the
 *   default), or whatever `seq` it is first seen with (`firstSeq:
 *   "first-seen"`, for joining a stream midway; an earlier `seq` that arrives
 *   after that first one is then a `regression`).
 * - **No conversation.** An item without `conv` is delivered at once, in push
 *   order: ordering is opt-in per message, and holding back unordered traffic
 *   would only add latency.
 * - **Gap timeout.** A missing `seq` is waited for until `gapTimeoutMs` after
 *   the oldest message held behind it arrived; then it is given up on
 *   (`gap-skipped`) and what was held is delivered. So no message sits in the
 *   buffer longer than `gapTimeoutMs`, provided `tick` is called on time.
 *   Only `tick` gives up on gaps: a `push` never does, so a missing message
 *   that arrives late but before the next `tick` is still delivered in place.
 * - **Overflow.** When a conversation would hold more than
 *   `maxBufferedPerConversation` messages, it gives up on its first gap at
 *   once (`overflow` for the message that did not fit, then `gap-skipped`)
 *   and delivers what became contiguous. Memory stays bounded and no message
 *   is dropped; the alternative, refusing new messages, would stall the
 *   conversation behind a message that may never come.
 * - **Late and repeated messages.** A `seq` that was already delivered, or is
 *   already buffered, is a `duplicate` (normal under at-least-once delivery).
 *   A `seq` below the next expected one that was never delivered (its gap was
 *   given up on, or it precedes a `"first-seen"` start) is a `regression`: it
 *   is not delivered, because order would break; the runtime should park it in
 *   the DLQ. Both reports are only ever about the item just pushed.
 * - **Eviction.** At most `maxConversations` conversations are tracked.
 *   Opening one more forgets the least recently pushed conversation that has
 *   nothing buffered, or, if every one is waiting, the least recently pushed
 *   one after flushing its buffer in order (`gap-skipped` with reason
 *   `evicted`). An `evicted` report says so. A late message of an evicted
 *   conversation opens it afresh: with `firstSeq: 0` it waits for seqs from 0
 *   up to the gap timeout, then is delivered after a `gap-skipped`; with
 *   `"first-seen"` it is delivered at once. A repeat of a message delivered
 *   before the eviction is therefore delivered again; dedup on envelope `id`
 *   (which the delivery layer does anyway) is what catches it. Size
 *   `maxConversations` above the number of conversations live within one
 *   redelivery window.
 * - **Time** never runs backwards here: a `now` earlier than one already seen
 *   is taken as the latest seen.
 *
 * Costs: `push` and `tick` are O(log c) per message plus O(b) per gap given
 * up on, where c is the number of waiting conversations and b the buffer size.
 *
 * @example
 * ```ts
 * const orderer = createConversationOrderer<string>({
 *   gapTimeoutMs: 5_000,
 *   maxBufferedPerConversation: 1_000,
 * });
 * orderer.push({ conv: "c1", seq: 1, value: "world" }, 0); // deliver: []
 * orderer.push({ conv: "c1", seq: 0, value: "hello" }, 10); // deliver: ["hello", "world"]
 * orderer.push({ conv: "c1", seq: 3, value: "late" }, 20); // waits for seq 2
 * orderer.nextDeadline(); // 5_020
 * orderer.tick(5_020); // deliver: ["late"], reports: [{ kind: "gap-skipped", from: 2, to: 2, ... }]
 * ```
 */
export function createConversationOrderer<T>(
  config: ConversationOrdererConfig,
): ConversationOrderer<T> {
  return new ConversationOrdererImpl<T>(config);
}

/** Construction-time settings of {@link createConversationOrderer}. */
export interface ConversationOrdererConfig {
  /**
   * How long, in milliseconds, a message may wait for the seqs before it.
   * `0` gives up on any gap at the next `tick`; `Infinity` only on overflow.
   */
  readonly gapTimeoutMs: number;
  /** Most messages held back in one conversation; `0` never waits for a gap. */
  readonly maxBufferedPerConversation: number;
  /** Most conversations tracked at once, least recently used evicted first. Default 10 000. */
  readonly maxConversations?: number;
  /** The first `seq` of a conversation: `0` (default) or the first one seen. */
  readonly firstSeq?: 0 | "first-seen";
}

/**
 * What is pushed. `value` is what gets delivered, typically the envelope
 * itself. Without `conv` the item is not ordered and `seq` is ignored.
 */
export interface ConversationItem<T> {
  readonly conv?: string | undefined;
  /** Position in the conversation: a non-negative integer, one per message. */
  readonly seq?: number | undefined;
  readonly value: T;
}

/** The result of one `push` or `tick`: values to hand on, in order, and what happened. */
export interface OrderOutput<T> {
  /** Ready values; those of one conversation are in increasing `seq` order. */
  readonly deliver: T[];
  readonly reports: OrderReport[];
}

/** Why a gap was given up on. */
export type GapSkipReason = "timeout" | "overflow" | "evicted";

/**
 * Something the runtime should count, log or act on. `from`/`to` ranges are
 * inclusive.
 */
export type OrderReport =
  /** This `seq` was delivered or is buffered already; the item was not delivered again. */
  | { readonly kind: "duplicate"; readonly conv: string; readonly seq: number }
  /** This `seq` is below `expected` and was never delivered; it was not delivered now. */
  | {
      readonly kind: "regression";
      readonly conv: string;
      readonly seq: number;
      readonly expected: number;
    }
  /** Seqs `from`..`to` were given up on; later messages were delivered past them. */
  | {
      readonly kind: "gap-skipped";
      readonly conv: string;
      readonly from: number;
      readonly to: number;
      readonly reason: GapSkipReason;
    }
  /** The buffer was full when this `seq` arrived; a `gap-skipped` follows. */
  | { readonly kind: "overflow"; readonly conv: string; readonly seq: number }
  /** The conversation was forgotten to bound memory; `next` is what it expected. */
  | {
      readonly kind: "evicted";
      readonly conv: string;
      readonly next: number;
      readonly flushed: number;
    };

/** Counters since creation, and current sizes. */
export interface ConversationOrderStats {
  /** Conversations tracked now. */
  readonly conversations: number;
  /** Conversations with messages buffered now. */
  readonly waitingConversations: number;
  /** Messages buffered now, over all conversations. */
  readonly buffered: number;
  /** Ordered messages delivered (items without `conv` not included). */
  readonly delivered: number;
  /** Items without `conv`, delivered at once. */
  readonly passedThrough: number;
  readonly duplicates: number;
  readonly regressions: number;
  /** Gaps given up on, and the seqs in them. */
  readonly gapsSkipped: number;
  readonly seqsSkipped: number;
  readonly overflows: number;
  readonly evictions: number;
}

/** A per-conversation reorder buffer. See {@link createConversationOrderer}. */
export interface ConversationOrderer<T> {
  /**
   * Takes one message received at `now` (ms) and returns what became
   * deliverable. Throws `OrderingError`, leaving the state untouched, when
   * `seq` is not a non-negative integer or `now` is not finite.
   */
  push(item: ConversationItem<T>, now: number): OrderOutput<T>;
  /** Gives up on every gap whose timeout has passed at `now` and returns what that released. */
  tick(now: number): OrderOutput<T>;
  /** When `tick` next has work to do, or `undefined` if nothing waits on time. */
  nextDeadline(): number | undefined;
  stats(): ConversationOrderStats;
}

const defaultMaxConversations = 10_000;

/**
 * Telling a `duplicate` from a `regression` needs to remember which seqs were
 * given up on. Gaps are rare, so a short memory per conversation suffices;
 * beyond it, older seqs are reported as regressions, the cautious side.
 */
const rememberedGapsPerConversation = 64;

interface Buffered<T> {
  readonly value: T;
  readonly arrivedAt: number;
}

interface ConversationState<T> {
  readonly conv: string;
  /** Every seq below it was delivered or given up on; the buffer never holds it. */
  next: number;
  /** Below this seq, whether a message was delivered is no longer known. */
  floor: number;
  /** Insertion order is arrival order, so the first entry is the oldest. */
  readonly buffer: Map<number, Buffered<T>>;
  /** Recent gaps given up on, ascending, inclusive. */
  readonly gaps: [from: number, to: number][];
  deadline: number | undefined;
  /** Bumped whenever `deadline` changes or the state is evicted, invalidating queued entries. */
  version: number;
}

interface DeadlineKey<T> {
  readonly state: ConversationState<T>;
  readonly version: number;
}

interface Counters {
  delivered: number;
  passedThrough: number;
  duplicates: number;
  regressions: number;
  gapsSkipped: number;
  seqsSkipped: number;
  overflows: number;
  evictions: number;
}

class ConversationOrdererImpl<T> implements ConversationOrderer<T> {
  readonly #gapTimeoutMs: number;
  readonly #maxBuffered: number;
  readonly #maxConversations: number;
  readonly #firstSeq: 0 | "first-seen";
  // Two recency lists (Map insertion order, oldest first) so that eviction can
  // prefer a conversation with nothing buffered without scanning for one.
  readonly #idle = new Map<string, ConversationState<T>>();
  readonly #waiting = new Map<string, ConversationState<T>>();
  readonly #deadlines = new DeadlineQueue<DeadlineKey<T>>();
  #now = Number.NEGATIVE_INFINITY;
  #buffered = 0;
  readonly #counters: Counters = {
    delivered: 0,
    passedThrough: 0,
    duplicates: 0,
    regressions: 0,
    gapsSkipped: 0,
    seqsSkipped: 0,
    overflows: 0,
    evictions: 0,
  };

  constructor(config: ConversationOrdererConfig) {
    const { gapTimeoutMs, maxBufferedPerConversation } = config;
    const maxConversations = config.maxConversations ?? defaultMaxConversations;
    const firstSeq = config.firstSeq ?? 0;
    if (typeof gapTimeoutMs !== "number" || Number.isNaN(gapTimeoutMs) || gapTimeoutMs < 0) {
      throw new ConfigError(
        `gapTimeoutMs must be a number of milliseconds >= 0, got ${String(gapTimeoutMs)}`,
      );
    }
    if (!Number.isSafeInteger(maxBufferedPerConversation) || maxBufferedPerConversation < 0) {
      throw new ConfigError(
        `maxBufferedPerConversation must be an integer >= 0, got ${String(maxBufferedPerConversation)}`,
      );
    }
    if (!Number.isSafeInteger(maxConversations) || maxConversations < 1) {
      throw new ConfigError(
        `maxConversations must be an integer >= 1, got ${String(maxConversations)}`,
      );
    }
    if (firstSeq !== 0 && firstSeq !== "first-seen") {
      throw new ConfigError(`firstSeq must be 0 or "first-seen", got ${String(firstSeq)}`);
    }
    this.#gapTimeoutMs = gapTimeoutMs;
    this.#maxBuffered = maxBufferedPerConversation;
    this.#maxConversations = maxConversations;
    this.#firstSeq = firstSeq;
  }

  push(item: ConversationItem<T>, now: number): OrderOutput<T> {
    const at = this.#checkTime(now);
    const out: OrderOutput<T> = { deliver: [], reports: [] };
    const { conv } = item;
    if (conv === undefined) {
      this.#now = at;
      this.#counters.passedThrough++;
      out.deliver.push(item.value);
      return out;
    }
    const seq = checkSeq(conv, item.seq);
    this.#now = at;

    let state = this.#idle.get(conv) ?? this.#waiting.get(conv);
    if (state === undefined) state = this.#open(conv, seq, out);

    if (seq < state.next) {
      this.#reportLate(state, seq, out);
    } else if (seq === state.next) {
      out.deliver.push(item.value);
      this.#counters.delivered++;
      state.next++;
      this.#drain(state, out);
    } else if (state.buffer.has(seq)) {
      this.#counters.duplicates++;
      out.reports.push({ kind: "duplicate", conv, seq });
    } else {
      state.buffer.set(seq, { value: item.value, arrivedAt: at });
      this.#buffered++;
      if (state.buffer.size > this.#maxBuffered) {
        this.#counters.overflows++;
        out.reports.push({ kind: "overflow", conv, seq });
        this.#skipFirstGap(state, "overflow", out);
      }
    }

    this.#reschedule(state);
    this.#idle.delete(conv);
    this.#waiting.delete(conv);
    (state.buffer.size > 0 ? this.#waiting : this.#idle).set(conv, state);
    return out;
  }

  tick(now: number): OrderOutput<T> {
    this.#now = this.#checkTime(now);
    const out: OrderOutput<T> = { deliver: [], reports: [] };
    for (;;) {
      const top = this.#deadlines.peek();
      if (top === undefined || top.at > this.#now) break;
      this.#deadlines.pop();
      const { state, version } = top.key;
      if (version !== state.version) continue;
      this.#expire(state, out);
      this.#reschedule(state);
      if (state.buffer.size === 0 && this.#waiting.delete(state.conv)) {
        this.#idle.set(state.conv, state);
      }
    }
    return out;
  }

  nextDeadline(): number | undefined {
    for (;;) {
      const top = this.#deadlines.peek();
      if (top === undefined) return undefined;
      if (top.key.version === top.key.state.version) return top.at;
      this.#deadlines.pop();
    }
  }

  stats(): ConversationOrderStats {
    return {
      conversations: this.#idle.size + this.#waiting.size,
      waitingConversations: this.#waiting.size,
      buffered: this.#buffered,
      ...this.#counters,
    };
  }

  #checkTime(now: number): number {
    if (typeof now !== "number" || !Number.isFinite(now)) {
      throw new OrderingError(
        `now must be a finite number of milliseconds, got ${String(now)}; pass the clock's now()`,
      );
    }
    return Math.max(this.#now, now);
  }

  #open(conv: string, seq: number, out: OrderOutput<T>): ConversationState<T> {
    if (this.#idle.size + this.#waiting.size >= this.#maxConversations) this.#evictOne(out);
    const start = this.#firstSeq === 0 ? 0 : seq;
    return {
      conv,
      next: start,
      floor: start,
      buffer: new Map(),
      gaps: [],
      deadline: undefined,
      version: 0,
    };
  }

  #evictOne(out: OrderOutput<T>): void {
    const victim = first(this.#idle) ?? first(this.#waiting);
    if (victim === undefined) return;
    const flushed = victim.buffer.size;
    while (victim.buffer.size > 0) this.#skipFirstGap(victim, "evicted", out);
    this.#idle.delete(victim.conv);
    this.#waiting.delete(victim.conv);
    victim.version++;
    this.#counters.evictions++;
    out.reports.push({ kind: "evicted", conv: victim.conv, next: victim.next, flushed });
  }

  #reportLate(state: ConversationState<T>, seq: number, out: OrderOutput<T>): void {
    const neverDelivered =
      seq < state.floor || state.gaps.some(([from, to]) => seq >= from && seq <= to);
    if (neverDelivered) {
      this.#counters.regressions++;
      out.reports.push({ kind: "regression", conv: state.conv, seq, expected: state.next });
    } else {
      this.#counters.duplicates++;
      out.reports.push({ kind: "duplicate", conv: state.conv, seq });
    }
  }

  /** Gives up on the seqs before the lowest buffered one, then delivers what that made contiguous. */
  #skipFirstGap(state: ConversationState<T>, reason: GapSkipReason, out: OrderOutput<T>): void {
    let lowest = Number.POSITIVE_INFINITY;
    for (const seq of state.buffer.keys()) if (seq < lowest) lowest = seq;
    // The buffer never holds `next`, so there is a real gap before `lowest`.
    const from = state.next;
    const to = lowest - 1;
    out.reports.push({ kind: "gap-skipped", conv: state.conv, from, to, reason });
    this.#counters.gapsSkipped++;
    this.#counters.seqsSkipped += to - from + 1;
    state.gaps.push([from, to]);
    if (state.gaps.length > rememberedGapsPerConversation) {
      const forgotten = state.gaps.shift()!;
      state.floor = forgotten[1] + 1;
    }
    state.next = lowest;
    this.#drain(state, out);
  }

  #drain(state: ConversationState<T>, out: OrderOutput<T>): void {
    for (;;) {
      const held = state.buffer.get(state.next);
      if (held === undefined) return;
      state.buffer.delete(state.next);
      this.#buffered--;
      this.#counters.delivered++;
      out.deliver.push(held.value);
      state.next++;
    }
  }

  #expire(state: ConversationState<T>, out: OrderOutput<T>): void {
    for (;;) {
      const oldest = first(state.buffer);
      if (oldest === undefined || oldest.arrivedAt + this.#gapTimeoutMs > this.#now) return;
      this.#skipFirstGap(state, "timeout", out);
    }
  }

  #reschedule(state: ConversationState<T>): void {
    const oldest = first(state.buffer);
    const deadline = oldest === undefined ? undefined : oldest.arrivedAt + this.#gapTimeoutMs;
    if (deadline === state.deadline) return;
    state.deadline = deadline;
    state.version++;
    if (deadline === undefined || !Number.isFinite(deadline)) return;
    this.#deadlines.push(deadline, { state, version: state.version });
    // Stale entries surface and are dropped as time passes; this bounds them
    // when the runtime pushes far faster than it ticks.
    if (this.#deadlines.size > 2 * this.#waiting.size + 64) {
      this.#deadlines.retain((key) => key.version === key.state.version);
    }
  }
}

function checkSeq(conv: string, seq: number | undefined): number {
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
    throw new OrderingError(
      `message in conversation "${conv}" has seq ${String(seq)}; seq must be a non-negative integer, fix the sender or reject the envelope at its schema`,
    );
  }
  return seq;
}

function first<V>(map: Map<unknown, V>): V | undefined {
  for (const value of map.values()) return value;
  return undefined;
}
