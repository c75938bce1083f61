/**
 * A circuit breaker per model, as a pure state machine: time is passed in
 * (`now`, from the injected clock), nothing is scheduled.
 *
 * closed ──(N consecutive failures)──▶ open ──(cool-down passed, one trial
 * admitted)──▶ half-open ──(trial succeeds)──▶ closed
 *                                       └──(trial fails)──▶ open again
 *
 * While open, calls skip the model (the caller falls back); while half-open,
 * only the trial call is admitted, so a model that is still down gets one
 * request per cool-down rather than a herd.
 */

export type BreakerState = "closed" | "open" | "half-open";

/** When a {@link CircuitBreaker} opens and how long it stays open. */
export interface CircuitBreakerConfig {
  /** Consecutive failures that open the breaker. */
  readonly failures: number;
  /** How long it stays open before admitting a trial, in ms. */
  readonly coolDownMs: number;
}

/**
 * Stops calling a model that keeps failing: after `failures` consecutive
 * failures it opens and refuses calls for `coolDownMs`, then admits one trial
 * call (half-open) whose outcome closes or reopens it.
 */
export class CircuitBreaker {
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor(readonly config: CircuitBreakerConfig) {}

  /** The state at `now` (an open breaker whose cool-down passed reads as half-open). */
  state(now: number): BreakerState {
    if (this.#state === "open" && now >= this.#openedAt + this.config.coolDownMs) {
      return "half-open";
    }
    return this.#state;
  }

  /** When an open breaker admits its trial; undefined unless open. */
  retryAt(): number | undefined {
    return this.#state === "open" ? this.#openedAt + this.config.coolDownMs : undefined;
  }

  /**
   * Whether a call may go to the model now. Admitting the trial of a
   * half-open breaker reserves it: further calls are refused until the
   * trial reports `success` or `failure`.
   */
  tryAcquire(now: number): boolean {
    const state = this.state(now);
    if (state === "closed") return true;
    if (state === "open" || this.#trialInFlight) return false;
    this.#state = "half-open";
    this.#trialInFlight = true;
    return true;
  }

  /** The model answered (or refused the request itself: it is reachable). */
  success(): void {
    this.#state = "closed";
    this.#failures = 0;
    this.#trialInFlight = false;
  }

  /** An attempt failed in a way that says the model is unwell (429, 5xx, network, timeout). */
  failure(now: number): void {
    this.#trialInFlight = false;
    if (this.#state === "half-open") {
      this.#open(now);
      return;
    }
    if (this.#state === "open") return;
    this.#failures++;
    if (this.#failures >= this.config.failures) this.#open(now);
  }

  /** The call ended without a verdict (the caller gave up): a reserved trial is freed for the next call. */
  abandon(): void {
    this.#trialInFlight = false;
  }

  #open(now: number): void {
    this.#state = "open";
    this.#openedAt = now;
    this.#failures = 0;
  }
}
