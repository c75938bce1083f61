import { ConfigError } from "../errors/index.js";
import { type AgentCard, type AgentStatus, hasAll, sameCard, statusOf } from "./agent-card.js";

/**
 * A node's view of which agents are alive, as a pure state machine: it is fed
 * heartbeats (`observe`), graceful leaves and the current time (`tick`), and
 * returns the liveness events that follow. It owns no timers and does no IO;
 * a runtime arms one timer at `nextDeadline()` and publishes the events.
 */

/** `alive`: heard from within `suspectAfterMs`; `suspect`: silent longer, not yet dropped. */
export type Liveness = "alive" | "suspect";

/** Why an agent left the view. */
export type LeaveReason = "left" | "timeout" | "revoked";

/** Construction settings of a registry view. Times in milliseconds. */
export interface RegistryViewConfig {
  /** Silence after which an alive agent becomes suspect. */
  readonly suspectAfterMs: number;
  /** Silence after which an agent is dropped (`agent.left`, reason `timeout`). Must exceed `suspectAfterMs`. */
  readonly leftAfterMs: number;
}

/** A snapshot of one agent as the view knows it. */
export interface AgentEntry {
  readonly card: AgentCard;
  readonly liveness: Liveness;
  /** Time of the latest heartbeat or announce. */
  readonly lastSeen: number;
  /** Time the agent (re)joined the view. */
  readonly joinedAt: number;
}

/**
 * A liveness change. `at` is when the change took effect: the heartbeat or
 * leave time, or for `agent.suspect` and timeouts the exact deadline that
 * passed (not the possibly later `tick` time), so traces do not depend on how
 * often the runtime ticks.
 */
export type RegistryEvent =
  | { readonly type: "agent.joined"; readonly card: AgentCard; readonly at: number }
  | { readonly type: "agent.alive"; readonly card: AgentCard; readonly at: number }
  | {
      readonly type: "agent.updated";
      readonly card: AgentCard;
      readonly previous: AgentCard;
      readonly at: number;
    }
  | {
      readonly type: "agent.suspect";
      readonly card: AgentCard;
      readonly lastSeen: number;
      readonly at: number;
    }
  | {
      readonly type: "agent.left";
      readonly card: AgentCard;
      readonly reason: LeaveReason;
      readonly at: number;
    };

/** A discovery query; every given field must match. */
export interface FindQuery {
  readonly role?: string;
  /** The card must carry all of these tags. */
  readonly tags?: readonly string[];
  /** The card must offer all of these capabilities. */
  readonly capabilities?: readonly string[];
  /** Liveness to include. Default `"alive"`: suspects are usually not worth routing to. */
  readonly status?: Liveness | readonly Liveness[];
  /** Card status to include (undefined on a card counts as `active`). Default: any. */
  readonly cardStatus?: AgentStatus | readonly AgentStatus[];
}

/**
 * The registry state machine. Calls must pass non-decreasing-ish times; a
 * heartbeat older than the agent's latest one is ignored as stale.
 *
 * Each call returns the events it caused. When nothing changed it returns one
 * shared, frozen empty array, so an idle `tick` allocates nothing.
 */
export interface RegistryView {
  /**
   * Records an announce or heartbeat received at `at`. Emits `agent.joined`
   * on first sight (or after the agent left), `agent.alive` when a suspect is
   * heard from again, `agent.updated` when the card changed (a new
   * `publicKey` included: the trust layer must handshake again). Cards of
   * revoked ids or keys are ignored. Deadlines already passed at `at` are
   * applied to this agent first, exactly as if `tick(at)` had run.
   */
  observe(card: AgentCard, at: number): readonly RegistryEvent[];
  /** A graceful leave: `agent.left` with reason `left`. Unknown ids emit nothing. */
  leave(id: string, at: number): readonly RegistryEvent[];
  /**
   * Applies every deadline up to `now`: alive agents silent for
   * `suspectAfterMs` become suspect, agents silent for `leftAfterMs` leave
   * with reason `timeout`. Cost is proportional to the transitions, not to
   * the number of agents.
   */
  tick(now: number): readonly RegistryEvent[];
  /**
   * Removes the agent at once (`agent.left`, reason `revoked`) and ignores
   * every later card with its id or its public key. `at` defaults to the
   * latest time the view has been given.
   */
  revoke(id: string, at?: number): readonly RegistryEvent[];
  /** Whether `id` has been revoked. */
  isRevoked(id: string): boolean;
  /** The agent's current entry, or undefined if it is not in the view. */
  get(id: string): AgentEntry | undefined;
  /** Matching agents, ordered by id. With no query: every alive agent. */
  find(query?: FindQuery): AgentEntry[];
  /**
   * Number of agents in the view (alive or suspect) whose card names `node`:
   * a node with agents here may only be announced by one of them.
   */
  agentsOn(node: string): number;
  /** Number of agents in the view, alive or suspect. */
  readonly size: number;
  /** The earliest time at which `tick` would emit something, or undefined if none is pending. */
  nextDeadline(): number | undefined;
}

/**
 * Creates an empty registry view.
 *
 * @example
 * ```ts
 * const view = createRegistryView({ suspectAfterMs: 3_000, leftAfterMs: 10_000 });
 * view.observe(card, clock.now());            // [{ type: "agent.joined", card, at }]
 * const due = view.nextDeadline();            // arm one timer for this
 * for (const event of view.tick(clock.now())) publish(event);
 * const reviewers = view.find({ role: "reviewer", tags: ["typescript"] });
 * ```
 */
export function createRegistryView(config: RegistryViewConfig): RegistryView {
  const { suspectAfterMs, leftAfterMs } = config;
  if (!(Number.isFinite(suspectAfterMs) && suspectAfterMs > 0)) {
    throw new ConfigError(
      `registry suspectAfterMs must be a positive number of milliseconds, got ${suspectAfterMs}`,
    );
  }
  if (!(Number.isFinite(leftAfterMs) && leftAfterMs > suspectAfterMs)) {
    throw new ConfigError(
      `registry leftAfterMs (${leftAfterMs}) must be greater than suspectAfterMs (${suspectAfterMs}) so an agent is suspect before it is dropped`,
    );
  }
  return new RegistryViewImpl(suspectAfterMs, leftAfterMs);
}

const NO_EVENTS: readonly RegistryEvent[] = Object.freeze([]);

/** Internal, mutable record; one per agent, no closures, so 10,000 stay small. */
interface Entry {
  card: AgentCard;
  liveness: Liveness;
  lastSeen: number;
  joinedAt: number;
  /** When this entry next changes: suspect time if alive, drop time if suspect. */
  deadline: number;
  /** Position in the deadline heap, kept so an update is O(log n) without a search. */
  heapIndex: number;
}

/**
 * Entries of one group (all, or one role), ordered by id lazily: appends mark
 * it unsorted and `find` re-sorts (TimSort is near linear on nearly sorted
 * input); removals are counted and swept later, so a mass timeout of 10,000
 * agents costs O(n) instead of O(n^2) splices.
 */
interface Group {
  list: Entry[];
  sorted: boolean;
  /** Entries in `list` that have left the view and await a sweep. */
  stale: number;
}

class RegistryViewImpl implements RegistryView {
  readonly #suspectAfterMs: number;
  readonly #leftAfterMs: number;
  readonly #entries = new Map<string, Entry>();
  /** Min-heap on (deadline, id): `tick` only touches entries that are due. */
  readonly #heap: Entry[] = [];
  readonly #all: Group = { list: [], sorted: true, stale: 0 };
  readonly #byRole = new Map<string, Group>();
  readonly #revokedIds = new Set<string>();
  readonly #revokedKeys = new Set<string>();
  /** Node id → agents in the view on it. */
  readonly #perNode = new Map<string, number>();
  #latest = Number.NEGATIVE_INFINITY;

  constructor(suspectAfterMs: number, leftAfterMs: number) {
    this.#suspectAfterMs = suspectAfterMs;
    this.#leftAfterMs = leftAfterMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  observe(card: AgentCard, at: number): readonly RegistryEvent[] {
    this.#see(at);
    if (this.#revokedIds.has(card.id) || this.#revokedKeys.has(card.publicKey)) return NO_EVENTS;
    const known = this.#entries.get(card.id);
    if (known !== undefined && known.liveness === "alive" && known.deadline > at) {
      // The common case, a heartbeat from a live agent: no allocation unless the card changed.
      if (at < known.lastSeen) return NO_EVENTS;
      this.#refresh(known, at);
      return sameCard(known.card, card) ? NO_EVENTS : [this.#update(known, card, at)];
    }
    const events: RegistryEvent[] = [];
    if (known !== undefined) this.#catchUp(known, at, events);
    const entry = this.#entries.get(card.id);
    if (entry === undefined) {
      this.#add(card, at);
      events.push({ type: "agent.joined", card, at });
      return events;
    }
    if (at < entry.lastSeen) return events.length > 0 ? events : NO_EVENTS;
    // Only a suspect reaches here with a fresh heartbeat.
    this.#refresh(entry, at);
    events.push({ type: "agent.alive", card, at });
    if (!sameCard(entry.card, card)) events.push(this.#update(entry, card, at));
    return events;
  }

  leave(id: string, at: number): readonly RegistryEvent[] {
    this.#see(at);
    const entry = this.#entries.get(id);
    if (entry === undefined) return NO_EVENTS;
    const events: RegistryEvent[] = [];
    this.#catchUp(entry, at, events);
    if (this.#entries.get(id) === entry) {
      this.#remove(entry);
      events.push({ type: "agent.left", card: entry.card, reason: "left", at });
    }
    return events;
  }

  tick(now: number): readonly RegistryEvent[] {
    this.#see(now);
    let top = this.#heap[0];
    if (top === undefined || top.deadline > now) return NO_EVENTS;
    const events: RegistryEvent[] = [];
    while (top !== undefined && top.deadline <= now) {
      this.#step(top, events);
      top = this.#heap[0];
    }
    return events;
  }

  revoke(id: string, at: number = this.#latest): readonly RegistryEvent[] {
    this.#revokedIds.add(id);
    const entry = this.#entries.get(id);
    if (entry === undefined) return NO_EVENTS;
    this.#revokedKeys.add(entry.card.publicKey);
    this.#remove(entry);
    return [{ type: "agent.left", card: entry.card, reason: "revoked", at }];
  }

  isRevoked(id: string): boolean {
    return this.#revokedIds.has(id);
  }

  agentsOn(node: string): number {
    return this.#perNode.get(node) ?? 0;
  }

  get(id: string): AgentEntry | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined ? undefined : snapshot(entry);
  }

  find(query: FindQuery = {}): AgentEntry[] {
    const source = query.role === undefined ? this.#all : this.#byRole.get(query.role);
    if (source === undefined) return [];
    if (source.stale > 0) this.#sweep(source);
    if (!source.sorted) {
      source.list.sort(byId);
      source.sorted = true;
    }
    const liveness = query.status ?? "alive";
    const cardStatus = query.cardStatus;
    const out: AgentEntry[] = [];
    for (const entry of source.list) {
      if (!matches(liveness, entry.liveness)) continue;
      if (cardStatus !== undefined && !matches(cardStatus, statusOf(entry.card))) continue;
      if (query.tags !== undefined && !hasAll(entry.card.tags, query.tags)) continue;
      if (query.capabilities !== undefined && !hasAll(entry.card.capabilities, query.capabilities))
        continue;
      out.push(snapshot(entry));
    }
    return out;
  }

  nextDeadline(): number | undefined {
    return this.#heap[0]?.deadline;
  }

  #see(at: number): void {
    if (at > this.#latest) this.#latest = at;
  }

  /** A fresh heartbeat: alive again, next deadline pushed out. */
  #refresh(entry: Entry, at: number): void {
    entry.lastSeen = at;
    entry.liveness = "alive";
    entry.deadline = at + this.#suspectAfterMs;
    this.#siftDown(this.#siftUp(entry.heapIndex));
  }

  #update(entry: Entry, card: AgentCard, at: number): RegistryEvent {
    const previous = entry.card;
    if (previous.node !== card.node) {
      this.#countOnNode(previous.node, -1);
      this.#countOnNode(card.node, 1);
    }
    if (previous.role !== card.role) {
      this.#unindexRole(entry);
      entry.card = card;
      this.#indexRole(entry);
    } else {
      entry.card = card;
    }
    return { type: "agent.updated", card, previous, at };
  }

  /** Applies this one entry's passed deadlines, so results do not depend on tick frequency. */
  #catchUp(entry: Entry, at: number, events: RegistryEvent[]): void {
    while (this.#entries.get(entry.card.id) === entry && entry.deadline <= at) {
      this.#step(entry, events);
    }
  }

  /** One due transition: alive -> suspect, or suspect -> left (timeout). */
  #step(entry: Entry, events: RegistryEvent[]): void {
    if (entry.liveness === "alive") {
      entry.liveness = "suspect";
      entry.deadline = entry.lastSeen + this.#leftAfterMs;
      this.#siftDown(entry.heapIndex);
      events.push({
        type: "agent.suspect",
        card: entry.card,
        lastSeen: entry.lastSeen,
        at: entry.lastSeen + this.#suspectAfterMs,
      });
    } else {
      this.#remove(entry);
      events.push({ type: "agent.left", card: entry.card, reason: "timeout", at: entry.deadline });
    }
  }

  #add(card: AgentCard, at: number): void {
    const entry: Entry = {
      card,
      liveness: "alive",
      lastSeen: at,
      joinedAt: at,
      deadline: at + this.#suspectAfterMs,
      heapIndex: this.#heap.length,
    };
    this.#entries.set(card.id, entry);
    this.#countOnNode(card.node, 1);
    this.#heap.push(entry);
    this.#siftUp(entry.heapIndex);
    append(this.#all, entry);
    this.#indexRole(entry);
  }

  /** Whether `entry` is the live record of its id (not one that left and maybe rejoined). */
  #isCurrent(entry: Entry): boolean {
    return this.#entries.get(entry.card.id) === entry;
  }

  #sweep(group: Group): void {
    group.list = group.list.filter((entry) => this.#isCurrent(entry));
    group.stale = 0;
  }

  /** Counts a departed entry in `group`, sweeping once half of it is stale (amortised O(1)). */
  #markStale(group: Group): void {
    group.stale++;
    if (group.stale * 2 > group.list.length) this.#sweep(group);
  }

  #countOnNode(node: string | undefined, change: 1 | -1): void {
    if (node === undefined) return;
    const count = (this.#perNode.get(node) ?? 0) + change;
    // Node ids come and go with processes; keeping zeros would leak.
    if (count > 0) this.#perNode.set(node, count);
    else this.#perNode.delete(node);
  }

  #remove(entry: Entry): void {
    this.#entries.delete(entry.card.id);
    this.#countOnNode(entry.card.node, -1);
    const last = this.#heap.pop()!;
    if (last !== entry) {
      this.#heap[entry.heapIndex] = last;
      last.heapIndex = entry.heapIndex;
      this.#siftDown(this.#siftUp(last.heapIndex));
    }
    this.#markStale(this.#all);
    const group = this.#byRole.get(entry.card.role);
    if (group === undefined) return;
    this.#markStale(group);
    // Roles come and go with agents; keeping empty groups would leak.
    if (group.list.length === group.stale) this.#byRole.delete(entry.card.role);
  }

  #indexRole(entry: Entry): void {
    let group = this.#byRole.get(entry.card.role);
    if (group === undefined) {
      group = { list: [], sorted: true, stale: 0 };
      this.#byRole.set(entry.card.role, group);
    }
    append(group, entry);
  }

  /** For a role change, which is rare: removes eagerly so the entry can rejoin a group it left. */
  #unindexRole(entry: Entry): void {
    const group = this.#byRole.get(entry.card.role);
    if (group === undefined) return;
    const index = group.list.indexOf(entry);
    if (index >= 0) group.list.splice(index, 1);
    if (group.list.length === group.stale) this.#byRole.delete(entry.card.role);
  }

  #siftUp(index: number): number {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!earlier(entry, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
    return index;
  }

  #siftDown(index: number): number {
    const heap = this.#heap;
    const entry = heap[index]!;
    const length = heap.length;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= length) break;
      const rightIndex = leftIndex + 1;
      let childIndex = leftIndex;
      let child = heap[leftIndex]!;
      const right = heap[rightIndex];
      if (right !== undefined && earlier(right, child)) {
        childIndex = rightIndex;
        child = right;
      }
      if (!earlier(child, entry)) break;
      heap[index] = child;
      child.heapIndex = index;
      index = childIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
    return index;
  }
}

/** Ties broken by id so that simultaneous transitions come out in a reproducible order. */
function earlier(a: Entry, b: Entry): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.card.id < b.card.id);
}

function byId(a: Entry, b: Entry): number {
  return a.card.id < b.card.id ? -1 : a.card.id > b.card.id ? 1 : 0;
}

function append(group: Group, entry: Entry): void {
  const last = group.list[group.list.length - 1];
  if (last !== undefined && byId(last, entry) > 0) group.sorted = false;
  group.list.push(entry);
}

function matches<T extends string>(wanted: T | readonly T[], actual: T): boolean {
  return typeof wanted === "string" ? wanted === actual : wanted.includes(actual);
}

function snapshot(entry: Entry): AgentEntry {
  return {
    card: entry.card,
    liveness: entry.liveness,
    lastSeen: entry.lastSeen,
    joinedAt: entry.joinedAt,
  };
}
