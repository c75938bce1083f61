import { type Clock, systemClock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { ConfigError, NoRouteError, TimeoutError, toError } from "../errors/index.js";
import type { AgentCard } from "../registry/agent-card.js";
import { AllCandidatesFailedError, type RouteFailure } from "./errors.js";
import {
  explore,
  orderByKey,
  type Reputation,
  type RoutingStrategy,
  reputationScore,
  rotateAfter,
  routingStrategies,
  sortById,
  unknownReputation,
  updateReputation,
} from "./strategies.js";

/** Construction settings of a router. */
export interface RouterConfig {
  readonly strategy: RoutingStrategy;
  /** Source of exploration draws (reputation strategy); seed it for replayable runs. */
  readonly random: Random;
  /** EWMA weight of each new outcome, in (0, 1]. Default 0.2 (about the last 10 calls matter). */
  readonly alpha?: number;
  /** Latency at which the reputation score halves. Default 1000 ms. */
  readonly latencyScaleMs?: number;
  /** Probability that `order` puts a non-best candidate first (reputation only). Default 0.1. */
  readonly exploration?: number;
  /** Measures latency and runs timeouts in `routeWithFailover`. Default: the system clock. */
  readonly clock?: Clock;
}

/** The outcome of one call to an agent, reported through `end`. */
export interface CallOutcome {
  readonly ok: boolean;
  readonly latencyMs: number;
}

/** Per-call settings of `routeWithFailover`. */
export interface FailoverOptions {
  /** Most candidates to try. Default: all of them. */
  readonly maxAttempts?: number;
  /** Per-attempt deadline: the attempt's signal is aborted and the next candidate tried. Default: none. */
  readonly timeoutMs?: number;
  /**
   * Whether an error should move on to the next candidate. Return false for
   * errors no other agent can fix (bad input): the error is then rethrown
   * unwrapped. Default: always fail over.
   */
  readonly shouldFailover?: (error: Error, card: AgentCard) => boolean;
}

/**
 * Ranks the live candidates of a role and learns from outcomes. It does not
 * discover candidates: pass it `registry.find({ role, cardStatus: "active" })`
 * cards (already filtered to trusted agents). State is bounded by the agents
 * and roles it has seen; call `forget` when an agent leaves.
 */
export interface Router {
  readonly strategy: RoutingStrategy;
  /**
   * Every candidate, most preferred first, duplicates removed: try the first,
   * fail over to the next. Advances the role's round-robin cursor.
   */
  order(candidates: readonly AgentCard[], role: string): AgentCard[];
  /** A request to the agent started (counts towards least-loaded). */
  begin(agentId: string): void;
  /** A request to the agent finished: ends its in-flight count and updates its reputation. */
  end(agentId: string, outcome: CallOutcome): void;
  /** Requests in flight to the agent, as counted by begin/end. */
  inFlight(agentId: string): number;
  /** What has been learned about the agent; the optimistic prior if nothing. */
  reputation(agentId: string): Reputation;
  /** Drops everything known about the agent (call on `agent.left`). */
  forget(agentId: string): void;
  /**
   * Tries candidates in `order`, recording each outcome, until one succeeds.
   * Throws `NoRouteError` when there is no candidate, and
   * `AllCandidatesFailedError` (cause: the last error) when all tried failed;
   * `ConfigError`, before trying any, for a `maxAttempts` below 1 or a
   * `timeoutMs` not above 0.
   */
  routeWithFailover<T>(
    candidates: readonly AgentCard[],
    role: string,
    attempt: (card: AgentCard, signal: AbortSignal) => Promise<T>,
    options?: FailoverOptions,
  ): Promise<T>;
}

/**
 * Creates a router.
 *
 * @example
 * ```ts
 * const router = createRouter({ strategy: "reputation", random: seededRandom(7) });
 * const cards = registry.find({ role: "reviewer", cardStatus: "active" }).map((e) => e.card);
 * const review = await router.routeWithFailover(cards, "reviewer", (card, signal) =>
 *   transport.request(`swarm.rpc.${card.id}`, envelope, { signal }),
 *   { timeoutMs: 30_000, maxAttempts: 3 });
 * ```
 */
export function createRouter(config: RouterConfig): Router {
  if (!routingStrategies.includes(config.strategy)) {
    throw new ConfigError(
      `unknown routing strategy "${config.strategy}"; use one of ${routingStrategies.join(", ")}`,
    );
  }
  const alpha = config.alpha ?? 0.2;
  if (!(alpha > 0 && alpha <= 1)) {
    throw new ConfigError(`router alpha must be in (0, 1], got ${alpha}`);
  }
  const latencyScaleMs = config.latencyScaleMs ?? 1000;
  if (!(latencyScaleMs > 0 && Number.isFinite(latencyScaleMs))) {
    throw new ConfigError(`router latencyScaleMs must be a positive number, got ${latencyScaleMs}`);
  }
  const exploration = config.exploration ?? 0.1;
  if (!(exploration >= 0 && exploration <= 1)) {
    throw new ConfigError(`router exploration must be in [0, 1], got ${exploration}`);
  }
  return new RouterImpl(
    config.strategy,
    config.random,
    alpha,
    latencyScaleMs,
    exploration,
    config.clock ?? systemClock,
  );
}

class RouterImpl implements Router {
  readonly strategy: RoutingStrategy;
  readonly #random: Random;
  readonly #alpha: number;
  readonly #latencyScaleMs: number;
  readonly #exploration: number;
  readonly #clock: Clock;
  /** Last id placed first, per role: the round-robin cursor (and tie-breaker for the others). */
  readonly #lastPick = new Map<string, string>();
  /** Only non-zero counts are kept. */
  readonly #inFlight = new Map<string, number>();
  readonly #reputations = new Map<string, Reputation>();

  constructor(
    strategy: RoutingStrategy,
    random: Random,
    alpha: number,
    latencyScaleMs: number,
    exploration: number,
    clock: Clock,
  ) {
    this.strategy = strategy;
    this.#random = random;
    this.#alpha = alpha;
    this.#latencyScaleMs = latencyScaleMs;
    this.#exploration = exploration;
    this.#clock = clock;
  }

  order(candidates: readonly AgentCard[], role: string): AgentCard[] {
    if (candidates.length === 0) return [];
    // Rotation is the base order of every strategy so that ties spread load
    // instead of always landing on the smallest id.
    const rotated = rotateAfter(sortById(candidates), this.#lastPick.get(role));
    let ordered: AgentCard[];
    switch (this.strategy) {
      case "round-robin":
        ordered = rotated;
        break;
      case "least-loaded":
        ordered = orderByKey(rotated, (id) => this.inFlight(id));
        break;
      case "reputation":
        ordered = explore(
          orderByKey(rotated, (id) => -reputationScore(this.reputation(id), this.#latencyScaleMs)),
          this.#random,
          this.#exploration,
        );
        break;
    }
    this.#lastPick.set(role, ordered[0]!.id);
    return ordered;
  }

  begin(agentId: string): void {
    this.#inFlight.set(agentId, this.inFlight(agentId) + 1);
  }

  end(agentId: string, outcome: CallOutcome): void {
    const count = this.inFlight(agentId) - 1;
    if (count > 0) this.#inFlight.set(agentId, count);
    else this.#inFlight.delete(agentId);
    this.#reputations.set(
      agentId,
      updateReputation(this.reputation(agentId), outcome, this.#alpha),
    );
  }

  inFlight(agentId: string): number {
    return this.#inFlight.get(agentId) ?? 0;
  }

  reputation(agentId: string): Reputation {
    return this.#reputations.get(agentId) ?? unknownReputation;
  }

  forget(agentId: string): void {
    this.#inFlight.delete(agentId);
    this.#reputations.delete(agentId);
  }

  async routeWithFailover<T>(
    candidates: readonly AgentCard[],
    role: string,
    attempt: (card: AgentCard, signal: AbortSignal) => Promise<T>,
    options: FailoverOptions = {},
  ): Promise<T> {
    const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    if (!(maxAttempts >= 1)) {
      throw new ConfigError(`maxAttempts must be at least 1, got ${options.maxAttempts}`);
    }
    // 0, a negative or NaN would time every attempt out at once (a node timer fires after 1 ms).
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
      throw new ConfigError(
        `timeoutMs must be a number of ms > 0 (each candidate's time to answer), got ${options.timeoutMs}; omit it for no deadline`,
      );
    }
    const ordered = this.order(candidates, role);
    if (ordered.length === 0) throw new NoRouteError(role);
    const failures: RouteFailure[] = [];
    for (const card of ordered.slice(0, Math.min(ordered.length, maxAttempts))) {
      this.begin(card.id);
      const started = this.#clock.now();
      try {
        const value = await this.#attemptOnce(attempt, card, options.timeoutMs);
        this.end(card.id, { ok: true, latencyMs: this.#clock.now() - started });
        return value;
      } catch (thrown) {
        const error = toError(thrown);
        this.end(card.id, { ok: false, latencyMs: this.#clock.now() - started });
        if (options.shouldFailover !== undefined && !options.shouldFailover(error, card)) {
          throw error;
        }
        failures.push({ agentId: card.id, error });
      }
    }
    throw new AllCandidatesFailedError(role, failures);
  }

  async #attemptOnce<T>(
    attempt: (card: AgentCard, signal: AbortSignal) => Promise<T>,
    card: AgentCard,
    timeoutMs: number | undefined,
  ): Promise<T> {
    const controller = new AbortController();
    if (timeoutMs === undefined) return await attempt(card, controller.signal);
    let cancelTimer: (() => void) | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      cancelTimer = this.#clock.setTimer(() => {
        const error = new TimeoutError(
          `agent ${card.id} did not answer within ${timeoutMs} ms; raise timeoutMs if the work is slow`,
        );
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      // Inside the try: an attempt that throws synchronously must cancel the
      // timer too, or it fires later and rejects `timedOut` with nobody listening.
      const call = attempt(card, controller.signal);
      // The losing call may still reject after the timeout won; that is expected, not unhandled.
      Promise.resolve(call).catch(() => {});
      return await Promise.race([call, timedOut]);
    } finally {
      cancelTimer?.();
    }
  }
}
