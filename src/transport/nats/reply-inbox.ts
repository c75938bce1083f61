import type { Clock } from "../../core/clock.js";
import { ClosedError, NoRespondersError, TimeoutError } from "../../errors/index.js";
import type { Driver, Msg, MsgHdrs, NatsConnection, Subscription } from "./driver.js";

/** A request not yet handed to the driver. */
interface Outgoing {
  readonly token: string;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

interface Waiting {
  readonly resolve: (reply: Msg) => void;
  readonly reject: (error: Error) => void;
  readonly subject: string;
  readonly what: string;
  readonly timeoutMs: number;
  readonly deadline: number;
}

/**
 * The request path of the adapter's two per-task round trips: a JetStream
 * publish waiting for its acknowledgement, and an ack waiting for the
 * server's confirmation. Both are ordinary NATS requests, and the bytes on
 * the wire are the same as the driver's: a `PUB` with a reply subject, and
 * one message back on it.
 *
 * Why not the driver's `request()`: per request it starts a timer, builds a
 * deferred and a request object, and on success still constructs a
 * `RequestError` with a stack trace to reject the settled promise with. At
 * two requests per task that was about a fifth of the client's CPU. Here one
 * subscription on `<inbox>.*` answers every request, a request is one map
 * entry keyed by a counter, and one timer, armed for the earliest deadline,
 * times them out.
 *
 * Requests made during one turn of the event loop are handed to the driver
 * together at the end of it (`setImmediate`), so they leave in one socket
 * write: replies arrive a few at a time, and each answered enqueue or ack
 * leads to the next request, so handing each to the driver at once cost
 * about one write per task. The delay is the rest of the current turn.
 *
 * Contract:
 * - `request()` resolves with the first reply to arrive on its own reply
 *   subject, whatever it says (the caller reads it); a reply arriving after
 *   the request settled is ignored.
 * - It rejects with `NoRespondersError` when the server reports that nobody
 *   subscribes to the subject, with `TimeoutError` when no reply came within
 *   `timeoutMs` of the injected clock, and with `ClosedError` once `close()`
 *   was called (every request still waiting is rejected then). It never
 *   leaves a promise pending forever.
 * - Requests go to the server in the order `request()` was called.
 * - A reply lost in a reconnect is a timeout: the driver re-subscribes the
 *   inbox, but the server does not resend.
 */
export class ReplyInbox {
  readonly #nc: NatsConnection;
  readonly #clock: Clock;
  readonly #prefix: string;
  readonly #subscription: Subscription;
  readonly #waiting = new Map<string, Waiting>();
  #outgoing: Outgoing[] = [];
  #sendScheduled = false;
  #next = 0;
  #cancelTimer: (() => void) | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(driver: Driver, nc: NatsConnection, clock: Clock) {
    this.#nc = nc;
    this.#clock = clock;
    this.#prefix = `${driver.core.createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, reply) => {
        if (error) this.#failAll(error);
        else this.#answer(reply);
      },
    });
  }

  /** How many requests wait for a reply. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Publishes `data` to `subject` with a reply subject of this inbox and
   * resolves with the reply. `what` names the operation in a timeout's
   * message. A publish the driver refuses (connection closed, invalid
   * headers) rejects with the driver's error, for the caller to map. The
   * deadline runs from this call.
   */
  request(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<Msg> {
    if (this.#closed) return Promise.reject(new ClosedError("the NATS transport"));
    const token = (this.#next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const deadline = this.#clock.now() + timeoutMs;
      this.#waiting.set(token, { resolve, reject, subject, what, timeoutMs, deadline });
      this.#outgoing.push({ token, subject, data, headers });
      if (!this.#sendScheduled) {
        this.#sendScheduled = true;
        setImmediate(this.#send);
      }
      if (deadline < this.#timerAt) this.#arm(deadline);
    });
  }

  /** Hands the requests of this turn to the driver, which writes them together. */
  readonly #send = (): void => {
    this.#sendScheduled = false;
    const outgoing = this.#outgoing;
    this.#outgoing = [];
    for (const o of outgoing) {
      // Settled meanwhile (closed, or timed out on a clock moved by hand).
      if (!this.#waiting.has(o.token)) continue;
      const reply = this.#prefix + o.token;
      try {
        this.#nc.publish(
          o.subject,
          o.data,
          o.headers === undefined ? { reply } : { reply, headers: o.headers },
        );
      } catch (error) {
        const waiting = this.#waiting.get(o.token);
        this.#waiting.delete(o.token);
        waiting?.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
  };

  /** Rejects every waiting request with `ClosedError` and stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#outgoing = [];
    this.#failAll(new ClosedError("the NATS transport"));
    try {
      this.#subscription.unsubscribe();
    } catch {
      // Gone with the connection.
    }
  }

  #answer(reply: Msg): void {
    const token = reply.subject.slice(this.#prefix.length);
    const waiting = this.#waiting.get(token);
    if (!waiting) return;
    this.#waiting.delete(token);
    // The server's "no responders" status: an empty message with code 503.
    if (reply.data.length === 0 && reply.headers?.code === 503) {
      waiting.reject(new NoRespondersError(waiting.subject));
    } else {
      waiting.resolve(reply);
    }
  }

  /** Rejects every waiting request: closed, or the inbox subscription failed (a permissions violation). */
  #failAll(error: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(error);
  }

  #arm(at: number): void {
    this.#cancelTimer?.();
    this.#timerAt = at;
    this.#cancelTimer = this.#clock.setTimer(() => this.#sweep(), at - this.#clock.now());
  }

  /** Times out what is due and re-arms for the next deadline. */
  #sweep(): void {
    this.#cancelTimer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [token, w] of this.#waiting) {
      if (w.deadline <= now) {
        this.#waiting.delete(token);
        w.reject(
          new TimeoutError(
            `${w.what}: the NATS server did not answer within ${w.timeoutMs} ms; check that it is up and reachable and that its JetStream store has free disk space (nats-server stops answering publishes on a full disk, and answers again once restarted with space), or raise apiTimeoutMs`,
          ),
        );
      } else if (w.deadline < next) {
        next = w.deadline;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
  }
}
