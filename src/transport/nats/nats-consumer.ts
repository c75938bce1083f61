import { ClosedError, toError } from "../../errors/index.js";
import { type Consumer, DeadLetterHeaders, type DeliveryHandler } from "../port.js";
import {
  ackDeadlineReason,
  createDelivery,
  invokeHandler,
  isExhausted,
  type SettlingDelivery,
} from "../settlement.js";
import {
  type DeadLetterMoveHost,
  moveToDeadLetter,
  ORIGINAL_SEQ_HEADER,
  ORIGINAL_STORED_ID_HEADER,
} from "./dead-letter-move.js";
import {
  ackSubject,
  type Driver,
  type FetchIterator,
  type JsMsg,
  type PullConsumer,
} from "./driver.js";
import { mapError } from "./errors.js";
import { fromNatsHeaders, natsMsgId } from "./headers.js";
import { OwedDeadLetters, type ReadHeaders, readParked } from "./owed-dead-letters.js";
import type { QueueSettings } from "./queue-settings.js";
import { ReleasedDeliveries } from "./released-deliveries.js";

/**
 * What a consumer needs from the transport that owns it: what moving a dead
 * letter needs (`DeadLetterMoveHost`: the clock, storing a message durably,
 * flush, report, closed, `max_payload`), and the rest.
 */
export interface ConsumerHost extends DeadLetterMoveHost {
  readonly driver: Driver;
  /** The queue's settings: this transport's `ensureQueue`, else read from the server. */
  settings(queue: string): Promise<QueueSettings>;
  /** The latest settings known locally (an `ensureQueue` may update them while consuming). */
  cachedSettings(queue: string): QueueSettings | undefined;
  /** The driver's handle on the durable pull consumer. */
  pullConsumer(settings: QueueSettings): Promise<PullConsumer>;
  /**
   * A pull of this queue expired with nothing in it: on a replicated queue
   * the transport looks whether the stream holds messages its consumer does
   * not see (`consumer-health.ts`).
   */
  idle(queue: string): void;
  /**
   * Finishes moving a dead letter: removes the original from its queue's
   * stream if it is still there (see `ORIGINAL_SEQ_HEADER`). Never throws.
   */
  completeDeadLetter(stream: string, seq: number, msgId: string): Promise<void>;
  /**
   * Acks the leased message whose JetStream reply subject is `reply` and
   * resolves once the server confirms the removal.
   */
  confirmAck(reply: string, queue: string): Promise<void>;
  detached(consumer: NatsConsumer): void;
  /**
   * The deliveries given back unhandled, shared by the transport's consumers
   * so that they do not count as attempts; a consumer keeps its own without.
   */
  readonly released?: ReleasedDeliveries;
  /**
   * The messages given back owing a dead letter the server refused, shared
   * by the transport's consumers; a consumer keeps its own without.
   */
  readonly owed?: OwedDeadLetters;
}

/** How long one pull request waits on the server for messages; an idle consumer renews it this often. */
const PULL_EXPIRES_MS = 10_000;
/**
 * While a pull request waits, the server sends a heartbeat this often; the
 * driver ends the request after two missed ones. That is how a pull whose
 * server went away (the consumer's leader died, and the request with it) is
 * noticed and issued again: left to the driver's default (half the expiry)
 * it took 10 s or more.
 */
const PULL_HEARTBEAT_MS = 1_000;
/** Backoff bounds when pulling fails (stream missing, server restarting). */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

type State = "running" | "draining" | "closed";

/**
 * A consumer attached to a durable queue: pulls from the queue's JetStream
 * pull consumer and hands each message to the handler as a `Delivery`.
 *
 * Backpressure is exact: pull requests only ever ask for
 * `maxInFlight - inFlight - alreadyRequested` messages, so the server never
 * leases this consumer more than `maxInFlight` messages at once. (The driver's
 * `consume()` re-pulls as soon as messages *arrive*, not when they are
 * settled, so it cannot bound unsettled work; this loop of sized `fetch()`
 * calls can. Each `fetch()` survives a reconnect: the driver re-issues its
 * pull request once the connection is back.)
 */
export class NatsConsumer implements Consumer {
  readonly queue: string;
  #state: State = "running";
  #inFlight = 0;
  #requested = 0;
  readonly #fetches = new Set<FetchIterator>();
  #pull: PullConsumer | undefined;
  #starting = false;
  #failures = 0;
  #lastFailure = "";
  #cancelRetry: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #detached = false;
  /** The loops of the fetches under way, from before their request is made until they end. */
  readonly #loops = new Set<Promise<void>>();
  #draining: Promise<void> | undefined;
  readonly #released: ReleasedDeliveries;
  readonly #owed: OwedDeadLetters;
  /** Wakes the pauses between attempts at refused dead letters (see `#pause`). */
  readonly #pauses = new Set<() => void>();

  constructor(
    queue: string,
    private readonly handler: DeliveryHandler,
    private readonly maxInFlight: number,
    private readonly host: ConsumerHost,
  ) {
    this.queue = queue;
    this.#released = host.released ?? new ReleasedDeliveries();
    this.#owed = host.owed ?? new OwedDeadLetters();
    this.#pump();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  drain(): Promise<void> {
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  async #drain(): Promise<void> {
    if (this.#state === "running") {
      this.#state = "draining";
      this.#cancelRetry?.();
      this.#cancelRetry = undefined;
      this.#wakePauses();
      await this.#endPulls();
    }
    await this.#idle();
    this.#detach();
  }

  async close(): Promise<void> {
    if (this.#state !== "closed") {
      this.#state = "closed";
      this.#stopPulling();
      this.#wakePauses();
      // A drain waiting on this consumer gives up: close means now.
      this.#wakeIdle();
    }
    this.#detach();
  }

  // ---- pulling ---------------------------------------------------------------

  /** Asks for more messages when there is room; starts the pull consumer handle first. */
  #pump(): void {
    if (this.#state !== "running" || this.#cancelRetry) return;
    if (!this.#pull) {
      if (!this.#starting) void this.#start();
      return;
    }
    const free = this.maxInFlight - this.#inFlight - this.#requested;
    if (free <= 0) return;
    // Refill in steps rather than one request per settled message: each
    // request is a subscription, a pull and an unsubscribe, and the server's
    // work too (one request per 1.4 messages on a backlog before). Smaller
    // still with a request already waiting.
    const step = Math.ceil(this.maxInFlight / (this.#fetches.size > 0 ? 2 : 4));
    if (free < step) return;
    const loop = this.#fetch(this.#pull, free);
    this.#loops.add(loop);
    void loop.finally(() => this.#loops.delete(loop));
  }

  async #start(): Promise<void> {
    this.#starting = true;
    try {
      const settings = await this.host.settings(this.queue);
      const pull = await this.host.pullConsumer(settings);
      if (this.#state !== "running") return;
      // The failure count is reset by a pull that works, not by the handle:
      // getting one succeeds while the consumer has no leader yet.
      this.#pull = pull;
    } catch (error) {
      // A consumer stopped meanwhile (its transport closed) has nothing to report.
      if (this.#state === "running") this.#failed(error, `consuming queue "${this.queue}"`);
    } finally {
      this.#starting = false;
    }
    this.#pump();
  }

  async #fetch(pull: PullConsumer, batch: number): Promise<void> {
    this.#requested += batch;
    let received = 0;
    let iterator: FetchIterator | undefined;
    const startedAt = this.host.clock.now();
    try {
      iterator = await pull.fetch({
        max_messages: batch,
        expires: PULL_EXPIRES_MS,
        idle_heartbeat: PULL_HEARTBEAT_MS,
      });
      this.#fetches.add(iterator);
      // Made while a drain began: end it the same way (see `#endPulls`).
      if (this.#state === "draining") void endFetch(iterator);
      else if (this.#state !== "running") iterator.stop();
      for await (const message of iterator) {
        if (received >= batch) {
          // The driver re-issues a full request after a reconnect; anything
          // beyond what was asked for goes straight back.
          this.#release(message);
          continue;
        }
        received++;
        this.#requested--;
        this.#receive(message);
      }
      if (received === 0 && this.host.clock.now() - startedAt < PULL_EXPIRES_MS / 2) {
        // Ended early and empty (not by expiry): do not spin, pause a little.
        this.#backoff();
      } else {
        this.#failures = 0;
        this.#lastFailure = "";
        if (received === 0 && this.#state === "running") this.host.idle(this.queue);
      }
    } catch (error) {
      if (this.#state === "running") {
        // A pull that lost its server is issued again on the same handle:
        // fetching needs no API call, while getting a new handle waits for
        // the consumer's new leader to answer an info request.
        const keepHandle = isMissedHeartbeats(error);
        this.#failed(error, `pulling from queue "${this.queue}"`, keepHandle);
      }
    } finally {
      this.#requested -= batch - received;
      if (iterator) this.#fetches.delete(iterator);
    }
    this.#pump();
  }

  /** Reports a failure (once per distinct message) and retries later with backoff. */
  #failed(error: unknown, what: string, keepHandle = false): void {
    const mapped = mapError(this.host.driver, error, what);
    if (mapped.message !== this.#lastFailure) {
      this.#lastFailure = mapped.message;
      this.host.report(mapped);
    }
    this.#backoff(keepHandle);
  }

  /**
   * Pauses pulling for a while, longer after each consecutive failure (the
   * count resets once a pull succeeds), then pulls again, through a new
   * handle unless `keepHandle`.
   */
  #backoff(keepHandle = false): void {
    if (this.#state !== "running" || this.#cancelRetry) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.#failures);
    this.#failures++;
    if (!keepHandle) this.#pull = undefined;
    this.#cancelRetry = this.host.clock.setTimer(() => {
      this.#cancelRetry = undefined;
      this.#pump();
    }, delay);
  }

  /**
   * Ends the pull requests waiting on the server without losing what it
   * sends them meanwhile.
   *
   * - Stopping a fetch unsubscribes its inbox, but the server goes on
   *   routing messages to the request until it notices: it checks a
   *   waiting request's interest only when its delivery loop goes idle, on
   *   a new pull request or on a consumer info request, not per message.
   *   What it routes there is lost until its ack deadline (in the demo
   *   swarm every halted agent stalled a few tasks for the whole 10 s).
   * - So the inbox is drained instead (unsubscribe, then a round trip),
   *   which receives what was sent before the server saw the unsubscribe,
   *   and a consumer info request, sent right behind the unsubscribe, makes
   *   the server drop the requests that lost their interest.
   * - What arrives meanwhile goes to the handler, as any delivery, and
   *   the drain waits for it to settle. (Given back with a NAK instead, it
   *   cost one of the message's attempts, since JetStream counts every
   *   delivery: with `maxDeliver` 1 it was dead-lettered unhandled.) The
   *   pulls are over once every fetch loop ended, so nothing arrives after.
   */
  async #endPulls(): Promise<void> {
    if (this.#fetches.size > 0) {
      await Promise.all([
        ...[...this.#fetches].map(endFetch),
        this.#pull?.info(false).catch(() => undefined),
      ]);
    }
    // Including fetches whose request was being made as the drain began.
    while (this.#loops.size > 0) await Promise.all([...this.#loops]);
  }

  #stopPulling(): void {
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    for (const iterator of this.#fetches) iterator.stop();
  }

  /**
   * Gives a message back at once (it was not handed to the handler), and
   * remembers so, for this delivery not to count as an attempt.
   */
  #release(message: JsMsg): void {
    try {
      this.#released.released(message.info.stream, message.seq);
      message.nak();
    } catch {
      // The connection is gone: the server redelivers after the ack deadline.
    }
  }

  // ---- deliveries ------------------------------------------------------------

  #receive(message: JsMsg): void {
    // While draining, what the pulls still bring is handled (see `#endPulls`).
    if (this.#state === "closed") {
      this.#release(message);
      return;
    }
    const settings = this.host.cachedSettings(this.queue);
    if (!settings) {
      this.#release(message);
      return;
    }
    this.#inFlight++;
    const read = readParked(fromNatsHeaders(message.headers));
    const storedId = natsMsgId(message.headers, settings.stream, message.seq);
    const delivery = this.#delivery(message, settings, read, storedId);
    const owed = this.#owed.get(settings.stream, message.seq, storedId) ?? read.owed;
    if (owed) {
      // Its dead letter was refused before: dead-letter it with that
      // reason and count; its handler does not run again. A parked copy
      // first removes the message it replaces, if a crash left it stored.
      const from = read.parkedFrom;
      const removed = from
        ? this.host.completeDeadLetter(settings.stream, from.seq, from.storedId)
        : Promise.resolve();
      void removed.then(() =>
        delivery
          .owedDeadLetter(owed.reason, owed.deliveries)
          .catch((e: unknown) => this.host.report(toError(e))),
      );
      return;
    }
    if (isExhausted(delivery.deliveryCount, settings.maxDeliver)) {
      // Its last allowed lease expired (a hung handler, a dead consumer):
      // dead-letter it now, never hand it over again.
      delivery
        .exhausted(ackDeadlineReason(settings.ackWaitMs))
        .catch((e: unknown) => this.host.report(toError(e)));
      return;
    }
    const deadQueue = delivery.headers[DeadLetterHeaders.queue];
    const originalSeq = Number(delivery.headers[ORIGINAL_SEQ_HEADER]);
    const originalMsgId =
      delivery.headers[ORIGINAL_STORED_ID_HEADER] ?? delivery.headers[DeadLetterHeaders.msgId];
    if (deadQueue && originalMsgId && Number.isSafeInteger(originalSeq) && originalSeq > 0) {
      void this.host
        .completeDeadLetter(deadQueue, originalSeq, originalMsgId)
        .then(() => invokeHandler(this.handler, delivery, this.#report));
      return;
    }
    queueMicrotask(() => invokeHandler(this.handler, delivery, this.#report));
  }

  readonly #report = (error: Error): void => this.host.report(error);

  /**
   * Wraps a leased message in a delivery settled by the shared rules
   * (`settlement.ts`). The lease is tracked here too: when the ack deadline
   * passes unsettled (a hung handler), JetStream takes the message back, so
   * its slot is freed for the redelivery, as the memory adapter does. A late
   * `ack` still removes the message; a late `nak` does nothing.
   */
  #delivery(
    message: JsMsg,
    settings: QueueSettings,
    read: ReadHeaders,
    storedId: string,
  ): SettlingDelivery {
    const host = this.host;
    const { headers } = read;
    // A parked copy is stored under an id of its own; it stands for the original.
    const msgId = read.owed?.msgId ?? storedId;
    const current = () => host.cachedSettings(settings.name) ?? settings;
    const released = this.#released;
    /** The message left its queue: its releases need no remembering. */
    const gone = () => released.forget(settings.stream, message.seq);
    let leased = true;
    let cancelLease: (() => void) | undefined;

    const endLease = () => {
      cancelLease?.();
      cancelLease = undefined;
      if (!leased) return;
      leased = false;
      this.#slotFreed();
    };
    const holdLease = () => {
      cancelLease?.();
      cancelLease = host.clock.setTimer(() => {
        cancelLease = undefined;
        if (!delivery.settled) endLease();
      }, current().ackWaitMs);
    };
    holdLease();

    /** Runs one settlement on the server, then frees the lease's slot. */
    const settle = (work: () => Promise<void>): Promise<void> => {
      cancelLease?.();
      cancelLease = undefined;
      if (host.isClosed()) {
        endLease();
        return Promise.reject(new ClosedError("the NATS transport"));
      }
      let done: Promise<void>;
      try {
        done = work();
      } catch (error) {
        done = Promise.reject(error);
      }
      return done.then(endLease, (error: unknown) => {
        endLease();
        throw mapError(host.driver, error, `settling a delivery of queue "${settings.name}"`);
      });
    };

    const moved = {
      message,
      settings: current,
      headers,
      msgId,
      storedId,
      stopping: () => this.#state !== "running",
      pause: (ms: number) => this.#pause(ms),
      owed: this.#owed,
    };

    const delivery = createDelivery(
      {
        subject: message.subject,
        data: message.data,
        headers,
        queue: settings.name,
        msgId,
        // Deliveries this transport gave back unhandled are not attempts.
        deliveryCount: released.attempts(settings.stream, message.seq, message.info.deliveryCount),
      },
      {
        leaseHeld: () => leased,
        maxDeliver: () => current().maxDeliver,
        ack: () =>
          settle(async () => {
            const reply = ackSubject(message);
            if (reply === undefined) await message.ackAck();
            else await host.confirmAck(reply, settings.name);
            gone();
          }),
        redeliver: (delayMs) =>
          settle(async () => {
            message.nak(delayMs > 0 ? delayMs : undefined);
            await host.flush();
          }),
        deadLetter: (reason, deliveries) =>
          settle(async () => {
            await moveToDeadLetter(host, moved, reason, deliveries);
            gone();
          }),
        extendLease: () => {
          try {
            message.working();
            holdLease();
          } catch (error) {
            host.report(mapError(host.driver, error, "extending a lease"));
          }
        },
      },
    );
    return delivery;
  }

  /**
   * Waits `ms`, or less when this consumer stops meanwhile: a message held
   * for another attempt at its dead letter is then put back at once, and
   * no timer outlives the consumer.
   */
  #pause(ms: number): Promise<void> {
    if (this.#state !== "running") return Promise.resolve();
    return new Promise((resolve) => {
      let cancel: (() => void) | undefined;
      const wake = () => {
        cancel?.();
        this.#pauses.delete(wake);
        resolve();
      };
      cancel = this.host.clock.setTimer(wake, ms);
      this.#pauses.add(wake);
    });
  }

  #wakePauses(): void {
    for (const wake of [...this.#pauses]) wake();
  }

  #slotFreed(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) this.#wakeIdle();
    this.#pump();
  }

  #idle(): Promise<void> {
    if (this.#inFlight === 0 || this.#state === "closed") return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.host.detached(this);
  }
}

/**
 * Ends a fetch whose request waits on the server without losing what the
 * server sends it meanwhile: drains its inbox subscription, then stops it.
 */
async function endFetch(iterator: FetchIterator): Promise<void> {
  // The driver's fetch iterator keeps its inbox subscription as `sub`
  // (declared on its class, not on the interface); without it, stop.
  const { sub } = iterator as { sub?: { drain(): Promise<void> } };
  await sub?.drain().catch(() => undefined);
  iterator.stop();
}

/** The driver ended a pull after missing its heartbeats: the request died with its server. */
function isMissedHeartbeats(error: unknown): boolean {
  return error instanceof Error && /heartbeats? missed/i.test(error.message);
}
