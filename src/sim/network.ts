import { type Random, seededRandom } from "../core/random.js";
import { ConfigError } from "../errors/index.js";
import { EventQueue } from "./event-queue.js";
import { type LatencyModel, type LatencySampler, latencySampler } from "./latency.js";
import { BROADCAST, type SimNode, type SimOutput } from "./node.js";
import { deriveSeed } from "./seed.js";

/** Why the network lost a message. */
export type SimDropReason =
  /** The drop probability struck. */
  | "loss"
  /** A partition separates sender and receiver, at sending or at arrival. */
  | "partition"
  /** The receiver was crashed when the message arrived. */
  | "crashed"
  /** No node with that id is registered. */
  | "unknown-recipient"
  /** The filter set with {@link SimNetwork.filter} refused it. */
  | "filtered";

/**
 * One thing that happened in a run, in order. Two runs with the same seed,
 * nodes and actions produce the same sequence of events.
 */
export type SimTraceEvent<M> =
  | {
      readonly kind: "send" | "deliver" | "duplicate";
      readonly at: number;
      readonly from: string;
      readonly to: string;
      readonly message: M;
    }
  | {
      readonly kind: "drop";
      readonly at: number;
      readonly from: string;
      readonly to: string;
      readonly message: M;
      readonly reason: SimDropReason;
    }
  | { readonly kind: "tick"; readonly at: number }
  | { readonly kind: "crash" | "restart"; readonly at: number; readonly node: string }
  | {
      readonly kind: "partition";
      readonly at: number;
      readonly a: readonly string[];
      readonly b: readonly string[];
    }
  | { readonly kind: "heal"; readonly at: number };

/** Construction-time settings of {@link createSimNetwork}. */
export interface SimNetworkConfig<M> {
  /** Seed of every draw the network makes (latency, loss, duplication). */
  readonly seed: number;
  /** Message latency; default `{ kind: "fixed", ms: 1 }`. */
  readonly latency?: LatencyModel;
  /**
   * Every `tickMs` virtual ms, each live node's `tick` is called (in
   * registration order). Default 10; 0 turns ticks off.
   */
  readonly tickMs?: number;
  /** Probability in [0, 1] that a message is lost. Default 0. */
  readonly drop?: number;
  /** Probability in [0, 1] that a message is delivered twice (independent latencies). Default 0. */
  readonly duplicate?: number;
  /** Virtual time the run starts at, in ms. Default 0. */
  readonly startMs?: number;
  /** Called for every event, in order: for traces and debugging. Costs an object per event. */
  readonly trace?: (event: SimTraceEvent<M>) => void;
}

/** When {@link SimNetwork.run} stops. */
export interface SimRunOptions<M> {
  /**
   * A virtual time in ms (every event due at or before it is processed, then
   * the clock is set to it), or a condition checked after every event.
   * Without it the run goes until no event is left; with ticks on, that is
   * never, so give a time or `maxEvents`.
   */
  readonly until?: number | ((network: SimNetwork<M>) => boolean);
  /** Stop a condition-bounded run once virtual time would pass this. */
  readonly maxTimeMs?: number;
  /** Safety net against livelock. Default 10,000,000. */
  readonly maxEvents?: number;
}

/** How a run ended. */
export interface SimRunResult {
  readonly reason: "until" | "condition" | "idle" | "max-events" | "max-time";
  /** Virtual time at the end of the run. */
  readonly now: number;
  /** Events processed by this call. */
  readonly events: number;
}

/** Counters over the network's life. */
export interface SimStats {
  /** Messages handed to the network (each recipient of a broadcast counts once). */
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  ticks: number;
  events: number;
}

/**
 * A deterministic, single-threaded simulated network with a virtual clock.
 * Nodes are pure state machines ({@link SimNode}); the network delivers their
 * messages after a sampled latency and can lose, duplicate, delay and reorder
 * them, partition the nodes, and crash and restart them. Everything random
 * comes from the seed, so a run replays exactly.
 */
export interface SimNetwork<M> {
  /** Virtual time in ms. */
  readonly now: number;
  readonly stats: Readonly<SimStats>;
  /** Ids of the registered nodes, in registration order. */
  readonly ids: readonly string[];
  /** A generator derived from the network's seed and `label`, independent of the network's own draws. */
  fork(label: string): Random & { int(maxExclusive: number): number };

  /** Registers a node. @throws ConfigError if the id is taken or is `"*"`. */
  add(node: SimNode<M>): void;
  /** The node registered under `id` (the current one after a restart with a fresh node). */
  node(id: string): SimNode<M> | undefined;

  /** Sends `message` now as if `from` had sent it, through every fault the network applies. */
  send(from: string, to: string, message: M): void;
  /** Runs `action` at virtual time `atMs` (e.g. to crash a node mid-run). */
  at(atMs: number, action: (network: SimNetwork<M>) => void): void;

  /** Sets the probability that a message is lost. */
  drop(probability: number): void;
  /** Sets the probability that a message is delivered twice. */
  duplicate(probability: number): void;
  /** Replaces the latency model for messages sent from now on. */
  latency(model: LatencyModel): void;
  /**
   * Cuts every link between group `a` and group `b` (both directions); `b`
   * defaults to every other registered node. Partitions add up until
   * {@link heal}. Messages already in flight across the cut are lost when they
   * arrive.
   */
  partition(a: Iterable<string>, b?: Iterable<string>): void;
  /**
   * Drops every message for which `keep(message, from, to)` returns false,
   * at sending (e.g. "lose every commit of view 0"); `undefined` removes the
   * filter. Filtered messages are dropped before any random draw, so a filter
   * changes which draws the remaining messages get.
   */
  filter(keep: ((message: M, from: string, to: string) => boolean) | undefined): void;
  /** Cuts `id` off from every other node. */
  isolate(id: string): void;
  /** Removes every partition. */
  heal(): void;
  /**
   * Stops a node: it is not stepped or ticked, and messages arriving for it are
   * lost. Messages it sent before crashing are still in flight and arrive.
   */
  crash(id: string): void;
  /**
   * Starts a crashed node again: with the state it had (a pause), or with a
   * `fresh` node (a crash that lost its memory), which must carry the same id.
   */
  restart(id: string, fresh?: SimNode<M>): void;
  isCrashed(id: string): boolean;

  /** Processes events in time order until the stop condition. */
  run(options?: SimRunOptions<M>): SimRunResult;
}

const DELIVER = 0;
const TICK = 1;
const ACTION = 2;

type Action<M> = (network: SimNetwork<M>) => void;

/**
 * Creates a simulated network. See {@link SimNetwork}.
 *
 * @throws ConfigError on a negative `tickMs`, a probability outside [0, 1], or a bad latency model.
 *
 * @example
 * ```ts
 * const net = createSimNetwork<string>({ seed: 42, latency: { kind: "uniform", minMs: 1, maxMs: 20 } });
 * net.add({ id: "a", step: () => undefined });
 * net.add({ id: "b", step: (m, now, from) => ({ send: [{ to: from, message: `re: ${m}` }] }) });
 * net.send("a", "b", "hello");
 * net.run({ until: 100 });
 * ```
 */
export function createSimNetwork<M>(config: SimNetworkConfig<M>): SimNetwork<M> {
  return new SimNetworkImpl<M>(config);
}

class SimNetworkImpl<M> implements SimNetwork<M> {
  readonly #seed: number;
  readonly #random: Random;
  #sample: LatencySampler;
  #dropRate = 0;
  #duplicateRate = 0;
  readonly #tickMs: number;
  readonly #trace: ((event: SimTraceEvent<M>) => void) | undefined;
  readonly #queue = new EventQueue<M | Action<M>>();
  readonly #index = new Map<string, number>();
  readonly #ids: string[] = [];
  readonly #nodes: SimNode<M>[] = [];
  #crashed = new Uint8Array(64);
  #partitions: Uint8Array[] = [];
  #keep: ((message: M, from: string, to: string) => boolean) | undefined;
  #now: number;
  readonly #stats: SimStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    ticks: 0,
    events: 0,
  };

  constructor(config: SimNetworkConfig<M>) {
    if (!Number.isInteger(config.seed)) {
      throw new ConfigError(`seed must be an integer, got ${config.seed}`);
    }
    this.#seed = config.seed;
    this.#random = seededRandom(deriveSeed(config.seed, "network"));
    this.#sample = latencySampler(config.latency ?? { kind: "fixed", ms: 1 }, this.#random);
    this.drop(config.drop ?? 0);
    this.duplicate(config.duplicate ?? 0);
    const tickMs = config.tickMs ?? 10;
    if (!(Number.isFinite(tickMs) && tickMs >= 0)) {
      throw new ConfigError(
        `tickMs must be a finite number >= 0 (0 turns ticks off), got ${tickMs}`,
      );
    }
    this.#tickMs = tickMs;
    this.#trace = config.trace;
    this.#now = config.startMs ?? 0;
    if (tickMs > 0) this.#queue.push(this.#now + tickMs, TICK, -1, -1, undefined);
  }

  get now(): number {
    return this.#now;
  }

  get stats(): Readonly<SimStats> {
    return this.#stats;
  }

  get ids(): readonly string[] {
    return this.#ids;
  }

  fork(label: string) {
    return seededRandom(deriveSeed(this.#seed, label));
  }

  add(node: SimNode<M>): void {
    if (node.id === BROADCAST) {
      throw new ConfigError(`"${BROADCAST}" is the broadcast address; give the node another id`);
    }
    if (this.#index.has(node.id)) {
      throw new ConfigError(`a node with id "${node.id}" is already registered`);
    }
    const index = this.#ids.length;
    this.#index.set(node.id, index);
    this.#ids.push(node.id);
    this.#nodes.push(node);
    if (index >= this.#crashed.length) {
      const grown = new Uint8Array(this.#crashed.length * 2);
      grown.set(this.#crashed);
      this.#crashed = grown;
    }
  }

  node(id: string): SimNode<M> | undefined {
    const index = this.#index.get(id);
    return index === undefined ? undefined : this.#nodes[index];
  }

  send(from: string, to: string, message: M): void {
    this.#dispatch(this.#require(from), { send: [{ to, message }] });
  }

  at(atMs: number, action: Action<M>): void {
    this.#queue.push(Math.max(atMs, this.#now), ACTION, -1, -1, action);
  }

  drop(probability: number): void {
    this.#dropRate = probabilityOf(probability, "drop");
  }

  duplicate(probability: number): void {
    this.#duplicateRate = probabilityOf(probability, "duplicate");
  }

  latency(model: LatencyModel): void {
    this.#sample = latencySampler(model, this.#random);
  }

  partition(a: Iterable<string>, b?: Iterable<string>): void {
    const marks = new Uint8Array(this.#ids.length);
    const left = [...a];
    for (const id of left) marks[this.#require(id)] = 1;
    let right: string[];
    if (b === undefined) {
      right = this.#ids.filter((_, i) => marks[i] === 0);
      marks.fill(2);
      for (const id of left) marks[this.#require(id)] = 1;
    } else {
      right = [...b];
      for (const id of right) {
        const i = this.#require(id);
        if (marks[i] === 1)
          throw new ConfigError(`node "${id}" cannot be on both sides of a partition`);
        marks[i] = 2;
      }
    }
    this.#partitions.push(marks);
    this.#trace?.({ kind: "partition", at: this.#now, a: left, b: right });
  }

  filter(keep: ((message: M, from: string, to: string) => boolean) | undefined): void {
    this.#keep = keep;
  }

  isolate(id: string): void {
    this.partition([id]);
  }

  heal(): void {
    this.#partitions = [];
    this.#trace?.({ kind: "heal", at: this.#now });
  }

  crash(id: string): void {
    this.#crashed[this.#require(id)] = 1;
    this.#trace?.({ kind: "crash", at: this.#now, node: id });
  }

  restart(id: string, fresh?: SimNode<M>): void {
    const index = this.#require(id);
    if (fresh !== undefined) {
      if (fresh.id !== id) {
        throw new ConfigError(`a restarted node keeps its id: expected "${id}", got "${fresh.id}"`);
      }
      this.#nodes[index] = fresh;
    }
    this.#crashed[index] = 0;
    this.#trace?.({ kind: "restart", at: this.#now, node: id });
  }

  isCrashed(id: string): boolean {
    return this.#crashed[this.#require(id)] === 1;
  }

  run(options: SimRunOptions<M> = {}): SimRunResult {
    const until = options.until;
    const untilTime = typeof until === "number" ? until : Number.POSITIVE_INFINITY;
    const condition = typeof until === "function" ? until : undefined;
    const maxTime = options.maxTimeMs ?? Number.POSITIVE_INFINITY;
    const maxEvents = options.maxEvents ?? 10_000_000;
    const queue = this.#queue;
    let events = 0;
    if (condition?.(this)) return { reason: "condition", now: this.#now, events };
    for (;;) {
      const slot = queue.peek();
      if (slot < 0) {
        if (untilTime !== Number.POSITIVE_INFINITY) {
          this.#now = Math.max(this.#now, untilTime);
          return { reason: "until", now: this.#now, events };
        }
        return { reason: "idle", now: this.#now, events };
      }
      const time = queue.time[slot] as number;
      if (time > untilTime) {
        this.#now = Math.max(this.#now, untilTime);
        return { reason: "until", now: this.#now, events };
      }
      if (time > maxTime) {
        this.#now = Math.max(this.#now, maxTime);
        return { reason: "max-time", now: this.#now, events };
      }
      if (events >= maxEvents) return { reason: "max-events", now: this.#now, events };
      queue.pop();
      this.#now = time;
      const kind = queue.kind[slot] as number;
      const from = queue.from[slot] as number;
      const to = queue.to[slot] as number;
      const payload = queue.payload[slot];
      queue.release(slot);
      events++;
      this.#stats.events++;
      if (kind === DELIVER) this.#deliver(from, to, payload as M);
      else if (kind === TICK) this.#tick();
      else (payload as Action<M>)(this);
      if (condition?.(this)) return { reason: "condition", now: this.#now, events };
    }
  }

  #deliver(from: number, to: number, message: M): void {
    if (this.#crashed[to] === 1) {
      this.#lose(from, to, message, "crashed");
      return;
    }
    if (this.#partitions.length > 0 && this.#blocked(from, to)) {
      this.#lose(from, to, message, "partition");
      return;
    }
    this.#stats.delivered++;
    const node = this.#nodes[to] as SimNode<M>;
    const fromId = this.#ids[from] as string;
    this.#trace?.({ kind: "deliver", at: this.#now, from: fromId, to: node.id, message });
    const output = node.step(message, this.#now, fromId);
    if (output !== undefined) this.#dispatch(to, output);
  }

  #tick(): void {
    this.#stats.ticks++;
    this.#trace?.({ kind: "tick", at: this.#now });
    const nodes = this.#nodes;
    const now = this.#now;
    // A node added during this tick waits for the next one.
    const count = nodes.length;
    for (let i = 0; i < count; i++) {
      if (this.#crashed[i] === 1) continue;
      const node = nodes[i] as SimNode<M>;
      if (node.tick === undefined) continue;
      const output = node.tick(now);
      if (output !== undefined) this.#dispatch(i, output);
    }
    this.#queue.push(now + this.#tickMs, TICK, -1, -1, undefined);
  }

  #dispatch(from: number, output: SimOutput<M>): void {
    const sends = output.send;
    for (let k = 0; k < sends.length; k++) {
      const send = sends[k] as { to: string; message: M };
      if (send.to === BROADCAST) {
        const count = this.#ids.length;
        for (let to = 0; to < count; to++) {
          if (to !== from) this.#transmit(from, to, send.message);
        }
        continue;
      }
      const to = this.#index.get(send.to);
      if (to === undefined) {
        this.#stats.sent++;
        this.#stats.dropped++;
        this.#trace?.({
          kind: "drop",
          at: this.#now,
          from: this.#ids[from] as string,
          to: send.to,
          message: send.message,
          reason: "unknown-recipient",
        });
        continue;
      }
      this.#transmit(from, to, send.message);
    }
  }

  #transmit(from: number, to: number, message: M): void {
    this.#stats.sent++;
    const trace = this.#trace;
    if (trace) {
      const f = this.#ids[from] as string;
      trace({ kind: "send", at: this.#now, from: f, to: this.#ids[to] as string, message });
    }
    if (this.#partitions.length > 0 && this.#blocked(from, to)) {
      this.#lose(from, to, message, "partition");
      return;
    }
    const keep = this.#keep;
    if (keep !== undefined && !keep(message, this.#ids[from] as string, this.#ids[to] as string)) {
      this.#lose(from, to, message, "filtered");
      return;
    }
    if (this.#dropRate > 0 && this.#random.next() < this.#dropRate) {
      this.#lose(from, to, message, "loss");
      return;
    }
    this.#queue.push(this.#now + this.#sample(), DELIVER, from, to, message);
    if (this.#duplicateRate > 0 && this.#random.next() < this.#duplicateRate) {
      this.#stats.duplicated++;
      if (trace) {
        const f = this.#ids[from] as string;
        trace({ kind: "duplicate", at: this.#now, from: f, to: this.#ids[to] as string, message });
      }
      this.#queue.push(this.#now + this.#sample(), DELIVER, from, to, message);
    }
  }

  #lose(from: number, to: number, message: M, reason: SimDropReason): void {
    this.#stats.dropped++;
    this.#trace?.({
      kind: "drop",
      at: this.#now,
      from: this.#ids[from] as string,
      to: this.#ids[to] as string,
      message,
      reason,
    });
  }

  #blocked(from: number, to: number): boolean {
    for (const marks of this.#partitions) {
      const a = marks[from] ?? 0;
      const b = marks[to] ?? 0;
      if ((a | b) === 3) return true;
    }
    return false;
  }

  #require(id: string): number {
    const index = this.#index.get(id);
    if (index === undefined) {
      throw new ConfigError(`no node with id "${id}" is registered; add it with network.add()`);
    }
    return index;
  }
}

function probabilityOf(value: number, name: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new ConfigError(`${name} must be a probability in [0, 1], got ${value}`);
  }
  return value;
}
