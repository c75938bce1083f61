/**
 * The dashboard's live stream (Server-Sent Events): what the observing node
 * sees happen — its own events (tasks handled, agents halted) and the
 * swarm's fan-out events on the bus (`llm.call`, `ensemble.decided`, agents
 * joining, auctions) — aggregated on the server so a page receives a few
 * updates per second however busy the swarm is: every `flushMs` a batch of
 * the latest events and the counts by type since the last batch, and every
 * `overviewMs` the overview numbers (computed once for every open page).
 */
import type { ServerResponse } from "node:http";
import { toError } from "../errors/index.js";
import type { SwarmEvent } from "../runtime/events.js";
import { subjects } from "../runtime/subjects.js";
import type { Swarm } from "../runtime/swarm.js";
import { decodeEnvelope } from "../wire/codec.js";

/** One line of the live stream. */
export interface LiveEvent {
  readonly type: string;
  /** `node`: seen by this node; `bus`: a fan-out event of the swarm. */
  readonly source: "node" | "bus";
  readonly at: number;
  readonly from?: string;
  readonly body?: unknown;
}

export interface LiveFeedConfig {
  readonly swarm: Swarm;
  /** The overview pushed to pages every `overviewMs`. */
  readonly overview: () => Promise<unknown>;
  readonly flushMs?: number;
  readonly overviewMs?: number;
  /** Events kept for a page that opens (and sent to it first). */
  readonly keep?: number;
}

/** Events a batch carries at most; the rest are counted. */
const BATCH = 50;

/**
 * Bytes a client may leave unread before it is dropped: a page that stops
 * reading (a laptop asleep with its connection open, a stuck tab) would
 * otherwise have every batch buffered for it for as long as the socket lives.
 * A dropped page's EventSource reconnects and is sent the kept events.
 */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

export class LiveFeed {
  readonly #config: LiveFeedConfig;
  readonly #recent: LiveEvent[] = [];
  readonly #pending: LiveEvent[] = [];
  readonly #counts = new Map<string, number>();
  readonly #clients = new Set<ServerResponse>();
  readonly #stops: (() => void)[] = [];
  /**
   * Whether an overview is being computed: one at a time, sent to every page
   * open when it comes. A slow store otherwise had each tick (and each page
   * that opened) start another read, piling up for as long as it was slow.
   */
  #computing = false;

  constructor(config: LiveFeedConfig) {
    this.#config = config;
  }

  start(): void {
    const { swarm } = this.#config;
    this.#stops.push(swarm.on((event) => this.#push(fromNode(event))));
    const subscription = swarm.transport.subscribe(subjects.event(swarm.name, ">"), (message) => {
      try {
        const e = decodeEnvelope(message.data);
        this.#push({ type: e.type, source: "bus", at: e.ts, from: e.from, body: e.body });
      } catch (error) {
        this.#push({
          type: "unreadable",
          source: "bus",
          at: Date.now(),
          body: toError(error).message,
        });
      }
    });
    this.#stops.push(() => subscription.unsubscribe());
    const flush = setInterval(() => this.#flush(), this.#config.flushMs ?? 250);
    const overview = setInterval(() => void this.#overview(), this.#config.overviewMs ?? 1000);
    flush.unref();
    overview.unref();
    this.#stops.push(
      () => clearInterval(flush),
      () => clearInterval(overview),
    );
  }

  stop(): void {
    for (const stop of this.#stops.splice(0)) stop();
    for (const client of this.#clients) client.end();
    this.#clients.clear();
  }

  /**
   * Opens an SSE stream on `response`: the kept events already sent in a
   * batch first, then batches (the next one brings the events still pending,
   * so a page sees each event once).
   */
  attach(response: ServerResponse): void {
    response.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    response.write(
      `event: events\ndata: ${JSON.stringify({ events: this.#flushed(), counts: {} })}\n\n`,
    );
    this.#clients.add(response);
    response.on("close", () => this.#clients.delete(response));
    // The one being computed, if any, reaches this page too.
    void this.#overview();
  }

  /** The kept events that went out in a batch: all but the pending ones, which end the list. */
  #flushed(): LiveEvent[] {
    return this.#recent.slice(0, Math.max(0, this.#recent.length - this.#pending.length));
  }

  #push(event: LiveEvent): void {
    this.#counts.set(event.type, (this.#counts.get(event.type) ?? 0) + 1);
    this.#pending.push(event);
    if (this.#pending.length > BATCH) this.#pending.shift();
    this.#recent.push(event);
    if (this.#recent.length > (this.#config.keep ?? 200)) this.#recent.shift();
  }

  #flush(): void {
    if (this.#counts.size === 0) return;
    const data = JSON.stringify({
      events: this.#pending.splice(0),
      counts: Object.fromEntries(this.#counts),
    });
    this.#counts.clear();
    for (const client of this.#clients) this.#send(client, `event: events\ndata: ${data}\n\n`);
  }

  /** Writes to `client`, or drops it when what it left unread passed {@link MAX_BACKLOG_BYTES}. */
  #send(client: ServerResponse, chunk: string): void {
    if (client.destroyed || client.writableEnded) return;
    if (client.writableLength > MAX_BACKLOG_BYTES) {
      this.#clients.delete(client);
      client.destroy();
      return;
    }
    client.write(chunk);
  }

  async #overview(): Promise<void> {
    if (this.#computing || this.#clients.size === 0) return;
    this.#computing = true;
    try {
      const data = JSON.stringify(await this.#config.overview());
      for (const client of this.#clients) {
        this.#send(client, `event: overview\ndata: ${data}\n\n`);
      }
    } catch {
      // A store hiccup: the next tick tries again.
    } finally {
      this.#computing = false;
    }
  }
}

/** A node event as a stream line, without the heavy parts (envelopes, errors' stacks). */
function fromNode(event: SwarmEvent): LiveEvent {
  const { type, ...rest } = event as { type: string } & Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined || typeof value === "function") continue;
    body[key] = value instanceof Error ? value.message : value;
  }
  return { type, source: "node", at: Date.now(), body };
}
