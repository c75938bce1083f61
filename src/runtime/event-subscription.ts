import {
  type CausalOrderer,
  type CausalReport,
  createCausalOrderer,
  type VectorClock,
} from "../delivery/causal-order.js";
import {
  type ConversationOrderer,
  createConversationOrderer,
} from "../delivery/conversation-order.js";
import { ConfigError, OrderingError, toError } from "../errors/index.js";
import type { Message } from "../transport/port.js";
import { decodeEnvelope } from "../wire/codec.js";
import type { Envelope } from "../wire/envelope.js";
import type { NodeContext } from "./node-context.js";

/** Header carrying the sender's vector clock (JSON) on causally ordered events. */
export const VECTOR_CLOCK_HEADER = "conclave-vc";
/**
 * Header naming the sender's own entry in its vector clock:
 * `<agent id>@<incarnation>`, a fresh incarnation each time the agent's node
 * starts, so a restarted publisher (which counts from 1 again) is a new
 * sender rather than a repeat of its earlier events.
 */
export const VECTOR_CLOCK_FROM_HEADER = "conclave-vc-from";

/** Hands an event to its subscriber. Errors are reported, never thrown into the bus. */
export type EventHandler<TBody = unknown> = (event: Envelope<TBody>) => void | Promise<void>;

export interface SubscribeOptions {
  /**
   * `none` (default): as they arrive. `conversation`: strictly by `seq` within
   * each `conv`, holding early arrivals until the gap fills or `gapTimeoutMs`
   * passes. `causal`: never before the events they causally follow (vector
   * clocks in the `conclave-vc` header; publish with `causal: true`).
   */
  readonly ordering?: "none" | "conversation" | "causal";
  /**
   * Longest an event waits for a missing predecessor (a seq of its
   * conversation, or an event it causally follows); then the missing one is
   * given up on (an `error` event says so) and what waited is delivered, in
   * order. Events are at-most-once: a predecessor published before this
   * subscription, or of a type it does not match, never arrives. A given-up
   * event that comes later is not delivered, except, for causal order, one
   * whose place only another sender's clock claimed (that header is not
   * signed): it is delivered late, once. A number of ms >= 0 (`ConfigError`
   * otherwise). Default 2000 ms.
   */
  readonly gapTimeoutMs?: number;
  /** Most events held back per conversation (or in total, for causal). Default 1000. */
  readonly maxBuffered?: number;
  /** A queue group: each event goes to one subscriber of the group. */
  readonly queue?: string;
}

/** A causal event held back for its predecessors. */
interface HeldEvent {
  readonly from: string;
  readonly clock: VectorClock;
  /** When it arrived (the node's clock). */
  readonly at: number;
}

/**
 * One subscription to events, with its opt-in ordering buffer. The ordering
 * itself is the pure code of `delivery/`; this binds it to the bus and a
 * timer for gap timeouts.
 */
export class EventSubscription {
  readonly #conversation: ConversationOrderer<Envelope> | undefined;
  #causal: CausalOrderer<Envelope> | undefined;
  /** Causal events held back, in arrival order, with what they wait on and since when. */
  readonly #causalHeld = new Map<Envelope, HeldEvent>();
  /**
   * Senders the causal orderer counts as delivered up to `assumed` only
   * because a gap given up on named them in another sender's clock (the
   * `conclave-vc` header is not signed: that is the other sender's word),
   * with how many of their own events were really delivered or given up on.
   * Their events in between are delivered late rather than dropped as
   * repeats, and published clocks name only `delivered`: one forged entry
   * must not silence an agent here, nor, through this node's clocks, anywhere.
   */
  readonly #hearsay = new Map<string, { delivered: number; readonly assumed: number }>();
  readonly #gapTimeoutMs: number;
  readonly #maxBuffered: number;
  readonly #unsubscribe: () => void;
  #cancelTick: (() => void) | undefined;
  #tickAt = Number.POSITIVE_INFINITY;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    private readonly node: NodeContext,
    subject: string,
    private readonly handler: EventHandler,
    options: SubscribeOptions,
  ) {
    const maxBuffered = options.maxBuffered ?? 1000;
    const gapTimeoutMs = options.gapTimeoutMs ?? 2000;
    // Checked for both orderings: NaN never expires a causal gap and re-arms
    // its timer every millisecond.
    if (typeof gapTimeoutMs !== "number" || Number.isNaN(gapTimeoutMs) || gapTimeoutMs < 0) {
      throw new ConfigError(
        `gapTimeoutMs must be a number of milliseconds >= 0 (how long an event waits for a missing predecessor), got ${String(gapTimeoutMs)}`,
      );
    }
    this.#gapTimeoutMs = gapTimeoutMs;
    this.#maxBuffered = maxBuffered;
    if (options.ordering === "conversation") {
      this.#conversation = createConversationOrderer<Envelope>({
        gapTimeoutMs: this.#gapTimeoutMs,
        maxBufferedPerConversation: maxBuffered,
      });
    } else if (options.ordering === "causal") {
      this.#causal = createCausalOrderer<Envelope>({ maxBuffered });
    }
    const sub = node.transport.subscribe(
      subject,
      (m) => this.#receive(m),
      options.queue ? { queue: options.queue } : {},
    );
    this.#unsubscribe = () => sub.unsubscribe();
  }

  /** Events this subscription has delivered, by sender: what a causal publisher must have seen. */
  delivered(): VectorClock | undefined {
    const delivered = this.#causal?.delivered();
    if (delivered === undefined || this.#hearsay.size === 0) return delivered;
    const out = new Map(Object.entries(delivered));
    for (const [node, { delivered: n, assumed }] of this.#hearsay) {
      // Past what was assumed, the orderer counts the sender's own events.
      if ((delivered[node] ?? 0) > assumed) this.#hearsay.delete(node);
      else if (n > 0) out.set(node, n);
      else out.delete(node);
    }
    return Object.freeze(Object.fromEntries(out));
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    this.#cancelTick?.();
  }

  #receive(message: Message): void {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: this.node.limits.maxEnvelopeBytes });
      this.node.keys.verify(envelope);
    } catch (error) {
      this.node.deadLetters.park(message, error);
      return;
    }
    if (this.#conversation) {
      let out: ReturnType<ConversationOrderer<Envelope>["push"]>;
      try {
        out = this.#conversation.push(
          envelope.conv === undefined
            ? { value: envelope }
            : { conv: envelope.conv, seq: envelope.seq ?? 0, value: envelope },
          this.node.clock.now(),
        );
      } catch (error) {
        this.node.deadLetters.park(message, error);
        return;
      }
      for (const report of out.reports) {
        if (report.kind === "regression") {
          this.node.deadLetters.park(
            message,
            new OrderingError(
              `event ${envelope.id} has seq ${report.seq} of conversation "${report.conv}", but ${report.expected} is next: its place was given up after the gap timeout`,
            ),
          );
        } else if (report.kind === "duplicate") {
          this.node.events.emit({
            type: "message.rejected",
            subject: message.subject,
            code: "E_DUPLICATE",
            reason: `seq ${report.seq} of "${report.conv}" was already delivered`,
          });
        } else if (report.kind === "gap-skipped") {
          this.node.events.emit({
            type: "error",
            error: `conversation "${report.conv}": gave up waiting for seq ${report.from}..${report.to} (${report.reason})`,
          });
        }
      }
      this.#deliver(out.deliver);
      this.#scheduleTick();
    } else if (this.#causal) {
      let clock: VectorClock;
      try {
        clock = JSON.parse(message.headers[VECTOR_CLOCK_HEADER] ?? "null") as VectorClock;
        if (clock === null || typeof clock !== "object") {
          throw new OrderingError(
            `a causally ordered event needs a vector clock in the ${VECTOR_CLOCK_HEADER} header; publish it with causal: true`,
          );
        }
        const from = causalSender(envelope, message.headers[VECTOR_CLOCK_FROM_HEADER]);
        const out = this.#causal.push({ from, clock, value: envelope });
        if (this.#deliverLateHearsay(from, clock, out.reports, envelope)) return;
        for (const delivered of out.deliver) this.#causalHeld.delete(delivered);
        if (out.reports.length === 0 && !out.deliver.includes(envelope)) {
          this.#causalHeld.set(envelope, {
            from,
            clock,
            at: this.node.clock.now(),
          });
        }
        for (const report of out.reports) {
          if (report.kind === "overflow") {
            this.node.deadLetters.park(
              message,
              new OrderingError(
                `causal buffer full: event ${envelope.id} could not wait for its predecessors`,
              ),
            );
          } else {
            this.node.events.emit({
              type: "message.rejected",
              subject: message.subject,
              code: "E_DUPLICATE",
              reason: `event ${report.seq} of ${report.from} was already delivered`,
            });
          }
        }
        this.#deliver(out.deliver);
        this.#scheduleTick();
      } catch (error) {
        this.node.deadLetters.park(message, error);
      }
    } else {
      this.#deliver([envelope]);
    }
  }

  /**
   * Delivers, at once, an event the orderer took for a repeat only because a
   * given-up gap assumed its sender's events up to a count another sender's
   * clock claimed (see `#hearsay`). Returns whether it did.
   */
  #deliverLateHearsay(
    from: string,
    clock: VectorClock,
    reports: readonly CausalReport[],
    envelope: Envelope,
  ): boolean {
    const hearsay = this.#hearsay.get(from);
    const seq = Object.hasOwn(clock, from) ? (clock[from] ?? 0) : 0;
    if (hearsay === undefined || reports[0]?.kind !== "duplicate") return false;
    if (seq <= hearsay.delivered || seq > hearsay.assumed) return false;
    hearsay.delivered = seq;
    if (seq === hearsay.assumed) this.#hearsay.delete(from);
    this.#deliver([envelope]);
    return true;
  }

  /** Runs the handler on each event in order, one at a time. */
  #deliver(events: readonly Envelope[]): void {
    for (const event of events) {
      this.#chain = this.#chain.then(async () => {
        if (this.#closed) return;
        try {
          await this.handler(event);
        } catch (error) {
          this.node.events.emit({
            type: "error",
            error: `event handler for ${event.type} failed: ${toError(error).message}`,
          });
        }
      });
    }
  }

  /** When the oldest event waiting for a predecessor gives up on it. */
  #nextDeadline(): number | undefined {
    if (this.#conversation) return this.#conversation.nextDeadline();
    for (const held of this.#causalHeld.values()) return held.at + this.#gapTimeoutMs;
    return undefined;
  }

  #scheduleTick(): void {
    const due = this.#nextDeadline();
    if (due === undefined || due >= this.#tickAt || this.#closed) return;
    this.#cancelTick?.();
    this.#tickAt = due;
    this.#cancelTick = this.node.clock.setTimer(
      () => {
        this.#tickAt = Number.POSITIVE_INFINITY;
        this.#cancelTick = undefined;
        if (this.#closed) return;
        if (this.#conversation) this.#tickConversation(this.#conversation);
        else this.#giveUpCausalGaps();
        this.#scheduleTick();
      },
      Math.max(0, due - this.node.clock.now()),
    );
  }

  #tickConversation(conversation: ConversationOrderer<Envelope>): void {
    const out = conversation.tick(this.node.clock.now());
    for (const report of out.reports) {
      if (report.kind === "gap-skipped") {
        this.node.events.emit({
          type: "error",
          error: `conversation "${report.conv}": gave up waiting for seq ${report.from}..${report.to} (${report.reason})`,
        });
      }
    }
    this.#deliver(out.deliver);
  }

  /**
   * Delivers the causal events that waited `gapTimeoutMs`, with the held
   * events they follow, in causal order, giving up on the predecessors that
   * never came; the orderer restarts from what was delivered or given up on,
   * and takes back the events still waiting.
   */
  #giveUpCausalGaps(): void {
    const causal = this.#causal;
    if (causal === undefined) return;
    const now = this.node.clock.now();
    const held = [...this.#causalHeld].map(([envelope, h]) => ({ envelope, ...h }));
    const expired = held.filter((h) => h.at + this.#gapTimeoutMs <= now);
    if (expired.length === 0) return;
    const follows = (h: (typeof held)[number], e: (typeof held)[number]) =>
      h.from === e.from
        ? (h.clock[h.from] ?? 0) < (e.clock[e.from] ?? 0)
        : (h.clock[h.from] ?? 0) <= (Object.hasOwn(e.clock, h.from) ? (e.clock[h.from] ?? 0) : 0);
    const flushed = held.filter((h) => expired.some((e) => e === h || follows(h, e)));
    // The sum of a clock grows along happened-before: a causal order of the flushed events.
    const size = (clock: VectorClock) => Object.values(clock).reduce((sum, n) => sum + n, 0);
    flushed.sort((x, y) => size(x.clock) - size(y.clock));
    const before = new Map<string, number>(Object.entries(causal.delivered()));
    const initial = new Map(before);
    /** Per flushed sender, the highest of its own events given up on or delivered now. */
    const own = new Map<string, number>();
    for (const { from, clock } of flushed) {
      own.set(from, Math.max(own.get(from) ?? 0, clock[from] ?? 0));
      for (const [node, n] of Object.entries(clock)) {
        initial.set(node, Math.max(initial.get(node) ?? 0, n));
      }
    }
    for (const [node, n] of initial) {
      const was = before.get(node) ?? 0;
      const ownUpTo = own.get(node) ?? 0;
      if (n === was || ownUpTo >= n) {
        if (ownUpTo >= n) this.#hearsay.delete(node);
        continue;
      }
      const delivered = Math.max(this.#hearsay.get(node)?.delivered ?? was, ownUpTo);
      this.#hearsay.set(node, { delivered, assumed: n });
    }
    const orderer = createCausalOrderer<Envelope>({
      maxBuffered: this.#maxBuffered,
      initial: Object.fromEntries(initial),
    });
    this.#causal = orderer;
    this.#causalHeld.clear();
    const deliver = flushed.map((h) => h.envelope);
    for (const h of held) {
      if (flushed.includes(h)) continue;
      const out = orderer.push({ from: h.from, clock: h.clock, value: h.envelope });
      for (const delivered of out.deliver) this.#causalHeld.delete(delivered);
      if (out.reports.length === 0 && !out.deliver.includes(h.envelope)) {
        this.#causalHeld.set(h.envelope, { from: h.from, clock: h.clock, at: h.at });
      }
      deliver.push(...out.deliver);
    }
    this.node.events.emit({
      type: "error",
      error: `causal order: gave up waiting for the predecessors of ${expired.length} event(s) after ${this.#gapTimeoutMs} ms (first: ${expired[0]?.envelope.id} from "${expired[0]?.from}")`,
    });
    this.#deliver(deliver);
  }
}

/**
 * The sender's entry in a causal event's vector clock: the one its
 * `conclave-vc-from` header names, which must be one of the signer's own
 * (`<agent id>@…`); the agent id itself when the header is absent.
 */
function causalSender(envelope: Envelope, named: string | undefined): string {
  if (named === undefined) return envelope.from;
  if (!named.startsWith(`${envelope.from}@`)) {
    throw new OrderingError(
      `the ${VECTOR_CLOCK_FROM_HEADER} header names "${named}", not an entry of the event's signer "${envelope.from}" (expected "${envelope.from}@<incarnation>")`,
    );
  }
  return named;
}
