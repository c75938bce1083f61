/**
 * An autoscaling pool of worker agents of one role: the runtime side of the
 * pure policy in `src/hierarchy/autoscaler.ts`. Every `intervalMs` it reads
 * the role queue's depth from the broker and the handling latency of its
 * workers, asks the policy, spawns workers from the template or retires idle
 * ones. (Not to be confused with `supervisor.ts`, which restarts one crashed
 * child.)
 *
 * A retired worker is drained, never dropped: it stops taking tasks, finishes
 * and acks the ones it holds, then leaves the registry. Tasks still queued
 * stay in the role's queue for the other workers, so scaling down loses
 * nothing.
 */
import type { Clock } from "../core/clock.js";
import { toError } from "../errors/index.js";
import {
  type AutoscaleAction,
  type Autoscaler,
  createAutoscaler,
  type PoolWorker,
} from "../hierarchy/autoscaler.js";
import type { Transport } from "../transport/port.js";
import type { Agent } from "./agent.js";
import type { SwarmEvent, SwarmEventListener } from "./events.js";
import { queueNames } from "./subjects.js";

/** How a pool scales; see {@link AgentPool}. Defaults as in the swarm file's `pools:`. */
export interface AgentPoolConfig {
  /** The role whose queue the workers share; every worker has this role. */
  readonly role: string;
  /** Fewest workers, ≥ 0. */
  readonly min: number;
  /** Most workers, ≥ max(min, 1). */
  readonly max: number;
  /** Outstanding tasks (queued + in flight) one worker should carry. Default 1. */
  readonly targetTasksPerWorker?: number;
  /** Handling latency (p90 over the interval) to stay under, ms; omit to scale by the queue alone. */
  readonly targetLatencyMs?: number;
  /** Least time after a scaling before scaling up, ms. Default 10,000. */
  readonly scaleUpCooldownMs?: number;
  /** Least time after a scaling before retiring idle workers, ms. Default 60,000. */
  readonly scaleDownCooldownMs?: number;
  /** See `AutoscalerConfig.hysteresis`. Default 0.2. */
  readonly hysteresis?: number;
  /** See `AutoscalerConfig.scaleDownWindowMs`. Default `scaleDownCooldownMs`. */
  readonly scaleDownWindowMs?: number;
  /** How often the pool looks at its queue, ms. Default 1,000. */
  readonly intervalMs?: number;
  /** Agents hosted here that belong to the pool from the start, oldest first (e.g. the template agent). */
  readonly members?: readonly string[];
  /**
   * The id of worker slot `n` (n ≥ 1); a spawn takes the lowest slot not in
   * use, so ids are reused and can be declared for admission in advance
   * (the swarm file declares `<template>-p1 … -p<2·max>`). Default `<role>-w<n>`.
   */
  readonly workerId?: (slot: number) => string;
  /**
   * Adds worker `id` to the swarm as a copy of the template, with its own
   * key: `swarm.agent({ ...template, id })` and its handlers. The swarm
   * starts it (it is running).
   */
  readonly spawn: (id: string) => Agent | Promise<Agent>;
}

/** What a pool needs from the swarm that hosts it. */
export interface PoolHost {
  readonly clock: Clock;
  readonly transport: Transport;
  readonly swarm: string;
  /** The hosted agent `id`, if any. */
  hosted(id: string): Agent | undefined;
  /** Runs `create(id)` (which adds agent `id` and its handlers), then starts the agent. */
  spawn(id: string, create: (id: string) => unknown): Promise<Agent>;
  /** Drains agent `id` (stops intake, finishes and acks what it holds), stops it and announces it left. */
  retire(id: string): Promise<void>;
  on(listener: SwarmEventListener): () => void;
  emit(event: SwarmEvent): void;
  /** Publishes a node event on the bus, for the other nodes and dashboards. */
  announce(type: string, body: unknown): void;
}

/**
 * A pool of workers of one role, scaled between `min` and `max` (see
 * `createAutoscaler` for the policy). Created by `swarm.pool(...)`, which
 * starts and stops it with the swarm.
 *
 * @example
 * ```ts
 * swarm.pool({
 *   role: "worker", min: 1, max: 8, members: ["worker-1"],
 *   spawn: (id) => swarm.agent({ id, role: "worker" }).handle("work", work),
 * });
 * ```
 */
export class AgentPool {
  readonly role: string;
  readonly #config: AgentPoolConfig;
  readonly #host: PoolHost;
  readonly #scaler: Autoscaler;
  readonly #intervalMs: number;
  /** Workers serving or draining, oldest first. */
  readonly #members: string[];
  readonly #retiring = new Map<string, Promise<void>>();
  /** Slot ids handed to the policy and not yet spawned. */
  readonly #reserved = new Set<string>();
  /** Handling times of the workers' tasks since the last tick, ms. */
  #latencies: number[] = [];
  #cancelTimer: (() => void) | undefined;
  #unlisten: (() => void) | undefined;
  #ticking: Promise<void> | undefined;
  #running = false;
  /** Ticks in a row whose spawns all failed: the next look waits longer each time. */
  #failedSpawnTicks = 0;

  constructor(config: AgentPoolConfig, host: PoolHost) {
    this.role = config.role;
    this.#config = config;
    this.#host = host;
    this.#intervalMs = config.intervalMs ?? 1_000;
    this.#members = [...(config.members ?? [])];
    const scaleDownCooldownMs = config.scaleDownCooldownMs ?? 60_000;
    this.#scaler = createAutoscaler({
      min: config.min,
      max: config.max,
      targetTasksPerWorker: config.targetTasksPerWorker ?? 1,
      ...(config.targetLatencyMs === undefined ? {} : { targetLatencyMs: config.targetLatencyMs }),
      scaleUpCooldownMs: config.scaleUpCooldownMs ?? 10_000,
      scaleDownCooldownMs,
      ...(config.hysteresis === undefined ? {} : { hysteresis: config.hysteresis }),
      scaleDownWindowMs: config.scaleDownWindowMs ?? scaleDownCooldownMs,
      // Spawns finish within the tick that asked for them: one interval later it was seen or it failed.
      spawnTimeoutMs: this.#intervalMs,
      newWorkerId: () => this.#reserveSlot(),
    });
  }

  /** The pool's workers, oldest first, draining ones included. */
  get workers(): readonly string[] {
    return [...this.#members];
  }

  /** Workers that take tasks now (not draining, not halted). */
  get serving(): number {
    return this.#members.filter((id) => this.#state(id) !== "draining").length;
  }

  /** Starts looking at the queue every `intervalMs`; the first look is at once. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unlisten = this.#host.on((event) => {
      if (
        event.type === "task.completed" &&
        event.role === this.role &&
        this.#members.includes(event.agent)
      ) {
        this.#latencies.push(event.durationMs);
      } else if (
        event.type === "agent.gave_up" &&
        this.#members.includes(event.agent) &&
        !this.#retiring.has(event.agent)
      ) {
        // Crashed past its restart limit: it takes no tasks any more. Taking it
        // out lets the next tick see the pool short and spawn a replacement.
        this.#retiring.set(event.agent, this.#retire(event.agent));
      }
    });
    this.#schedule(0);
  }

  /** Stops scaling; waits for a tick and retirements under way. The workers stay (the swarm stops them). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#unlisten?.();
    this.#unlisten = undefined;
    await this.#ticking;
    await Promise.all(this.#retiring.values());
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#cancelTimer = this.#host.clock.setTimer(() => {
      this.#ticking = this.#tick()
        .catch((error: unknown) =>
          this.#host.emit({
            type: "error",
            error: `pool ${this.role}: ${toError(error).message}`,
          }),
        )
        .finally(() => {
          this.#ticking = undefined;
          this.#schedule(this.#nextLookMs());
        });
    }, ms);
  }

  /**
   * One interval, or after spawns that all failed (a template whose setup
   * throws, a host out of capacity) twice the last wait, up to a minute:
   * not an attempt, and an error event, every interval forever.
   */
  #nextLookMs(): number {
    if (this.#failedSpawnTicks === 0) return this.#intervalMs;
    const cap = Math.max(this.#intervalMs, MAX_SPAWN_BACKOFF_MS);
    return Math.min(cap, this.#intervalMs * 2 ** Math.min(this.#failedSpawnTicks, 30));
  }

  async #tick(): Promise<void> {
    const { transport, swarm, clock } = this.#host;
    // A queue the broker cannot report on now (a reconnect) is looked at again next tick.
    const info = await transport
      .queueInfo(queueNames.role(swarm, this.role))
      .catch(() => undefined);
    if (info === undefined || !this.#running) return;
    const queueDepth = Math.max(0, info.pending - info.inFlight);
    const latencyMs = p90(this.#latencies);
    this.#latencies = [];
    // Forget members that are gone (stopped by a revocation, or removed by hand).
    for (let i = this.#members.length - 1; i >= 0; i--) {
      const id = this.#members[i] as string;
      if (!this.#retiring.has(id) && this.#host.hosted(id) === undefined)
        this.#members.splice(i, 1);
    }
    const workers: PoolWorker[] = this.#members.map((id) => ({ id, state: this.#state(id) }));
    const observation = {
      queueDepth,
      inFlight: info.inFlight,
      workers,
      ...(latencyMs === undefined ? {} : { latencyMs }),
    };
    for (const action of this.#scaler.tick(clock.now(), observation)) {
      await this.#apply(action, observation);
    }
  }

  async #apply(
    action: AutoscaleAction,
    seen: { queueDepth: number; inFlight: number; latencyMs?: number },
  ): Promise<void> {
    const changed: string[] = [];
    if (action.kind === "spawn") {
      for (const id of action.ids) {
        try {
          await this.#host.spawn(id, this.#config.spawn);
          this.#members.push(id);
          changed.push(id);
        } catch (error) {
          this.#host.emit({
            type: "error",
            error: `pool ${this.role}: spawning worker ${id} failed: ${toError(error).message}`,
          });
        } finally {
          this.#reserved.delete(id);
        }
      }
      this.#failedSpawnTicks = changed.length === 0 ? this.#failedSpawnTicks + 1 : 0;
    } else {
      for (const id of action.ids) {
        changed.push(id);
        this.#retiring.set(id, this.#retire(id));
      }
    }
    if (changed.length === 0) return;
    const { type: _type, ...body } = {
      type: "pool.scaled" as const,
      role: this.role,
      direction: action.kind === "spawn" ? ("up" as const) : ("down" as const),
      reason: action.reason,
      workers: changed,
      size: this.#scaler.size,
      queueDepth: seen.queueDepth,
      inFlight: seen.inFlight,
      ...(seen.latencyMs === undefined ? {} : { latencyMs: seen.latencyMs }),
    };
    this.#host.emit({ type: "pool.scaled", ...body });
    this.#host.announce("pool.scaled", body);
  }

  async #retire(id: string): Promise<void> {
    try {
      await this.#host.retire(id);
      this.#host.emit({ type: "pool.retired", role: this.role, agent: id });
    } catch (error) {
      this.#host.emit({
        type: "error",
        error: `pool ${this.role}: retiring worker ${id} failed: ${toError(error).message}`,
      });
    } finally {
      this.#retiring.delete(id);
      const at = this.#members.indexOf(id);
      if (at >= 0) this.#members.splice(at, 1);
    }
  }

  #state(id: string): PoolWorker["state"] {
    const agent = this.#host.hosted(id);
    // A halted worker takes no tasks: the pool counts it out, as it does one draining.
    if (agent === undefined || this.#retiring.has(id) || agent.paused) return "draining";
    return agent.inFlight > 0 ? "busy" : "idle";
  }

  /** The lowest worker slot neither in use nor promised to a spawn. */
  #reserveSlot(): string {
    const idOf = this.#config.workerId ?? ((n: number) => `${this.role}-w${n}`);
    // Past the declared slots (2·max) only while that many are still draining; admission elsewhere may refuse those.
    for (let n = 1; ; n++) {
      const id = idOf(n);
      const taken =
        this.#members.includes(id) || this.#reserved.has(id) || this.#host.hosted(id) !== undefined;
      if (!taken) {
        this.#reserved.add(id);
        return id;
      }
    }
  }
}

/** The longest wait between looks while spawns keep failing, ms. */
const MAX_SPAWN_BACKOFF_MS = 60_000;

function p90(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))];
}
