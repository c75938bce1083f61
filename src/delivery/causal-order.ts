import { ConfigError, OrderingError } from "../errors/index.js";

/**
 * A vector clock: for each node, how many messages it sent that are known to
 * precede this point. A missing entry means 0. On the wire it is a plain JSON
 * object, e.g. `{ "dev-1": 3, "lead": 1 }`.
 */
export type VectorClock = Readonly<Record<string, number>>;

/** How two clocks relate: `"before"` means the first happened before the second. */
export type ClockOrder = "before" | "after" | "equal" | "concurrent";

/**
 * The clock after one more event on `node`. Returns a new frozen clock.
 *
 * @example
 * ```ts
 * increment({ a: 1 }, "b"); // { a: 1, b: 1 }
 * ```
 */
export function increment(clock: VectorClock, node: string): VectorClock {
  return Object.freeze({ ...clock, [node]: entry(clock, node) + 1 });
}

/**
 * The pointwise maximum: everything known to either clock. Returns a new
 * frozen clock.
 *
 * @example
 * ```ts
 * merge({ a: 2, b: 1 }, { b: 3 }); // { a: 2, b: 3 }
 * ```
 */
export function merge(a: VectorClock, b: VectorClock): VectorClock {
  const out = new Map<string, number>(Object.entries(a));
  for (const [node, count] of Object.entries(b)) {
    out.set(node, Math.max(out.get(node) ?? 0, count));
  }
  // fromEntries defines own properties, so a node named "__proto__" stays data.
  return Object.freeze(Object.fromEntries(out));
}

/**
 * How `a` relates to `b` in happened-before order. Missing entries count as 0,
 * so `{}` and `{ x: 0 }` are `"equal"`.
 *
 * @example
 * ```ts
 * compare({ a: 1 }, { a: 1, b: 1 }); // "before"
 * compare({ a: 2 }, { a: 1, b: 1 }); // "concurrent"
 * ```
 */
export function compare(a: VectorClock, b: VectorClock): ClockOrder {
  let aBehind = false;
  let aAhead = false;
  for (const node of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = entry(a, node);
    const y = entry(b, node);
    if (x < y) aBehind = true;
    else if (x > y) aAhead = true;
  }
  if (aBehind) return aAhead ? "concurrent" : "before";
  return aAhead ? "after" : "equal";
}

/**
 * Whether the event stamped `a` causally precedes the one stamped `b`.
 *
 * @example
 * ```ts
 * happenedBefore({ a: 1 }, { a: 1, b: 1 }); // true
 * ```
 */
export function happenedBefore(a: VectorClock, b: VectorClock): boolean {
  return compare(a, b) === "before";
}

/**
 * Causal delivery: a message is handed on only after every message that
 * happened before it, whatever order the bus brings them in (the classic
 * causal-broadcast rule of Birman, Schiper and Stephenson).
 *
 * Senders stamp each message with their clock after incrementing their own
 * entry, and merge the clock of every message they deliver. A message from
 * `s` stamped `c` is delivered when `c[s] == delivered[s] + 1` (it is the next
 * from `s`) and `c[k] <= delivered[k]` for every other `k` (everything it
 * depends on is in); otherwise it is buffered. One with `c[s] <= delivered[s]`,
 * or with the same `(s, c[s])` as one buffered, is a `duplicate` and not
 * delivered again.
 *
 * When `maxBuffered` messages are held, a message that is not deliverable at
 * once is refused with an `overflow` report rather than buffered: the runtime
 * should nak it so the transport brings it back later. That cannot deadlock on
 * an at-least-once transport, because the earliest undelivered message in
 * causal order is always deliverable on arrival and needs no buffer room. Do
 * not drop refused messages: causal order has no safe way to skip one.
 *
 * A pure state machine: no timers, no IO. Persist `delivered()` and pass it as
 * `initial` to resume after a restart.
 *
 * @example
 * ```ts
 * const orderer = createCausalOrderer<string>({ self: "me", maxBuffered: 10_000 });
 * // "b" answered "a"'s question, but the answer arrived first:
 * orderer.push({ from: "b", clock: { a: 1, b: 1 }, value: "answer" }); // deliver: []
 * orderer.push({ from: "a", clock: { a: 1 }, value: "question" }); // deliver: ["question", "answer"]
 * const clock = orderer.stampOutgoing(); // { a: 1, b: 1, me: 1 }: attach to what "me" sends next
 * ```
 */
export function createCausalOrderer<T>(config: CausalOrdererConfig): CausalOrderer<T> {
  return new CausalOrdererImpl<T>(config);
}

/** Construction-time settings of {@link createCausalOrderer}. */
export interface CausalOrdererConfig {
  /** This node's id; needed for {@link CausalOrderer.stampOutgoing}. */
  readonly self?: string;
  /** Most messages held back waiting for their causal predecessors. */
  readonly maxBuffered: number;
  /** A `delivered()` vector persisted earlier, to resume from. Default: nothing delivered. */
  readonly initial?: VectorClock;
}

/** A message as pushed: its sender, the clock it was sent with, and what to deliver. */
export interface CausalMessage<T> {
  readonly from: string;
  readonly clock: VectorClock;
  readonly value: T;
}

/**
 * Something the runtime should count or act on, always about the message just
 * pushed; `seq` is its `clock[from]`.
 */
export type CausalReport =
  /** Delivered or buffered already; not delivered again. */
  | { readonly kind: "duplicate"; readonly from: string; readonly seq: number }
  /** Not deliverable yet and the buffer is full; nak it for redelivery. */
  | { readonly kind: "overflow"; readonly from: string; readonly seq: number };

/** The result of one `push`: values now deliverable, in causal order, and reports. */
export interface CausalOutput<T> {
  readonly deliver: T[];
  readonly reports: CausalReport[];
}

/** Counters since creation, and current sizes. */
export interface CausalOrderStats {
  /** Messages buffered now. */
  readonly buffered: number;
  /** Nodes with at least one message delivered (or sent, for `self`). */
  readonly nodes: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly overflows: number;
}

/** A causal-delivery buffer. See {@link createCausalOrderer}. */
export interface CausalOrderer<T> {
  /**
   * Takes one message and returns what became deliverable. Throws
   * `OrderingError`, leaving the state untouched, when `from` is empty or the
   * clock is not a map of non-negative integers with `clock[from] >= 1`.
   */
  push(message: CausalMessage<T>): CausalOutput<T>;
  /**
   * Counts one message sent by `self` and returns the clock to stamp it with.
   * The sender delivers its own message locally; if the bus echoes it back,
   * pushing it reports a `duplicate`. Throws `ConfigError` without `self`,
   * and `OrderingError` (counting nothing) when held messages already depend
   * on a message of `self` this node has not sent: the id is shared, or the
   * node lost its state and should be restarted with `initial`.
   */
  stampOutgoing(): VectorClock;
  /** How many messages of each node have been delivered (or sent, for `self`). */
  delivered(): VectorClock;
  stats(): CausalOrderStats;
}

interface Held<T> {
  readonly clock: VectorClock;
  readonly value: T;
}

class CausalOrdererImpl<T> implements CausalOrderer<T> {
  readonly #self: string | undefined;
  readonly #maxBuffered: number;
  readonly #delivered = new Map<string, number>();
  /** Held messages per sender, by their seq (`clock[sender]`). */
  readonly #held = new Map<string, Map<number, Held<T>>>();
  /**
   * For each node, senders whose next message waits on that node. Lets a
   * delivery wake exactly the messages it may unblock instead of rescanning
   * the whole buffer.
   */
  readonly #waitingOn = new Map<string, Set<string>>();
  #buffered = 0;
  #deliveredCount = 0;
  #duplicates = 0;
  #overflows = 0;

  constructor(config: CausalOrdererConfig) {
    if (!Number.isSafeInteger(config.maxBuffered) || config.maxBuffered < 0) {
      throw new ConfigError(
        `maxBuffered must be an integer >= 0, got ${String(config.maxBuffered)}`,
      );
    }
    if (config.self !== undefined && (typeof config.self !== "string" || config.self === "")) {
      throw new ConfigError("self must be a non-empty node id when given");
    }
    this.#self = config.self;
    this.#maxBuffered = config.maxBuffered;
    if (config.initial !== undefined) {
      const problem = clockProblem(config.initial);
      if (problem !== undefined) throw new ConfigError(`initial clock is invalid: ${problem}`);
      for (const [node, count] of Object.entries(config.initial)) {
        if (count > 0) this.#delivered.set(node, count);
      }
    }
  }

  push(message: CausalMessage<T>): CausalOutput<T> {
    const { from, clock } = message;
    checkMessage(from, clock);
    const out: CausalOutput<T> = { deliver: [], reports: [] };
    const seq = entry(clock, from);
    const next = this.#count(from) + 1;
    if (seq < next || this.#held.get(from)?.has(seq)) {
      this.#duplicates++;
      out.reports.push({ kind: "duplicate", from, seq });
      return out;
    }
    if (seq === next && this.#blocker(from, clock) === undefined) {
      this.#deliver(from, message.value, out);
      this.#wake(from, out);
      return out;
    }
    if (this.#buffered >= this.#maxBuffered) {
      this.#overflows++;
      out.reports.push({ kind: "overflow", from, seq });
      return out;
    }
    let fromSender = this.#held.get(from);
    if (fromSender === undefined) {
      fromSender = new Map();
      this.#held.set(from, fromSender);
    }
    fromSender.set(seq, { clock, value: message.value });
    this.#buffered++;
    if (seq === next) this.#park(from, this.#blocker(from, clock)!);
    return out;
  }

  stampOutgoing(): VectorClock {
    if (this.#self === undefined) {
      throw new ConfigError(
        "stampOutgoing() needs the node's own id; pass `self` to createCausalOrderer",
      );
    }
    const self = this.#self;
    const sent = this.#count(self);
    // A held message waiting for a message of this node that was never sent
    // here means another process used this id, or this one lost its state.
    // Numbering on would pass new messages off as the ones it waits for.
    for (const sender of this.#waitingOn.get(self) ?? []) {
      const head = this.#held.get(sender)?.get(this.#count(sender) + 1);
      if (head !== undefined && entry(head.clock, self) > sent) {
        throw new OrderingError(
          `a message from "${sender}" depends on message ${entry(head.clock, self)} of "${self}", which this node has not sent (it sent ${sent}); two nodes share the id "${self}", or its state was lost: restore it with \`initial\``,
        );
      }
    }
    this.#delivered.set(self, sent + 1);
    return this.delivered();
  }

  delivered(): VectorClock {
    return Object.freeze(Object.fromEntries(this.#delivered));
  }

  stats(): CausalOrderStats {
    return {
      buffered: this.#buffered,
      nodes: this.#delivered.size,
      delivered: this.#deliveredCount,
      duplicates: this.#duplicates,
      overflows: this.#overflows,
    };
  }

  #count(node: string): number {
    return this.#delivered.get(node) ?? 0;
  }

  /** A node whose messages `clock` depends on and which are not all delivered yet. */
  #blocker(from: string, clock: VectorClock): string | undefined {
    for (const [node, count] of Object.entries(clock)) {
      if (node !== from && count > this.#count(node)) return node;
    }
    return undefined;
  }

  #deliver(from: string, value: T, out: CausalOutput<T>): void {
    this.#delivered.set(from, this.#count(from) + 1);
    this.#deliveredCount++;
    out.deliver.push(value);
  }

  #park(sender: string, blocker: string): void {
    let senders = this.#waitingOn.get(blocker);
    if (senders === undefined) {
      senders = new Set();
      this.#waitingOn.set(blocker, senders);
    }
    senders.add(sender);
  }

  /** After `node`'s count grew, delivers every held message that became deliverable, transitively. */
  #wake(node: string, out: CausalOutput<T>): void {
    const advanced = [node];
    for (let changed = advanced.pop(); changed !== undefined; changed = advanced.pop()) {
      const candidates = this.#waitingOn.get(changed) ?? new Set<string>();
      this.#waitingOn.delete(changed);
      candidates.add(changed);
      for (const sender of candidates) {
        const fromSender = this.#held.get(sender);
        const seq = this.#count(sender) + 1;
        const head = fromSender?.get(seq);
        if (fromSender === undefined || head === undefined) continue;
        const blocker = this.#blocker(sender, head.clock);
        if (blocker !== undefined) {
          this.#park(sender, blocker);
          continue;
        }
        fromSender.delete(seq);
        if (fromSender.size === 0) this.#held.delete(sender);
        this.#buffered--;
        this.#deliver(sender, head.value, out);
        advanced.push(sender);
      }
    }
  }
}

function entry(clock: VectorClock, node: string): number {
  // hasOwn: a node named like an Object.prototype member must not read it.
  return Object.hasOwn(clock, node) ? (clock[node] ?? 0) : 0;
}

function checkMessage(from: string, clock: VectorClock): void {
  if (typeof from !== "string" || from === "") {
    throw new OrderingError("causal message has no sender; set `from` to the sending node's id");
  }
  const problem = clockProblem(clock);
  if (problem !== undefined) {
    throw new OrderingError(`message from "${from}" has an invalid clock: ${problem}`);
  }
  if (entry(clock, from) < 1) {
    throw new OrderingError(
      `message from "${from}" has clock["${from}"] = ${entry(clock, from)}; a sender must increment its own entry before sending`,
    );
  }
}

function clockProblem(clock: unknown): string | undefined {
  if (typeof clock !== "object" || clock === null || Array.isArray(clock)) {
    return "expected an object of node ids to counts";
  }
  for (const [node, count] of Object.entries(clock)) {
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
      return `entry "${node}" is ${String(count)}, expected a non-negative integer`;
    }
  }
  return undefined;
}
