/**
 * The bidder's side of contract-net on one node: a call for proposals for a
 * role reaches the node's agents of that role that have a `bid` handler;
 * each answers with a signed `market.bid`, and in a Dutch auction takes the
 * clock the moment it reaches the agent's limit.
 */
import { ConclaveError, toError } from "../../errors/index.js";
import { type CfpBody, createBid, parseCfpBody } from "../../market/index.js";
import type { Message } from "../../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../../wire/codec.js";
import type { Envelope } from "../../wire/envelope.js";
import type { LocalAgent } from "../node-context.js";
import { subjects } from "../subjects.js";
import { localBidders, type MarketContext } from "./context.js";
import type { BidOffer, BidRequest } from "./types.js";

/** Answers calls for proposals with the local agents' bids. */
export class BidderSide {
  readonly #node: MarketContext;
  readonly #timers = new Set<() => void>();
  /** When the latest auction each local agent bid in closes: its award may come until then. */
  readonly #bidsCloseAt = new Map<string, number>();
  #closed = false;

  constructor(node: MarketContext) {
    this.#node = node;
  }

  /** Stops bidding: Dutch takes not yet due are cancelled, handlers still running bid nothing. */
  close(): void {
    this.#closed = true;
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
  }

  /**
   * When the last auction `agentId` bid in closes (its award, if it won,
   * comes then), or undefined when it bid in none still open; forgets it.
   * For handing back what an agent that stopped for good still wins.
   */
  takeBidsCloseAt(agentId: string): number | undefined {
    const at = this.#bidsCloseAt.get(agentId);
    this.#bidsCloseAt.delete(agentId);
    return at === undefined || at < this.#node.clock.now() ? undefined : at;
  }

  /** A call for proposals arrived on `<swarm>.market.cfp.<role>`. */
  async onCfp(message: Message): Promise<void> {
    const node = this.#node;
    const role = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const bidders = localBidders(node, role);
    if (bidders.length === 0) return;
    let envelope: Envelope;
    let cfp: CfpBody;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: node.limits.maxEnvelopeBytes });
      node.keys.verify(envelope);
      const parsed = parseCfpBody(envelope.body);
      if (typeof parsed === "string") {
        throw new ConclaveError("E_INVALID_ENVELOPE", `call for proposals: ${parsed}`);
      }
      cfp = parsed;
    } catch (error) {
      node.deadLetters.park(message, error);
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

  async #bid(agent: LocalAgent, request: BidRequest): Promise<void> {
    const node = this.#node;
    let offer: BidOffer | undefined;
    try {
      offer = await agent.bidHandler?.(request);
    } catch (error) {
      node.events.emit({
        type: "error",
        error: `bid handler of ${agent.id} failed on auction ${request.auction}: ${toError(error).message}`,
      });
      return;
    }
    // Stopped for good while its handler ran (no longer hosted here): its
    // award queue is being handed back, so it bids no more.
    if (!offer || this.#closed || node.agents.get(agent.id) !== agent) return;
    const send = (price: number, take?: boolean) => {
      // A Dutch take is sent later, from a timer: the agent may have stopped for good since.
      if (node.agents.get(agent.id) !== agent) return;
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
            privateKey: agent.signer.privateKey,
          },
          { clock: node.clock },
        );
        node.transport.publish(
          subjects.bid(node.swarm, request.auction),
          encodeEnvelope(bid, { maxBytes: node.limits.maxEnvelopeBytes }),
        );
        const latest = this.#bidsCloseAt.get(agent.id);
        if (latest === undefined || latest < request.closesAt) {
          this.#bidsCloseAt.set(agent.id, request.closesAt);
        }
      } catch (error) {
        node.events.emit({
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
    // The round closes when the clock expires or its roundMs runs out, the
    // earlier of the two (`closesAt`): a take timed after it would be late.
    if (at >= Math.min(clock.expiresAt, request.closesAt)) return;
    const price =
      request.side === "sale"
        ? clock.startPrice - Math.max(0, steps) * clock.step
        : clock.startPrice + Math.max(0, steps) * clock.step;
    const cancel = node.clock.setTimer(
      () => {
        this.#timers.delete(cancel);
        if (!this.#closed) send(price, true);
      },
      Math.max(0, at - node.clock.now()),
    );
    this.#timers.add(cancel);
  }
}
