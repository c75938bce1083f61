/**
 * The autoscaling policy of a supervisor: how many workers of one role to run,
 * from the queue and the latency it observes. A pure state machine in the
 * style of the protocols: `tick(now, observation)` returns actions, and the
 * runtime spawns and retires the workers.
 */
import { ConfigError } from "../errors/index.js";

/** A worker as the supervisor sees it. */
export interface PoolWorker {
  readonly id: string;
  /**
   * - `starting`: spawned, not yet taking work;
   * - `idle`: taking work, nothing in flight;
   * - `busy`: at least one task in flight;
   * - `draining`: told to retire, finishing what it holds.
   */
  readonly state: "starting" | "idle" | "busy" | "draining";
}

/** What the supervisor observes at a tick. */
export interface PoolObservation {
  /** Tasks of the role waiting in the queue. */
  readonly queueDepth: number;
  /** Tasks of the role handed to a worker and not yet acked. */
  readonly inFlight: number;
  /**
   * A recent task latency in ms (e.g. the p90 of queue wait + handling over
   * the last interval); omitted when no task finished lately.
   */
  readonly latencyMs?: number;
  /** Every worker of the pool the runtime knows, oldest first. Retired workers disappear once gone. */
  readonly workers: readonly PoolWorker[];
}

/** What the runtime must do. */
export type AutoscaleAction =
  /** Spawn `count` workers from the role's template (fresh keys) under these ids. */
  | {
      readonly kind: "spawn";
      readonly count: number;
      readonly ids: readonly string[];
      readonly reason: "below-min" | "scale-up";
    }
  /**
   * Retire these workers: drain each (stop intake, finish and ack what it
   * holds), then stop it. They were idle when observed; draining covers a
   * task that reached one since.
   */
  | {
      readonly kind: "retire";
      readonly ids: readonly string[];
      readonly reason: "above-max" | "scale-down";
    };

/** Settings of {@link createAutoscaler}. */
export interface AutoscalerConfig {
  /** Fewest workers, ≥ 0. Restored at once (no cool-down) when workers vanish. */
  readonly min: number;
  /** Most workers, ≥ max(min, 1). */
  readonly max: number;
  /**
   * Outstanding tasks (waiting + in flight) one worker should carry. The queue
   * asks for ⌈outstanding ÷ this⌉ workers. > 0. Keep it at or below what a
   * worker holds at once (e.g. 0.8 for one task at a time): above that, the
   * pool grows only once a queue has formed and shrinks as soon as it drains.
   */
  readonly targetTasksPerWorker: number;
  /**
   * The latency to stay under, ms. Above it the pool asks for
   * current × latency ÷ target workers (proportional, as Kubernetes' HPA does).
   * Omit to scale by the queue alone.
   */
  readonly targetLatencyMs?: number;
  /** Least time after any scaling before scaling up, ms. */
  readonly scaleUpCooldownMs: number;
  /** Least time after any scaling before scaling down, ms. Usually longer than up. */
  readonly scaleDownCooldownMs: number;
  /**
   * Scale down only when the workers that would remain are loaded at most
   * (1 − hysteresis) of their target; in [0, 1). Default 0.2. The gap
   * between the scale-up threshold (100 %) and the scale-down one keeps a
   * load that hovers at a boundary from flapping.
   */
  readonly hysteresis?: number;
  /**
   * Scale down only to what the highest need over this many past ms asks for,
   * as Kubernetes' HPA stabilisation window does: a single quiet sample (a
   * lull between bursts) must not shed workers that the next burst needs.
   * Default: `scaleDownCooldownMs`.
   */
  readonly scaleDownWindowMs?: number;
  /** A spawn not seen in an observation within this many ms counts as failed (and is retried). Default 60,000. */
  readonly spawnTimeoutMs?: number;
  /** A fresh worker id for each spawn (a ULID in the runtime; a counter in tests). */
  readonly newWorkerId: () => string;
}

/** The policy; see {@link createAutoscaler}. */
export interface Autoscaler {
  /** The actions for this tick, possibly none. `now` in ms must not go backwards. */
  tick(now: number, observation: PoolObservation): AutoscaleAction[];
  /** Workers the pool counts now: seen and not retiring, plus spawns awaited. */
  readonly size: number;
}

/**
 * Creates a supervisor's autoscaling policy for one role.
 *
 * At each tick, with `current` = workers not retiring + spawns not yet seen:
 *
 * 1. below `min`: spawn the difference, at once; above `max`: retire idle extras;
 * 2. `needed` = max(outstanding ÷ targetTasksPerWorker, current × latency ÷
 *    targetLatencyMs when the latency is over target);
 * 3. `needed > current`, up cool-down passed: spawn up to ⌈needed⌉ (≤ max);
 * 4. with `peak` = the largest `needed` over the last `scaleDownWindowMs`:
 *    `peak ≤ (current − 1)(1 − hysteresis)`, down cool-down passed, no spawn
 *    awaited: retire idle workers (newest first) down to
 *    max(min, ⌈peak ÷ (1 − hysteresis)⌉). Busy workers are never retired;
 *    if too few are idle the rest waits for a later tick.
 *
 * Both cool-downs count from the last scaling in either direction, so the
 * pool changes direction at most once per cool-down.
 *
 * @throws ConfigError on inconsistent settings.
 *
 * @example
 * ```ts
 * const scaler = createAutoscaler({
 *   min: 1, max: 10, targetTasksPerWorker: 2, targetLatencyMs: 2_000,
 *   scaleUpCooldownMs: 10_000, scaleDownCooldownMs: 60_000, newWorkerId: ulid,
 * });
 * scaler.tick(now, { queueDepth: 12, inFlight: 2, workers: [{ id: "w1", state: "busy" }] });
 * // [{ kind: "spawn", count: 6, ids: [...], reason: "scale-up" }]
 * ```
 */
export function createAutoscaler(config: AutoscalerConfig): Autoscaler {
  validate(config);
  return new AutoscalerImpl(config);
}

class AutoscalerImpl implements Autoscaler {
  readonly #config: AutoscalerConfig;
  readonly #hysteresis: number;
  readonly #spawnTimeoutMs: number;
  readonly #downWindowMs: number;
  /** `needed` at each tick within the scale-down window, oldest first. */
  readonly #recentNeeds: { at: number; needed: number }[] = [];
  /** Spawned ids not yet observed, with when they were asked for. */
  readonly #awaited = new Map<string, number>();
  /** Ids told to retire and still observed. */
  readonly #retiring = new Set<string>();
  #lastScaledAt = Number.NEGATIVE_INFINITY;
  #size = 0;

  constructor(config: AutoscalerConfig) {
    this.#config = config;
    this.#hysteresis = config.hysteresis ?? 0.2;
    this.#spawnTimeoutMs = config.spawnTimeoutMs ?? 60_000;
    this.#downWindowMs = config.scaleDownWindowMs ?? config.scaleDownCooldownMs;
  }

  get size(): number {
    return this.#size;
  }

  tick(now: number, observation: PoolObservation): AutoscaleAction[] {
    const { min, max } = this.#config;
    const seen = new Set(observation.workers.map((w) => w.id));
    for (const [id, at] of this.#awaited) {
      if (seen.has(id) || now - at >= this.#spawnTimeoutMs) this.#awaited.delete(id);
    }
    for (const id of this.#retiring) if (!seen.has(id)) this.#retiring.delete(id);
    const serving = observation.workers.filter(
      (w) => w.state !== "draining" && !this.#retiring.has(w.id),
    );
    const current = serving.length + this.#awaited.size;
    this.#size = current;

    if (current < min) return [this.#spawn(now, min - current, "below-min")];
    if (current > max) return this.#retire(now, serving, current - max, "above-max");

    const outstanding = Math.max(0, observation.queueDepth) + Math.max(0, observation.inFlight);
    let needed = outstanding / this.#config.targetTasksPerWorker;
    const { targetLatencyMs } = this.#config;
    const latency = observation.latencyMs;
    if (targetLatencyMs !== undefined && latency !== undefined && latency > targetLatencyMs) {
      needed = Math.max(needed, (Math.max(current, 1) * latency) / targetLatencyMs);
    }
    const sinceScaled = now - this.#lastScaledAt;
    const recent = this.#recentNeeds;
    recent.push({ at: now, needed });
    while ((recent[0] as { at: number }).at <= now - this.#downWindowMs && recent.length > 1) {
      recent.shift();
    }
    let peak = 0;
    for (const r of recent) peak = Math.max(peak, r.needed);

    if (needed > current && current < max && sinceScaled >= this.#config.scaleUpCooldownMs) {
      return [this.#spawn(now, Math.min(max, Math.ceil(needed)) - current, "scale-up")];
    }
    const keep = 1 - this.#hysteresis;
    if (
      current > min &&
      peak <= (current - 1) * keep &&
      this.#awaited.size === 0 &&
      sinceScaled >= this.#config.scaleDownCooldownMs
    ) {
      const target = Math.max(min, Math.ceil(peak / keep));
      return this.#retire(now, serving, current - target, "scale-down");
    }
    return [];
  }

  #spawn(now: number, count: number, reason: "below-min" | "scale-up"): AutoscaleAction {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.#config.newWorkerId();
      this.#awaited.set(id, now);
      ids.push(id);
    }
    this.#lastScaledAt = now;
    this.#size += count;
    return { kind: "spawn", count, ids, reason };
  }

  #retire(
    now: number,
    serving: readonly PoolWorker[],
    count: number,
    reason: "above-max" | "scale-down",
  ): AutoscaleAction[] {
    // Newest idle first: the oldest workers keep their warm caches and connections.
    const ids = serving
      .filter((w) => w.state === "idle")
      .map((w) => w.id)
      .reverse()
      .slice(0, count);
    if (ids.length === 0) return [];
    for (const id of ids) this.#retiring.add(id);
    this.#lastScaledAt = now;
    this.#size -= ids.length;
    return [{ kind: "retire", ids, reason }];
  }
}

function validate(config: AutoscalerConfig): void {
  const problem = (message: string) => new ConfigError(`autoscaler: ${message}`);
  if (!Number.isInteger(config.min) || config.min < 0) {
    throw problem(`min must be a whole number ≥ 0, got ${config.min}`);
  }
  if (!Number.isInteger(config.max) || config.max < Math.max(1, config.min)) {
    throw problem(
      `max must be a whole number ≥ max(min, 1), got ${config.max} with min ${config.min}`,
    );
  }
  if (!(config.targetTasksPerWorker > 0 && Number.isFinite(config.targetTasksPerWorker))) {
    throw problem(`targetTasksPerWorker must be > 0, got ${config.targetTasksPerWorker}`);
  }
  if (
    config.targetLatencyMs !== undefined &&
    !(config.targetLatencyMs > 0 && Number.isFinite(config.targetLatencyMs))
  ) {
    throw problem(`targetLatencyMs must be > 0, got ${config.targetLatencyMs}`);
  }
  for (const name of ["scaleUpCooldownMs", "scaleDownCooldownMs"] as const) {
    if (!(config[name] >= 0 && Number.isFinite(config[name]))) {
      throw problem(`${name} must be ≥ 0 ms, got ${config[name]}`);
    }
  }
  const h = config.hysteresis ?? 0.2;
  if (!(h >= 0 && h < 1)) throw problem(`hysteresis must be in [0, 1), got ${h}`);
  const window = config.scaleDownWindowMs ?? 0;
  if (!(window >= 0 && Number.isFinite(window))) {
    throw problem(`scaleDownWindowMs must be ≥ 0 ms, got ${window}`);
  }
  const timeout = config.spawnTimeoutMs ?? 60_000;
  if (!(timeout > 0)) throw problem(`spawnTimeoutMs must be > 0, got ${timeout}`);
}
