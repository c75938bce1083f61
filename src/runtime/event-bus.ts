import type { Envelope } from "../wire/envelope.js";
import { ulid } from "../wire/ulid.js";
import {
  type EventHandler,
  EventSubscription,
  type SubscribeOptions,
  VECTOR_CLOCK_FROM_HEADER,
  VECTOR_CLOCK_HEADER,
} from "./event-subscription.js";
import { signedMessage } from "./messages.js";
import type { LocalAgent, NodeContext } from "./node-context.js";
import { subjects } from "./subjects.js";

/** Options of {@link EventBus.publish}. */
export interface PublishOptions {
  /** The conversation this event belongs to; give its place in it with `seq`. */
  readonly conv?: string;
  /** The event's place in `conv`, from 0: what a subscriber ordering by conversation orders by. */
  readonly seq?: number;
  /** Carry a vector clock, so causal subscribers never see this event before what it follows. */
  readonly causal?: boolean;
}

/**
 * Fan-out events (`<swarm>.event.<type>`) for the agents of one node:
 * signed publication, and subscriptions with opt-in ordering. For causal
 * order, a published event carries the vector clock of what this node's
 * causal subscriptions had delivered when it was sent.
 */
export class EventBus {
  readonly #node: NodeContext;
  readonly #subscriptions = new Set<EventSubscription>();
  /** Causally ordered events sent per local agent, for their vector clocks. */
  readonly #causalSent = new Map<string, number>();
  /** What closed causal subscriptions had delivered: still seen by this node's agents. */
  readonly #retired = new Map<string, number>();
  /**
   * This start of the node: an agent's causal events are counted from 1 under
   * `<agent id>@<incarnation>`, so that subscribers which delivered what it
   * sent before a restart do not take the new ones for repeats.
   */
  readonly #incarnation: string;

  constructor(node: NodeContext) {
    this.#node = node;
    this.#incarnation = ulid(node.clock);
  }

  /** Publishes an event signed as `agent`; at most once, to whoever listens now. Returns its id. */
  publish(agent: LocalAgent, type: string, body: unknown, options: PublishOptions = {}): string {
    const { clock, limits, swarm, transport } = this.#node;
    const headers: Record<string, string> = {};
    if (options.causal) {
      const vector: Record<string, number> = Object.fromEntries(this.#retired);
      for (const sub of this.#subscriptions) {
        for (const [node, n] of Object.entries(sub.delivered() ?? {})) {
          vector[node] = Math.max(vector[node] ?? 0, n);
        }
      }
      const sent = (this.#causalSent.get(agent.id) ?? 0) + 1;
      this.#causalSent.set(agent.id, sent);
      const self = `${agent.id}@${this.#incarnation}`;
      vector[self] = sent;
      headers[VECTOR_CLOCK_HEADER] = JSON.stringify(latestIncarnations(vector));
      headers[VECTOR_CLOCK_FROM_HEADER] = self;
    }
    const { envelope, entry } = signedMessage(
      { swarm, clock, maxEnvelopeBytes: limits.maxEnvelopeBytes, transportKind: transport.kind },
      agent.signer,
      {
        mode: "publish",
        subject: subjects.event(swarm, type),
        type,
        body,
        options: {
          ...(options.conv === undefined ? {} : { conv: options.conv }),
          ...(options.seq === undefined ? {} : { seq: options.seq }),
        },
      },
    );
    transport.publish(entry.subject, entry.data, { headers });
    return envelope.id;
  }

  /** Subscribes to events whose type matches `type` (wildcards allowed). */
  subscribe<TBody = unknown>(
    type: string,
    handler: EventHandler<TBody>,
    options: SubscribeOptions = {},
  ): { unsubscribe(): void } {
    const sub = new EventSubscription(
      this.#node,
      subjects.event(this.#node.swarm, type),
      handler as (event: Envelope) => void | Promise<void>,
      options,
    );
    this.#subscriptions.add(sub);
    return {
      unsubscribe: () => {
        if (!this.#subscriptions.delete(sub)) return;
        sub.close();
        for (const [node, n] of Object.entries(sub.delivered() ?? {})) {
          this.#retired.set(node, Math.max(this.#retired.get(node) ?? 0, n));
        }
      },
    };
  }

  close(): void {
    for (const sub of this.#subscriptions) sub.close();
    this.#subscriptions.clear();
  }
}

/**
 * The clock with one entry per agent: its latest incarnation's (incarnations
 * are ULIDs, so the greatest is the newest). An agent's earlier starts sent
 * their events before this one began; without this, every restart of every
 * publisher would add an entry to the header for good.
 */
function latestIncarnations(vector: Record<string, number>): Record<string, number> {
  const latest = new Map<string, string>();
  for (const key of Object.keys(vector)) {
    const at = key.lastIndexOf("@");
    const agent = at < 0 ? key : key.slice(0, at);
    const known = latest.get(agent);
    if (known === undefined || key > known) latest.set(agent, key);
  }
  if (latest.size === Object.keys(vector).length) return vector;
  const out: Record<string, number> = {};
  for (const key of latest.values()) out[key] = vector[key] as number;
  return out;
}
