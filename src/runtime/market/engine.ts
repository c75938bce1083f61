/**
 * The contract-net runtime: binds the pure auctions of `src/market` to the
 * bus, the store, the ledger and the clock.
 *
 * An auction runs on the node of its auctioneer:
 *
 * 1. a signed `market.cfp` goes to `<swarm>.market.cfp.<role>`; every node
 *    asks its agents of that role that have a `bid` handler;
 * 2. their signed `market.bid`s come back on `<swarm>.market.bid.<auction>`;
 *    the auction's bid gate checks each (signature, registry, trust, halt,
 *    balance, rate, one per round, shared identities) and refuses the bad
 *    ones with a typed reason;
 * 3. when the last round closes the auction clears; the clearing price is
 *    held in escrow (procurement: from the auctioneer; sale: from the
 *    winner), the auction is recorded in the store once, and a signed
 *    `market.award` is published on `<swarm>.market.award.<auction>`;
 * 4. the task goes to the winner's own durable queue
 *    (`<swarm>.market.task.<winner>.<task>`) carrying the escrow; when the
 *    winner's handler commits, the escrow is released to the payee and the
 *    winner's reputation learns the outcome; a dead-lettered task refunds
 *    the payer and counts as a failure.
 */
import type { KeyObject } from "node:crypto";
import type { TaskTypeConfig } from "../../config/schema.js";
import type { Clock } from "../../core/clock.js";
import {
  AuctionTermsError,
  ClosedError,
  ConclaveError,
  ConfigError,
  toError,
} from "../../errors/index.js";
import { agentAccount } from "../../ledger/index.js";
import {
  type Auction,
  type AuctionResult,
  type AuctionTerms,
  type AwardBody,
  awardBody,
  type BidderFacts,
  type BidGate,
  type CfpBody,
  createAuction,
  createAward,
  createBid,
  createBidGate,
  createCfp,
  createRateLimiter,
  parseCfpBody,
  updateMarketReputation,
} from "../../market/index.js";
import type { RegistryView } from "../../registry/registry-view.js";
import type { AuctionRecord, Store } from "../../store/port.js";
import type { Consumer, Delivery, Message, Transport } from "../../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../../wire/codec.js";
import { createEnvelope, type Envelope } from "../../wire/envelope.js";
import type { JsonValue } from "../../wire/json-value.js";
import { signEnvelope, verifyEnvelope } from "../../wire/signature.js";
import { type Budgets, EscrowHeaders } from "../budget.js";
import type { SwarmEvent } from "../events.js";
import { keepLease } from "../lease.js";
import { subjects, taskName } from "../subjects.js";
import { traceOutgoing } from "../tracing.js";

/** Headers of a task awarded by auction (besides the escrow's). */
export const AuctionHeaders = Object.freeze({
  /** The auction id. */
  auction: "conclave-auction",
  /** Who receives the clearing price when the task completes. */
  payee: "conclave-auction-payee",
  /** When it was awarded, ms since epoch: the start of the latency reputation learns. */
  awardedAt: "conclave-auction-at",
  /** The winner's own estimate of its latency in ms (its `latency_ms` criterion), when it gave one. */
  estimateMs: "conclave-auction-estimate",
});

/** What a bidder is asked: the call for proposals, with the task it is for. */
export interface BidRequest extends CfpBody {
  /** The task type auctioned. */
  readonly task: string;
  /** The role whose agents are bidding. */
  readonly role: string;
  /** The agent that called for proposals. */
  readonly auctioneer: string;
}

/**
 * A bid: the price asked (procurement) or offered (sale), in credits, and
 * the values of the auction's criteria. For a Dutch auction `price` is the
 * bidder's limit: it takes the clock as soon as the clock reaches it.
 */
export interface BidOffer {
  /** Credits asked (procurement) or offered (sale); a whole number. */
  readonly price: number;
  /** The bid's value for each criterion of a multi-criteria auction, by name. */
  readonly criteria?: Readonly<Record<string, number>>;
}

/** Decides an agent's bid on a call for proposals; `undefined`: no bid. */
export type BidHandler = (
  request: BidRequest,
) => BidOffer | undefined | Promise<BidOffer | undefined>;

/** Per-call overrides of a task type's auction settings (or all of them, for a type not configured). */
export type AuctionOptions = Partial<
  Pick<
    AuctionTerms,
    | "rule"
    | "side"
    | "reserve"
    | "criteria"
    | "roundMs"
    | "maxRounds"
    | "minIncrement"
    | "startPrice"
    | "step"
    | "stepMs"
  >
> & {
  /** The role whose agents bid; default: the role the swarm file allocates the task to. */
  readonly role?: string;
};

/** How an auction ended, as its caller sees it. */
export interface AuctionOutcome {
  /** The auction's id. */
  readonly auction: string;
  /** `awarded`: a winner gets the task; `unsold`: nobody (see `reason`). */
  readonly status: "awarded" | "unsold";
  /** The winning agent, when awarded. */
  readonly winner?: string;
  /** Credits the winner is paid (procurement) or pays (sale). */
  readonly price?: number;
  /** Why it went unsold. */
  readonly reason?: string;
  /** Valid bids received. */
  readonly bids: number;
  /** Bids refused by the gate (see `BidRejection` for every reason). */
  readonly rejectedBids: number;
}

/** What the auctioneer's side knows after an auction: enough to send the awarded task. */
export interface AuctionWon {
  readonly outcome: AuctionOutcome;
  readonly side: "sale" | "procurement";
  /** Whether the clearing price is held in escrow (the payer is metered). */
  readonly escrowed: boolean;
  /** The winner's latency estimate, ms, when its bid gave one. */
  readonly estimateMs?: number;
  readonly awardedAt: number;
}

/** A local agent as the market sees it. */
export interface MarketAgent {
  readonly id: string;
  readonly role: string;
  readonly privateKey: KeyObject;
  readonly bid?: BidHandler;
  /** Paused or halted: it does not bid. */
  readonly idle: boolean;
}

/** What the engine needs from its node. */
export interface MarketHost {
  readonly swarm: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly clock: Clock;
  readonly maxEnvelopeBytes: number;
  readonly registry: RegistryView;
  readonly budgets: Budgets;
  /** Task types allocated by auction, from the swarm file. */
  readonly tasks: Readonly<Record<string, TaskTypeConfig>>;
  /** Per-agent bid rate limit (token bucket); default {@link DEFAULT_BID_RATE}. */
  readonly bidRate?: { readonly capacity: number; readonly refillPerSecond: number };
  /** The one role that lists a task type, when exactly one does. */
  roleListing(task: string): string | undefined;
  local(id: string): MarketAgent | undefined;
  /** The local agents of `role` that registered a bid handler. */
  bidders(role: string): readonly MarketAgent[];
  /** Some local agent, to run an auction whose submitter lives elsewhere. */
  anyLocal(): MarketAgent | undefined;
  /** The public key of a trusted agent; undefined when untrusted or unknown. */
  publicKey(id: string): KeyObject | undefined;
  revoked(id: string): boolean;
  /** Who operates an agent, when the swarm file says. */
  owner(id: string): string | undefined;
  /** Throws unless the envelope is signed by its trusted sender. */
  verifySender(envelope: Envelope): void;
  emit(event: SwarmEvent): void;
  park(message: Message, error: unknown): void;
  /** Records `outbox` under `taskId` once and sends it; what `swarm.submit` does. */
  commitAndSend(taskId: string, agent: string, outbox: OutboxDraft[]): Promise<void>;
}

/** A message to commit with an auction's end. */
export interface OutboxDraft {
  readonly id: string;
  readonly mode: "enqueue" | "publish";
  readonly subject: string;
  readonly data: Uint8Array;
}

/** Ack deadline of the auction-request queue: an auction takes rounds, not seconds. */
export const REQUEST_ACK_WAIT_MS = 30_000;

/** Reputation learning rate: the last ~5 contracts dominate. */
const REPUTATION_ALPHA = 0.2;
/**
 * Bids per agent in a burst, and per second after it, by default. An honest
 * agent bids once per call for proposals it answers, so the limit is set by
 * how many auctions its role sees at once; it stops a flood, not a busy market.
 */
export const DEFAULT_BID_RATE = Object.freeze({ capacity: 200, refillPerSecond: 100 });

interface Running {
  readonly auction: Auction;
  readonly task: string;
  readonly role: string;
  readonly auctioneer: { readonly id: string; readonly privateKey: KeyObject };
  readonly payer: string;
  readonly startedAt: number;
  /** Sale bidders' balances, read before their bid is stepped (the gate is synchronous). */
  readonly balances: Map<string, number>;
  cancelTimer?: () => void;
  finish(result: AuctionResult): void;
  fail(error: Error): void;
}

export class MarketEngine {
  readonly #host: MarketHost;
  readonly #gate: BidGate;
  readonly #running = new Map<string, Running>();
  readonly #balances = new Map<string, number>();
  readonly #timers = new Set<() => void>();
  #subscriptions: { unsubscribe(): void }[] = [];
  #requests: Consumer | undefined;
  #closed = false;

  constructor(host: MarketHost) {
    this.#host = host;
    this.#gate = createBidGate({
      verify: (envelope) => {
        const key = host.publicKey(envelope.from);
        if (!key) return false;
        try {
          verifyEnvelope(envelope, key);
          return true;
        } catch {
          return false;
        }
      },
      bidder: (id) => this.#facts(id),
      canAfford: (id, amount) => (this.#balances.get(id) ?? 0) >= amount,
      rateLimiter: createRateLimiter(host.bidRate ?? DEFAULT_BID_RATE),
    });
  }

  /** Whether tasks of type `task` are allocated by auction (the swarm file says so). */
  isAuctioned(task: string): boolean {
    return this.#host.tasks[task]?.allocation === "auction";
  }

  /** The role a task type is auctioned to. */
  roleOf(task: string): string | undefined {
    return this.#host.tasks[task]?.role;
  }

  /** Listens for calls for proposals and bids. */
  start(): void {
    const h = this.#host;
    this.#subscriptions.push(
      h.transport.subscribe(subjects.allCfps(h.swarm), (m) => {
        this.#onCfp(m).catch((e: unknown) => h.emit({ type: "error", error: toError(e).message }));
      }),
      h.transport.subscribe(subjects.allBids(h.swarm), (m) => {
        this.#onBid(m).catch((e: unknown) => h.emit({ type: "error", error: toError(e).message }));
      }),
    );
  }

  /** Starts consuming `queue` (the auction requests) with `handler`. */
  consumeRequests(queue: string, maxInFlight: number): void {
    this.#requests = this.#host.transport.consume(queue, (delivery) => this.#onRequest(delivery), {
      maxInFlight,
    });
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions = [];
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
    // An auction cut short is not recorded: its caller fails, and a request
    // behind it goes back to the queue for another node to auction.
    for (const run of this.#running.values()) {
      run.cancelTimer?.();
      run.fail(new ClosedError("the market"));
    }
    this.#running.clear();
    this.#requests?.close().catch(() => undefined);
  }

  /**
   * Runs one auction as local agent `auctioneer` and resolves with its end.
   * An auction already recorded under `id` (a retried caller) is not run
   * again: its recorded outcome comes back.
   */
  async run(request: {
    readonly id: string;
    readonly auctioneer: string;
    /** Who pays the clearing price in a procurement auction: the auctioneer, or the task's submitter. */
    readonly payer?: string;
    readonly task: string;
    readonly item: unknown;
    readonly options?: AuctionOptions;
  }): Promise<AuctionWon> {
    const h = this.#host;
    const stored = await h.store.getAuction(request.id);
    if (stored) return fromRecord(stored);
    const agent = h.local(request.auctioneer);
    if (!agent) {
      throw new ConfigError(
        `agent "${request.auctioneer}" is not hosted by this node; an auction is run by a local agent`,
      );
    }
    const configured = h.tasks[request.task];
    const role = request.options?.role ?? configured?.role ?? h.roleListing(request.task);
    if (!role) {
      throw new ConfigError(
        `no role is given for auctioning "${request.task}" and not exactly one role lists it; pass { role } or declare it under tasks: in the swarm file`,
      );
    }
    const base = configured?.auction;
    const o = request.options ?? {};
    const pick = <K extends keyof AuctionOptions>(key: K, fallback: AuctionOptions[K]) =>
      o[key] ?? fallback;
    const rule = pick("rule", base?.rule) ?? "vickrey";
    const terms: AuctionTerms = stripUndefined({
      id: request.id,
      rule,
      side: pick("side", base?.side) ?? "procurement",
      reserve: pick("reserve", base?.reserve),
      criteria: pick("criteria", base?.criteria?.length ? base.criteria : undefined),
      roundMs: pick("roundMs", base?.roundMs) ?? 200,
      // Only English auctions have rounds to count; the swarm file's default applies to them alone.
      maxRounds: o.maxRounds ?? (rule === "english" ? base?.maxRounds : undefined),
      minIncrement: pick("minIncrement", base?.minIncrement),
      startPrice: pick("startPrice", base?.startPrice),
      step: pick("step", base?.step),
      stepMs: pick("stepMs", base?.stepMs),
      item: { task: request.task, role, body: (request.item ?? null) as JsonValue },
    }) as AuctionTerms;
    const candidates = h.registry.find({ role }).map((e) => e.card.id);
    const reputations = new Map(
      (await h.store.reputations(candidates)).map((r) => [r.agent, r.score]),
    );
    const now = h.clock.now();
    const auction = createAuction({
      terms,
      opensAt: now,
      gate: this.#gate,
      reputation: (id) => reputations.get(id),
    });
    if (this.#closed) throw new ClosedError("the market");
    const result = await new Promise<AuctionResult>((resolve, reject) => {
      const run: Running = {
        auction,
        task: request.task,
        role,
        auctioneer: { id: agent.id, privateKey: agent.privateKey },
        payer: request.payer ?? agent.id,
        startedAt: now,
        balances: this.#balances,
        finish: resolve,
        fail: reject,
      };
      this.#running.set(request.id, run);
      h.emit({
        type: "auction.opened",
        auction: request.id,
        task: request.task,
        role,
        rule: terms.rule,
        auctioneer: agent.id,
      });
      this.#publishCfp(run, auction.announcement());
      this.#schedule(run);
    });
    this.#running.delete(request.id);
    return this.#conclude(request.id, result, {
      task: request.task,
      auctioneer: agent.id,
      privateKey: agent.privateKey,
      payer: request.payer ?? agent.id,
      startedAt: now,
    });
  }

  /**
   * The awarded task's envelope, signed by the auctioneer, addressed to the
   * winner and carrying the escrow, plus where it goes. `parent` becomes its
   * cause (and its correlation root).
   */
  awardedTask(
    auctioneer: { readonly id: string; readonly privateKey: KeyObject },
    task: string,
    body: unknown,
    parent: Envelope | undefined,
    won: AuctionWon,
    payer: string,
    deadline?: number,
  ): OutboxDraft {
    const { outcome } = won;
    const winner = outcome.winner as string;
    const price = outcome.price ?? 0;
    const side = won.side;
    const payee = side === "sale" ? auctioneer.id : winner;
    const escrowPayer = side === "sale" ? winner : payer;
    const headers: Record<string, string> = {
      [AuctionHeaders.auction]: outcome.auction,
      [AuctionHeaders.payee]: payee,
      [AuctionHeaders.awardedAt]: String(won.awardedAt),
      ...(won.estimateMs === undefined
        ? {}
        : { [AuctionHeaders.estimateMs]: String(won.estimateMs) }),
      ...(price > 0 && won.escrowed
        ? {
            [EscrowHeaders.key]: escrowKey(outcome.auction),
            [EscrowHeaders.amount]: String(price),
            [EscrowHeaders.delegator]: escrowPayer,
          }
        : {}),
    };
    const subject = subjects.awardedTask(this.#host.swarm, winner, task);
    // The awarded task continues the auctioned task's trace.
    const traced = traceOutgoing(this.#host.transport.kind, "enqueue", subject, parent);
    try {
      const envelope = signEnvelope(
        createEnvelope(
          {
            type: `task.${task}`,
            from: auctioneer.id,
            to: winner,
            body: body as never,
            ...(parent ? { corr: parent.corr ?? parent.id, cause: parent.id } : {}),
            ...(deadline === undefined ? {} : { deadline }),
            headers: { ...traced.headers, ...headers },
          },
          { clock: this.#host.clock },
        ),
        auctioneer.privateKey,
      );
      const data = encodeEnvelope(envelope, { maxBytes: this.#host.maxEnvelopeBytes });
      traced.sent(envelope.id);
      return { id: envelope.id, mode: "enqueue", subject, data };
    } catch (error) {
      traced.failed(error);
      throw error;
    }
  }

  /**
   * After a local agent committed a task: an awarded one releases its
   * escrow to the payee, and (the first time) the winner's reputation
   * learns a success and how long it took.
   */
  async completed(envelope: Envelope, agent: string, firstTime: boolean): Promise<void> {
    const h = envelope.headers;
    const auction = h?.[AuctionHeaders.auction];
    if (!h || !auction) return;
    const payee = h[AuctionHeaders.payee];
    const key = h[EscrowHeaders.key];
    const amount = Number(h[EscrowHeaders.amount]);
    if (payee && key && Number.isSafeInteger(amount) && amount > 0) {
      await this.#host.budgets.settle(key, amount, "pass", payee);
    }
    if (!firstTime) return;
    const awardedAt = Number(h[AuctionHeaders.awardedAt]);
    const estimate = Number(h[AuctionHeaders.estimateMs]);
    const latencyMs = Number.isFinite(awardedAt) ? this.#host.clock.now() - awardedAt : undefined;
    await this.#learn(agent, {
      success: true,
      ...(latencyMs === undefined ? {} : { latencyMs }),
      ...(Number.isFinite(estimate) && estimate > 0 ? { estimateMs: estimate } : {}),
    });
  }

  /** An awarded task was dead-lettered: its winner failed it (the escrow is refunded by the caller). */
  async failed(envelope: Envelope | undefined): Promise<void> {
    if (!envelope?.headers?.[AuctionHeaders.auction] || !envelope.to) return;
    await this.#learn(envelope.to, { success: false });
  }

  async #learn(agent: string, observation: Parameters<typeof updateMarketReputation>[1]) {
    await this.#host.store.updateReputation(agent, (previous) =>
      updateMarketReputation(previous, observation, REPUTATION_ALPHA),
    );
  }

  // ---- auctioneer side -------------------------------------------------------

  #publishCfp(run: Running, cfp: CfpBody): void {
    const h = this.#host;
    try {
      const envelope = createCfp(
        cfp,
        { from: run.auctioneer.id, privateKey: run.auctioneer.privateKey },
        { clock: h.clock },
      );
      h.transport.publish(
        subjects.cfp(h.swarm, run.role),
        encodeEnvelope(envelope, { maxBytes: h.maxEnvelopeBytes }),
      );
    } catch (error) {
      h.emit({ type: "error", error: `auction ${cfp.auction}: ${toError(error).message}` });
    }
  }

  /** Ticks the auction when its current round closes (a Dutch clock: when it expires). */
  #schedule(run: Running): void {
    run.cancelTimer?.();
    const cfp = run.auction.announcement();
    const at = Math.max(cfp.closesAt, cfp.clock?.expiresAt ?? 0);
    const delay = Math.max(0, at - this.#host.clock.now());
    run.cancelTimer = this.#host.clock.setTimer(() => {
      if (this.#closed) return;
      this.#advance(run, run.auction.tick(this.#host.clock.now()));
      if (run.auction.status === "open") this.#schedule(run);
    }, delay + 1);
  }

  #advance(run: Running, events: readonly { kind: string }[]): void {
    for (const event of events as ReturnType<Auction["tick"]>) {
      if (event.kind === "round-opened") {
        this.#publishCfp(run, event.cfp);
        this.#schedule(run);
      }
    }
    const result = run.auction.result();
    if (result) {
      run.cancelTimer?.();
      run.finish(result);
    }
  }

  async #onBid(message: Message): Promise<void> {
    const h = this.#host;
    const id = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const run = this.#running.get(id);
    // Bids to auctions other nodes run travel past this one: not ours to judge.
    if (!run) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: h.maxEnvelopeBytes });
    } catch (error) {
      h.park(message, error);
      return;
    }
    if (run.auction.terms.side === "sale" && typeof envelope.from === "string") {
      // The gate is synchronous: read the bidder's balance before stepping.
      this.#balances.set(envelope.from, await h.store.balance(agentAccount(envelope.from)));
    }
    if (run.auction.status !== "open") return;
    const outcome = run.auction.step(envelope, h.clock.now());
    if (!outcome.accepted) {
      h.emit({
        type: "auction.bid_rejected",
        auction: id,
        bidder: String(envelope.from),
        reason: outcome.reason,
        message: outcome.message,
      });
    }
    this.#advance(run, outcome.events);
  }

  /** Holds the price, records the auction once, publishes the award. */
  async #conclude(
    id: string,
    result: AuctionResult,
    who: {
      task: string;
      auctioneer: string;
      privateKey: KeyObject;
      payer: string;
      startedAt: number;
    },
  ): Promise<AuctionWon> {
    const h = this.#host;
    let status: "awarded" | "unsold" = result.status;
    let escrowed = false;
    let reason: string | undefined = result.status === "unsold" ? result.reason : undefined;
    if (result.status === "awarded" && result.award.price > 0) {
      const payer = result.side === "sale" ? result.award.winner : who.payer;
      const metered = h.budgets.has(payer) || (await h.store.balance(agentAccount(payer))) > 0;
      if (metered) {
        try {
          await h.budgets.hold(payer, escrowKey(id), result.award.price);
          escrowed = true;
        } catch (error) {
          status = "unsold";
          reason = `${payer} cannot pay ${result.award.price}: ${toError(error).message}`;
        }
      }
    }
    const award = result.status === "awarded" && status === "awarded" ? result.award : undefined;
    const estimate = award?.bid.criteria?.["latency_ms"];
    const record: AuctionRecord = {
      id,
      auctioneer: who.auctioneer,
      task: who.task,
      rule: result.rule,
      status,
      ...(award ? { winner: award.winner, price: award.price } : {}),
      bids: result.bids.length,
      rejectedBids: result.rejected.length + result.rejectedDropped,
      record: {
        side: result.side,
        terms: result.terms,
        rounds: result.rounds,
        endedAt: result.endedAt,
        escrowed,
        ...(reason === undefined ? {} : { reason }),
        bids: result.bids.map((b) => ({
          bidder: b.bidder,
          round: b.round,
          price: b.price,
          ...(b.criteria ? { criteria: b.criteria } : {}),
          envelope: b.envelope.id,
        })),
        rejected: result.rejected.map((r) => ({
          bidder: String(r.envelope.from),
          reason: r.reason,
          message: r.message,
          envelope: r.envelope.id,
        })),
        identityConflicts: result.identityConflicts,
        ...(award
          ? {
              award: {
                winner: award.winner,
                price: award.price,
                effectivePrice: award.effectivePrice,
                round: award.round,
                // The signed winning bid, so anyone can check the winner asked for it.
                bid: award.bid.envelope,
                ...(award.scores ? { scores: award.scores } : {}),
                ...(award.runnerUp ? { runnerUp: award.runnerUp } : {}),
              },
            }
          : {}),
      },
      at: h.clock.now(),
    };
    const { stored } = await h.store.saveAuction(record);
    try {
      // Cleared but unpaid is the one end the rules cannot report themselves.
      const body: AwardBody =
        result.status === "awarded" && !award
          ? {
              auction: id,
              rule: result.rule,
              side: result.side,
              round: result.award.round,
              outcome: "unsold",
              reason: "unpaid",
            }
          : awardBody(result);
      const envelope = createAward(
        body,
        { from: who.auctioneer, privateKey: who.privateKey },
        { clock: h.clock },
      );
      h.transport.publish(
        subjects.award(h.swarm, id),
        encodeEnvelope(envelope, { maxBytes: h.maxEnvelopeBytes }),
      );
    } catch (error) {
      h.emit({ type: "error", error: `publishing award of ${id}: ${toError(error).message}` });
    }
    const outcome = fromRecord(stored);
    h.emit({
      type: "auction.closed",
      auction: id,
      task: who.task,
      outcome: outcome.outcome.status,
      ...(outcome.outcome.winner ? { winner: outcome.outcome.winner } : {}),
      ...(outcome.outcome.price === undefined ? {} : { price: outcome.outcome.price }),
      ...(outcome.outcome.reason ? { reason: outcome.outcome.reason } : {}),
      bids: stored.bids,
      rejectedBids: stored.rejectedBids,
      durationMs: Math.max(0, h.clock.now() - who.startedAt),
    });
    return {
      ...outcome,
      ...(typeof estimate === "number" && estimate > 0 ? { estimateMs: estimate } : {}),
    };
  }

  // ---- requests (task types allocated by auction) ----------------------------

  /**
   * A task of an auctioned type, submitted by anyone: auctioned here, then
   * sent to the winner (or, unsold, to its role's queue or the dead letters).
   * Acked only once the outcome's messages are committed.
   */
  async #onRequest(delivery: Delivery): Promise<void> {
    const h = this.#host;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(delivery.data, { maxBytes: h.maxEnvelopeBytes });
      h.verifySender(envelope);
    } catch (error) {
      await delivery.term(`${toError(error).name}: ${toError(error).message}`);
      return;
    }
    const task = taskName(envelope.type);
    const settings = task === undefined ? undefined : h.tasks[task];
    if (task === undefined || !settings) {
      await delivery.term(
        `"${envelope.type}" is not a task type the swarm allocates by auction; declare it under tasks: with allocation: auction`,
      );
      return;
    }
    const taskId = `auction:${envelope.id}`;
    if (await h.store.isCompleted(taskId)) {
      await h.commitAndSend(taskId, envelope.from, []);
      await delivery.ack();
      return;
    }
    // The submitter runs its own auction when it lives here; any local agent otherwise.
    const auctioneer = h.local(envelope.from) ?? h.anyLocal();
    if (!auctioneer) {
      await delivery.nak({ delayMs: 1000, reason: "no local agent to run the auction" });
      return;
    }
    const keepAlive = keepLease(h.clock, delivery, REQUEST_ACK_WAIT_MS);
    try {
      const won = await this.run({
        id: envelope.id,
        auctioneer: auctioneer.id,
        payer: envelope.from,
        task,
        item: envelope.body,
      });
      let draft: OutboxDraft;
      if (won.outcome.status === "awarded") {
        draft = this.awardedTask(
          auctioneer,
          task,
          envelope.body,
          envelope,
          won,
          envelope.from,
          envelope.deadline,
        );
      } else if (settings.auction?.onUnsold === "dead-letter") {
        keepAlive();
        await delivery.term(`unsold at auction ${envelope.id}: ${won.outcome.reason ?? "no bids"}`);
        return;
      } else {
        // Unsold: the task goes to its role's queue as if never auctioned, same envelope.
        draft = {
          // Not the envelope id: the bus saw that id as the request and would drop it as a duplicate.
          id: `unsold-${envelope.id}`,
          mode: "enqueue",
          subject: subjects.task(h.swarm, settings.role, task),
          data: delivery.data,
        };
      }
      await h.commitAndSend(taskId, auctioneer.id, [draft]);
      keepAlive();
      await delivery.ack();
    } catch (error) {
      keepAlive();
      const e = toError(error);
      h.emit({ type: "error", error: `auctioning ${envelope.id}: ${e.message}` });
      // Bad terms never get better: dead-letter at once; anything else may be passing.
      if (e instanceof AuctionTermsError || e instanceof ConfigError)
        await delivery.term(`${e.name}: ${e.message}`);
      else await delivery.nak({ delayMs: 1000, reason: e.message });
    }
  }

  // ---- bidder side -----------------------------------------------------------

  async #onCfp(message: Message): Promise<void> {
    const h = this.#host;
    const role = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const bidders = h.bidders(role).filter((a) => !a.idle);
    if (bidders.length === 0) return;
    let envelope: Envelope;
    let cfp: CfpBody;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: h.maxEnvelopeBytes });
      h.verifySender(envelope);
      const parsed = parseCfpBody(envelope.body);
      if (typeof parsed === "string") {
        throw new ConclaveError("E_INVALID_ENVELOPE", `call for proposals: ${parsed}`);
      }
      cfp = parsed;
    } catch (error) {
      h.park(message, error);
      return;
    }
    const item = (cfp.item ?? {}) as { task?: string; role?: string; body?: unknown };
    const request: BidRequest = {
      ...cfp,
      task: item.task ?? "",
      role,
      auctioneer: envelope.from,
    };
    await Promise.all(bidders.map((agent) => this.#bid(agent, request)));
  }

  async #bid(agent: MarketAgent, request: BidRequest): Promise<void> {
    const h = this.#host;
    let offer: BidOffer | undefined;
    try {
      offer = await agent.bid?.(request);
    } catch (error) {
      h.emit({
        type: "error",
        error: `bid handler of ${agent.id} failed on auction ${request.auction}: ${toError(error).message}`,
      });
      return;
    }
    if (!offer || this.#closed) return;
    const send = (price: number, take?: boolean) => {
      try {
        const bid = createBid(
          {
            auction: request.auction,
            round: request.round,
            from: agent.id,
            to: request.auctioneer,
            price,
            ...(offer.criteria ? { criteria: offer.criteria } : {}),
            ...(take ? { take } : {}),
            privateKey: agent.privateKey,
          },
          { clock: h.clock },
        );
        h.transport.publish(
          subjects.bid(h.swarm, request.auction),
          encodeEnvelope(bid, { maxBytes: h.maxEnvelopeBytes }),
        );
      } catch (error) {
        h.emit({
          type: "error",
          error: `bid of ${agent.id} on auction ${request.auction}: ${toError(error).message}`,
        });
      }
    };
    const clock = request.clock;
    if (request.rule !== "dutch" || !clock) {
      send(offer.price);
      return;
    }
    // Dutch: take the clock the moment it reaches the bidder's limit.
    const steps =
      request.side === "sale"
        ? Math.ceil((clock.startPrice - offer.price) / clock.step)
        : Math.ceil((offer.price - clock.startPrice) / clock.step);
    const at = request.opensAt + Math.max(0, steps) * clock.stepMs;
    if (at >= clock.expiresAt) return;
    const price =
      request.side === "sale"
        ? clock.startPrice - Math.max(0, steps) * clock.step
        : clock.startPrice + Math.max(0, steps) * clock.step;
    const cancel = h.clock.setTimer(
      () => {
        this.#timers.delete(cancel);
        if (!this.#closed) send(price, true);
      },
      Math.max(0, at - h.clock.now()),
    );
    this.#timers.add(cancel);
  }

  // ---- facts for the bid gate ------------------------------------------------

  #facts(id: string): BidderFacts | undefined {
    const h = this.#host;
    const entry = h.registry.get(id);
    if (!entry) return undefined;
    const owner = h.owner(id);
    return {
      live: entry.liveness === "alive",
      trusted: h.publicKey(id) !== undefined && !h.revoked(id),
      halted: entry.card.status === "halted" || h.budgets.isHalted(id),
      publicKey: entry.card.publicKey,
      ...(owner === undefined ? {} : { owner }),
    };
  }
}

/** The escrow account key of an auction's clearing price. */
export const escrowKey = (auction: string) => `auction-${auction}`;

/** The outcome as recorded: what a retried caller gets back instead of a second auction. */
function fromRecord(record: AuctionRecord): AuctionWon {
  const detail = record.record as {
    reason?: string;
    side?: string;
    escrowed?: boolean;
    award?: { bid?: Envelope };
  } | null;
  const estimate = (detail?.award?.bid?.body as { criteria?: { latency_ms?: unknown } } | undefined)
    ?.criteria?.latency_ms;
  return {
    outcome: {
      auction: record.id,
      status: record.status,
      ...(record.winner === undefined ? {} : { winner: record.winner }),
      ...(record.price === undefined ? {} : { price: record.price }),
      ...(detail?.reason === undefined ? {} : { reason: detail.reason }),
      bids: record.bids,
      rejectedBids: record.rejectedBids,
    },
    side: detail?.side === "sale" ? "sale" : "procurement",
    escrowed: detail?.escrowed === true,
    ...(typeof estimate === "number" && estimate > 0 ? { estimateMs: estimate } : {}),
    awardedAt: record.at,
  };
}

function stripUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
