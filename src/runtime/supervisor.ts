import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { assertBackoffPolicy, type BackoffPolicy, backoffDelay } from "../delivery/backoff.js";
import { ClosedError, ConfigError, toError } from "../errors/index.js";

/**
 * A running child (an agent loop, a consumer, an adapter connection) as the
 * supervisor sees it.
 */
export interface ChildHandle {
  /** Settles once when the child ends: with an Error if it crashed, void if it finished normally. */
  // biome-ignore lint/suspicious/noConfusingVoidType: void, not undefined, so that a plain `async () => {}` run loop's promise fits.
  readonly exited: Promise<Error | void>;
  /** Asks the child to end; resolves when it has. Called at most once per child by the supervisor. */
  stop(): Promise<void>;
}

/**
 * - `idle`: created, `start()` not called yet;
 * - `running`: a child is running or its first start is pending;
 * - `restarting`: waiting out a backoff delay, or starting a replacement;
 * - `stopped`: `stop()` was called or the child ended normally; final;
 * - `failed`: restart intensity exceeded; final.
 */
export type SupervisorState = "idle" | "running" | "restarting" | "stopped" | "failed";

/** What happened to the supervised child. `at` is the clock time. */
export type SupervisorEvent =
  | {
      readonly type: "started";
      readonly name: string;
      readonly at: number;
      readonly restart: number;
    }
  | {
      readonly type: "crashed";
      readonly name: string;
      readonly at: number;
      readonly error: Error;
      /** Which restart this crash triggers, counted over the supervisor's life from 1. */
      readonly restart: number;
      readonly delayMs: number;
    }
  | { readonly type: "exited"; readonly name: string; readonly at: number }
  | {
      readonly type: "gave-up";
      readonly name: string;
      readonly at: number;
      readonly error: Error;
      readonly restarts: number;
    }
  | { readonly type: "stopped"; readonly name: string; readonly at: number };

/** Construction settings of a supervisor. */
export interface SupervisorConfig {
  /** Names the child in events and errors. */
  readonly name: string;
  /** Starts one child. A rejection counts as a crash. */
  readonly start: () => Promise<ChildHandle>;
  /** Spacing of restarts; retry n is the n-th crash within the current window. */
  readonly backoff: BackoffPolicy;
  /** Restarts allowed within `windowMs`; one more crash in the window gives up. 0: never restart. */
  readonly maxRestarts: number;
  /** The sliding window of the restart intensity, in ms. */
  readonly windowMs: number;
  readonly clock: Clock;
  /** Jitter source for the backoff. */
  readonly random: Random;
  /** Observer of lifecycle events. An exception it throws is ignored: it must not break supervision. */
  readonly onEvent?: (event: SupervisorEvent) => void;
}

/**
 * Restarts a crashed child with backoff, Erlang style: more than
 * `maxRestarts` crashes within `windowMs` and it gives up (`failed`).
 */
export interface Supervisor {
  readonly name: string;
  readonly state: SupervisorState;
  /** Restarts so far. */
  readonly restarts: number;
  /**
   * Starts supervising. Resolves when the first start attempt has settled:
   * the child runs, or its failure was handled as a crash. Idempotent while
   * running; rejects with `ClosedError` once stopped or failed.
   */
  start(): Promise<void>;
  /**
   * Stops the child and any pending restart; idempotent. Rejects only if the
   * child's own `stop()` rejects, and the supervisor is stopped regardless.
   * A no-op once stopped or failed.
   */
  stop(): Promise<void>;
  /** Resolves when supervision ends: void when stopped or ended normally, the last error when it gave up. */
  // biome-ignore lint/suspicious/noConfusingVoidType: mirrors ChildHandle.exited and nats.js closed().
  closed(): Promise<Error | void>;
}

/**
 * Creates a supervisor; nothing runs until `start()`.
 *
 * @example
 * ```ts
 * const supervisor = createSupervisor({
 *   name: "agent reviewer-1",
 *   start: async () => runAgentLoop(agent),
 *   backoff: defaultBackoff,
 *   maxRestarts: 5,
 *   windowMs: 60_000,
 *   clock: systemClock,
 *   random: systemRandom,
 *   onEvent: (event) => log.info(event),
 * });
 * await supervisor.start();
 * // ... on shutdown:
 * await supervisor.stop();
 * ```
 */
export function createSupervisor(config: SupervisorConfig): Supervisor {
  if (!(Number.isInteger(config.maxRestarts) && config.maxRestarts >= 0)) {
    throw new ConfigError(
      `supervisor "${config.name}": maxRestarts must be a non-negative integer, got ${config.maxRestarts}`,
    );
  }
  if (!(config.windowMs > 0)) {
    throw new ConfigError(
      `supervisor "${config.name}": windowMs must be positive, got ${config.windowMs}`,
    );
  }
  return new SupervisorImpl(config);
}

class SupervisorImpl implements Supervisor {
  readonly #config: SupervisorConfig;
  #state: SupervisorState = "idle";
  #restarts = 0;
  /** Crash times within the window, oldest first; never longer than maxRestarts + 1. */
  #recentCrashes: number[] = [];
  #child: ChildHandle | undefined;
  /** A start in progress, so that `stop()` can stop the child it yields. */
  #starting: Promise<ChildHandle> | undefined;
  /** Bumped per launch and on stop: exits and starts of an older generation are ignored. */
  #generation = 0;
  #cancelRestart: (() => void) | undefined;
  #firstStart: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #closed: Promise<Error | undefined>;
  #resolveClosed!: (result?: Error) => void;

  constructor(config: SupervisorConfig) {
    assertBackoffPolicy(config.backoff, `supervisor ${config.name}: backoff`);
    this.#config = config;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get name(): string {
    return this.#config.name;
  }

  get state(): SupervisorState {
    return this.#state;
  }

  get restarts(): number {
    return this.#restarts;
  }

  start(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "failed") {
      return Promise.reject(new ClosedError(`supervisor "${this.#config.name}"`));
    }
    if (this.#firstStart !== undefined) return this.#firstStart;
    this.#state = "running";
    this.#firstStart = this.#launch(0);
    return this.#firstStart;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  async #stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "failed") return;
    this.#generation++;
    this.#cancelRestart?.();
    this.#cancelRestart = undefined;
    this.#state = "stopped";
    const child = this.#child;
    const starting = this.#starting;
    this.#child = undefined;
    this.#starting = undefined;
    try {
      if (child !== undefined) {
        await child.stop();
      } else if (starting !== undefined) {
        // The start began before stop(); its child belongs to nobody else, so stop it here.
        const late = await starting.catch(() => undefined);
        await late?.stop();
      }
    } finally {
      this.#emit({ type: "stopped", name: this.name, at: this.#config.clock.now() });
      this.#resolveClosed();
    }
  }

  async #launch(restart: number): Promise<void> {
    const generation = ++this.#generation;
    let child: ChildHandle;
    try {
      const starting = Promise.resolve(this.#config.start());
      this.#starting = starting;
      child = await starting;
    } catch (thrown) {
      if (generation !== this.#generation) return;
      this.#starting = undefined;
      this.#crashed(toError(thrown));
      return;
    }
    if (generation !== this.#generation) return;
    this.#starting = undefined;
    this.#child = child;
    this.#state = "running";
    this.#emit({ type: "started", name: this.name, at: this.#config.clock.now(), restart });
    child.exited.then(
      (result) => this.#exited(generation, result ?? undefined),
      (thrown: unknown) => this.#exited(generation, toError(thrown)),
    );
  }

  #exited(generation: number, result: Error | undefined): void {
    if (generation !== this.#generation) return;
    this.#child = undefined;
    if (result instanceof Error) {
      this.#crashed(result);
      return;
    }
    this.#state = "stopped";
    this.#emit({ type: "exited", name: this.name, at: this.#config.clock.now() });
    this.#resolveClosed();
  }

  #crashed(error: Error): void {
    const { clock, windowMs, maxRestarts, backoff, random } = this.#config;
    const now = clock.now();
    while (this.#recentCrashes.length > 0 && this.#recentCrashes[0]! <= now - windowMs) {
      this.#recentCrashes.shift();
    }
    this.#recentCrashes.push(now);
    if (this.#recentCrashes.length > maxRestarts) {
      this.#generation++;
      this.#state = "failed";
      this.#emit({ type: "gave-up", name: this.name, at: now, error, restarts: this.#restarts });
      this.#resolveClosed(error);
      return;
    }
    this.#restarts++;
    const restart = this.#restarts;
    // Backoff grows with crashes in the window, not over the supervisor's
    // life: a child that has been stable for windowMs restarts quickly again.
    const delayMs = backoffDelay(this.#recentCrashes.length, backoff, random);
    this.#state = "restarting";
    this.#emit({ type: "crashed", name: this.name, at: now, error, restart, delayMs });
    this.#cancelRestart = clock.setTimer(() => {
      this.#cancelRestart = undefined;
      void this.#launch(restart);
    }, delayMs);
  }

  #emit(event: SupervisorEvent): void {
    try {
      this.#config.onEvent?.(event);
    } catch {
      // An observer's bug must not stop a child from being supervised.
    }
  }
}
