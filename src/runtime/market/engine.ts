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
 * 3. when the last round closes the auction clears; whether the payer
 *    (procurement: the auctioneer; sale: the winner) can pay the clearing
 *    price is checked, the auction is recorded in the store once, and a
 *    signed `market.award` is published on `<swarm>.market.award.<auction>`;
 * 4. the task goes to the winner's own durable queue
 *    (`<swarm>.market.task.<winner>.<task>`) carrying the escrow, whose
 *    hold commits with the task in the caller's completion; when the
 *    winner's handler commits, the escrow is released to the payee and the
 *    winner's reputation learns the outcome; a dead-lettered task refunds
 *    the payer and counts as a failure.
 *
 * This file runs the auctioneer's side (steps 1 to 3 up to the clearing, and
 * the queue of tasks allocated by auction); `bidding.ts` is the bidders'
 * side, `awarding.ts` the end of an auction (can the payer pay, record, award),
 * `settlement.ts` what follows the award (the escrow carried by the task,
 * released or refunded, and reputation), `types.ts` the shared shapes,
 * `context.ts` the parts of the node it reads (its `NodeContext`).
 */
import type { KeyObject } from "node:crypto";
import { AuctionTermsError, ClosedError, ConfigError, toError } from "../../errors/index.js";
import { agentAccount } from "../../ledger/index.js";
import {
  type Auction,
  type AuctionResult,
  type AuctionTerms,
  type BidderFacts,
  type BidGate,
  type CfpBody,
  createAuction,
  createBidGate,
  createCfp,
  createRateLimiter,
} from "../../market/index.js";
import type { Consumer, Delivery, Message } from "../../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../../wire/codec.js";
import type { Envelope } from "../../wire/envelope.js";
import type { JsonValue } from "../../wire/json-value.js";
import { verifyEnvelope } from "../../wire/signature.js";
import { escrowOf, settlement } from "../budget.js";
import { keepLease } from "../lease.js";
import { settledBy } from "../outbox.js";
import { subjects, taskName } from "../subjects.js";
import { concludeAuction, fromRecord } from "./awarding.js";
import { BidderSide } from "./bidding.js";
import { isIdle, type MarketContext, ownerOf } from "./context.js";
import { awardedTask, learnFailure, settleCompleted } from "./settlement.js";
import type { AuctionOptions, AuctionWon, AwardedTask } from "./types.js";

export { AuctionHeaders, escrowKey } from "./settlement.js";
export type {
  AuctionOptions,
  AuctionOutcome,
  AuctionWon,
  AwardedTask,
  BidHandler,
  BidOffer,
  BidRequest,
  OutboxDraft,
} from "./types.js";

/** Ack deadline of the auction-request queue: an auction takes rounds, not seconds. */
export const REQUEST_ACK_WAIT_MS = 30_000;

/**
 * Bids per agent in a burst, and per second after it, by default. An honest
 * agent bids once per call for proposals it answers, so the limit is set by
 * how many auctions its role sees at once; it stops a flood, not a busy market.
 */
export const DEFAULT_BID_RATE = Object.freeze({ capacity: 200, refillPerSecond: 100 });

/**
 * The ids the runtime auctions under: one subject token (`<swarm>.market.bid.<id>`)
 * that is also an escrow account name (`escrow:auction-<id>`).
 */
const RUNTIME_AUCTION_ID = /^[A-Za-z0-9_:-]{1,128}$/;

/** How the market is configured, beyond what it reads from its node. */
export interface MarketConfig {
  /** Per-agent bid rate limit (token bucket); default {@link DEFAULT_BID_RATE}. */
  readonly bidRate?: { readonly capacity: number; readonly refillPerSecond: number };
}

/** What {@link MarketEngine.run} is asked to auction. */
export interface AuctionRequest {
  /** The auction id, its idempotency key. */
  readonly id: string;
  readonly auctioneer: string;
  /** Who pays the clearing price in a procurement auction: the auctioneer, or the task's submitter. */
  readonly payer?: string;
  readonly task: string;
  readonly item: unknown;
  readonly options?: AuctionOptions;
  /**
   * Credits the payer gets back in the commit that holds the price (the
   * budget it delegated the auctioned request with): counted toward what
   * it can pay.
   */
  readonly refundable?: number;
}

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
  readonly #node: MarketContext;
  readonly #gate: BidGate;
  readonly #running = new Map<string, Running>();
  /** Auctions being run by `run`, by id: a second call with the same id joins the first. */
  readonly #inFlight = new Map<string, Promise<AuctionWon>>();
  readonly #balances = new Map<string, number>();
  readonly #bidding: BidderSide;
  #subscriptions: { unsubscribe(): void }[] = [];
  #requests: Consumer | undefined;
  #closed = false;
  /** The last opening's turn (see `#turn`). */
  #openings: Promise<void> = Promise.resolve();

  /**
   * `node` is read when used, not here: the node may still be building the
   * parts the market reads.
   */
  constructor(node: MarketContext, config: MarketConfig = {}) {
    this.#node = node;
    this.#bidding = new BidderSide(node);
    this.#gate = createBidGate({
      verify: (envelope) => {
        const key = node.keys.key(envelope.from);
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
      rateLimiter: createRateLimiter(config.bidRate ?? DEFAULT_BID_RATE),
    });
  }

  /**
   * When the last auction local agent `agentId` bid in closes, or undefined
   * when none is open; forgets it (the agent stopped for good, see
   * `handBackAwardedTasks`).
   */
  takeBidsCloseAt(agentId: string): number | undefined {
    return this.#bidding.takeBidsCloseAt(agentId);
  }

  /** Whether tasks of type `task` are allocated by auction (the swarm file says so). */
  isAuctioned(task: string): boolean {
    return this.#node.roles.tasks[task]?.allocation === "auction";
  }

  /** The role a task type is auctioned to. */
  roleOf(task: string): string | undefined {
    return this.#node.roles.tasks[task]?.role;
  }

  /** Listens for calls for proposals and bids. */
  start(): void {
    const node = this.#node;
    const reportError = (e: unknown) =>
      node.events.emit({ type: "error", error: toError(e).message });
    this.#subscriptions.push(
      node.transport.subscribe(subjects.allCfps(node.swarm), (m) => {
        this.#bidding.onCfp(m).catch(reportError);
      }),
      node.transport.subscribe(subjects.allBids(node.swarm), (m) => {
        this.#onBid(m).catch(reportError);
      }),
    );
  }

  /** Starts consuming `queue` (the auction requests) with `handler`. */
  consumeRequests(queue: string, maxInFlight: number): void {
    this.#requests = this.#node.transport.consume(queue, (delivery) => this.#onRequest(delivery), {
      maxInFlight,
    });
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions = [];
    this.#bidding.close();
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
   * again: its recorded outcome comes back; one still running under `id`
   * on this node (a caller that retried before the first call returned) is
   * joined, not run a second time beside it.
   */
  run(request: AuctionRequest): Promise<AuctionWon> {
    const running = this.#inFlight.get(request.id);
    if (running !== undefined) return running;
    const started = this.#runOnce(request).finally(() => {
      if (this.#inFlight.get(request.id) === started) this.#inFlight.delete(request.id);
    });
    this.#inFlight.set(request.id, started);
    return started;
  }

  async #runOnce(request: AuctionRequest): Promise<AuctionWon> {
    const node = this.#node;
    if (typeof request.id !== "string" || !RUNTIME_AUCTION_ID.test(request.id)) {
      // It names the bids' subject and the price's escrow account: with a
      // dot, a space or a '$' no bid would ever reach the auction, or its
      // price could not be held; refused now, not after a round of silence.
      throw new AuctionTermsError(
        "id",
        `must be 1-128 letters, digits, '_', '-' or ':' (it names the auction's subjects and escrow account; a ULID fits), got ${JSON.stringify(request.id)}`,
      );
    }
    const configured = node.roles.tasks[request.task];
    const role = request.options?.role ?? configured?.role ?? node.roles.listing(request.task);
    if (role !== undefined && !node.roles.names.includes(role)) {
      // Nobody could ever bid: refused now, not after a round nobody hears.
      throw new ConfigError(
        `role ${JSON.stringify(role)} is not defined in the swarm, so nobody can bid for "${request.task}"; auction it to one of its roles: ${node.roles.names.join(", ")}`,
      );
    }
    const candidates = role ? node.registry.find({ role }).map((e) => e.card.id) : [];
    // Both reads at once: one wait for the store per auction, not two in a row.
    const [stored, reputationRows] = await Promise.all([
      node.store.getAuction(request.id),
      candidates.length > 0 ? node.store.reputations(candidates) : [],
    ]);
    if (stored) return fromRecord(stored);
    const agent = node.agents.get(request.auctioneer);
    if (!agent) {
      throw new ConfigError(
        `agent "${request.auctioneer}" is not hosted by this node; an auction is run by a local agent`,
      );
    }
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
      // The swarm file's rule-specific settings apply only under their rule
      // (a call may choose another); a call's own are checked as given.
      criteria: pick(
        "criteria",
        rule === "multi-criteria" && base?.criteria?.length ? base.criteria : undefined,
      ),
      roundMs: pick("roundMs", base?.roundMs) ?? 200,
      maxRounds: pick("maxRounds", rule === "english" ? base?.maxRounds : undefined),
      minIncrement: pick("minIncrement", rule === "english" ? base?.minIncrement : undefined),
      startPrice: pick("startPrice", rule === "dutch" ? base?.startPrice : undefined),
      step: pick("step", rule === "dutch" ? base?.step : undefined),
      stepMs: pick("stepMs", rule === "dutch" ? base?.stepMs : undefined),
      item: { task: request.task, role, body: (request.item ?? null) as JsonValue },
    }) as AuctionTerms;
    const reputations = new Map(reputationRows.map((r) => [r.agent, r.score]));
    await this.#turn();
    const now = node.clock.now();
    const auction = createAuction({
      terms,
      opensAt: now,
      gate: this.#gate,
      reputation: (id) => reputations.get(id),
      expectedBidders: this.#expectedBidders(candidates),
    });
    if (this.#closed) throw new ClosedError("the market");
    const result = await new Promise<AuctionResult>((resolve, reject) => {
      const run: Running = {
        auction,
        task: request.task,
        role,
        auctioneer: { id: agent.id, privateKey: agent.signer.privateKey },
        payer: request.payer ?? agent.id,
        startedAt: now,
        balances: this.#balances,
        finish: resolve,
        fail: reject,
      };
      this.#running.set(request.id, run);
      node.events.emit({
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
    return concludeAuction(node, request.id, result, {
      task: request.task,
      auctioneer: agent.id,
      privateKey: agent.signer.privateKey,
      payer: request.payer ?? agent.id,
      startedAt: now,
      ...(request.refundable === undefined ? {} : { refundable: request.refundable }),
    });
  }

  /**
   * The awarded task's envelope, signed by the auctioneer, addressed to the
   * winner and carrying the escrow, plus where it goes, and the price's hold
   * to commit with it. `parent` becomes its cause (and its correlation root).
   */
  awardedTask(
    auctioneer: { readonly id: string; readonly privateKey: KeyObject },
    task: string,
    body: unknown,
    parent: Envelope | undefined,
    won: AuctionWon,
    payer: string,
    deadline?: number,
  ): AwardedTask {
    return awardedTask(this.#node, auctioneer, task, body, parent, won, payer, deadline);
  }

  /**
   * After a local agent committed a task: an awarded one releases its
   * escrow to the payee, and (the first time) the winner's reputation
   * learns a success and how long it took.
   */
  completed(envelope: Envelope, agent: string, firstTime: boolean): Promise<void> {
    return settleCompleted(this.#node, envelope, agent, firstTime);
  }

  /** An awarded task was dead-lettered: its winner failed it (the escrow is refunded by the caller). */
  failed(envelope: Envelope | undefined): Promise<void> {
    return learnFailure(this.#node, envelope);
  }

  // ---- auctioneer side -------------------------------------------------------

  /**
   * Resolves once this node's earlier openings had their turn: auctions open
   * one microtask apart, in call order. Opened together (a burst of callers
   * whose reads came back at once), every call for proposals would be signed
   * before the first is delivered, and on a busy node the first rounds would
   * close before their bids were judged, then the next burst likewise; one
   * at a time, each call reaches its bidders while the next is being opened.
   */
  #turn(): Promise<void> {
    const turn = this.#openings.then(() => undefined);
    this.#openings = turn;
    return turn;
  }

  #publishCfp(run: Running, cfp: CfpBody): void {
    const node = this.#node;
    try {
      const envelope = createCfp(
        cfp,
        { from: run.auctioneer.id, privateKey: run.auctioneer.privateKey },
        { clock: node.clock },
      );
      node.transport.publish(
        subjects.cfp(node.swarm, run.role),
        encodeEnvelope(envelope, { maxBytes: node.limits.maxEnvelopeBytes }),
      );
    } catch (error) {
      node.events.emit({
        type: "error",
        error: `auction ${cfp.auction}: ${toError(error).message}`,
      });
    }
  }

  /**
   * Ticks the auction when its current round closes. A Dutch round closes
   * when its clock expires or `roundMs` runs out, whichever comes first
   * (`closesAt`): no take is accepted after it, so nothing is waited for.
   */
  #schedule(run: Running): void {
    run.cancelTimer?.();
    const at = run.auction.announcement().closesAt;
    const clock = this.#node.clock;
    const delay = Math.max(0, at - clock.now());
    // A long round (roundMs over ~24.8 days) is waited for in timers Node can hold.
    run.cancelTimer = clock.setTimer(() => {
      if (this.#closed) return;
      this.#advance(run, run.auction.tick(clock.now()));
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
    const node = this.#node;
    const id = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const run = this.#running.get(id);
    // Bids to auctions other nodes run travel past this one: not ours to judge.
    if (!run) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: node.limits.maxEnvelopeBytes });
    } catch (error) {
      node.deadLetters.park(message, error);
      return;
    }
    const bidder = envelope.from;
    // The gate is synchronous: a sale reads the bidder's balance before
    // stepping; only a bidder the registry knows (the gate refuses any other
    // as unknown), so made-up senders cost no store read and leave nothing.
    const reads = run.auction.terms.side === "sale" && node.registry.get(bidder) !== undefined;
    if (reads) this.#balances.set(bidder, await node.store.balance(agentAccount(bidder)));
    if (run.auction.status !== "open") {
      if (reads) this.#balances.delete(bidder);
      return;
    }
    let outcome: ReturnType<Auction["step"]>;
    try {
      outcome = run.auction.step(envelope, node.clock.now());
    } finally {
      // Read for this step alone (set, stepped and dropped in one turn).
      if (reads) this.#balances.delete(bidder);
    }
    if (!outcome.accepted) {
      node.events.emit({
        type: "auction.bid_rejected",
        auction: id,
        bidder: String(envelope.from),
        reason: outcome.reason,
        message: outcome.message,
      });
    }
    this.#advance(run, outcome.events);
  }

  // ---- requests (task types allocated by auction) ----------------------------

  /**
   * A task of an auctioned type, submitted by anyone: auctioned here, then
   * sent to the winner (or, unsold, to its role's queue or the dead letters).
   * Acked only once the outcome's messages are committed.
   */
  async #onRequest(delivery: Delivery): Promise<void> {
    const node = this.#node;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(delivery.data, { maxBytes: node.limits.maxEnvelopeBytes });
      node.keys.verify(envelope);
    } catch (error) {
      await delivery.term(`${toError(error).name}: ${toError(error).message}`);
      return;
    }
    const task = taskName(envelope.type);
    const settings = task === undefined ? undefined : node.roles.tasks[task];
    if (task === undefined || !settings) {
      await delivery.term(
        `"${envelope.type}" is not a task type the swarm allocates by auction; declare it under tasks: with allocation: auction`,
      );
      return;
    }
    const taskId = `auction:${envelope.id}`;
    if (await node.store.isCompleted(taskId)) {
      await node.outbox.commit(taskId, envelope.from, {
        effects: [],
        outbox: [],
        settles: settledBy(node.transport, delivery.msgId),
      });
      await delivery.ack();
      return;
    }
    // The submitter runs its own auction when it lives here; any local agent otherwise.
    const auctioneer = node.agents.get(envelope.from) ?? node.agents.first();
    if (!auctioneer) {
      await delivery.nak({ delayMs: 1000, reason: "no local agent to run the auction" });
      return;
    }
    // A request its sender delegated with a budget (`ctx.delegate`) is paid
    // by the auction's price instead: that budget goes back to the sender in
    // the commit that holds the price, so it counts toward what the sender
    // can pay. An escrow the request only carries on from an ancestor's
    // delegation (its delegator is someone else) is that delegation's, left
    // for its audit.
    const carried = escrowOf(envelope);
    const budget = carried?.delegator === envelope.from ? carried : undefined;
    const keepAlive = keepLease(node.clock, delivery, REQUEST_ACK_WAIT_MS);
    try {
      const won = await this.run({
        id: envelope.id,
        auctioneer: auctioneer.id,
        payer: envelope.from,
        task,
        item: envelope.body,
        ...(budget === undefined ? {} : { refundable: budget.amount }),
      });
      let awarded: AwardedTask;
      if (won.outcome.status === "awarded") {
        awarded = this.awardedTask(
          auctioneer.signer,
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
        awarded = {
          draft: {
            // Not the envelope id: the bus saw that id as the request and would drop it as a duplicate.
            id: `unsold-${envelope.id}`,
            mode: "enqueue",
            subject: subjects.task(node.swarm, settings.role, task),
            data: delivery.data,
          },
        };
      }
      // The price's hold commits with the awarded task, or neither does;
      // the request's own budget goes back first, in the same commit, so it
      // can pay toward the price (unsold, the request itself goes on, budget
      // and all).
      const refund =
        won.outcome.status === "awarded" && budget !== undefined
          ? settlement(budget.key, budget.amount, "fail", budget.delegator, node.clock.now())
          : undefined;
      const ledger = [
        ...(refund === undefined ? [] : [refund]),
        ...(awarded.hold === undefined ? [] : [awarded.hold]),
      ];
      await node.outbox.commit(taskId, auctioneer.id, {
        effects: [],
        outbox: [awarded.draft],
        ...(ledger.length === 0 ? {} : { ledger }),
        settles: settledBy(node.transport, delivery.msgId),
      });
      keepAlive();
      await delivery.ack();
    } catch (error) {
      keepAlive();
      const e = toError(error);
      node.events.emit({ type: "error", error: `auctioning ${envelope.id}: ${e.message}` });
      // Bad terms never get better: dead-letter at once; anything else may be passing.
      if (e instanceof AuctionTermsError || e instanceof ConfigError)
        await delivery.term(`${e.name}: ${e.message}`);
      else await delivery.nak({ delayMs: 1000, reason: e.message });
    }
  }

  // ---- facts for the bid gate ------------------------------------------------

  /**
   * Who can answer a call for proposals: the agents of the role the gate
   * would admit now (live, trusted, not halted), less this node's own agents
   * that will not bid (no bid handler, or idle). Once they all answered, a
   * sealed auction closes without waiting for its deadline; an agent that
   * joins the role after the call opened is not waited for.
   */
  #expectedBidders(candidates: readonly string[]): string[] {
    return candidates.filter((id) => {
      const facts = this.#facts(id);
      if (!facts?.live || !facts.trusted || facts.halted) return false;
      const local = this.#node.agents.get(id);
      return local === undefined || (local.bidHandler !== undefined && !isIdle(this.#node, local));
    });
  }

  #facts(id: string): BidderFacts | undefined {
    const node = this.#node;
    const entry = node.registry.get(id);
    if (!entry) return undefined;
    const owner = ownerOf(node, id);
    return {
      live: entry.liveness === "alive",
      trusted: node.keys.key(id) !== undefined && !node.keys.revoked(id),
      halted: entry.card.status === "halted" || node.budgets.isHalted(id),
      publicKey: entry.card.publicKey,
      ...(owner === undefined ? {} : { owner }),
    };
  }
}

function stripUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
