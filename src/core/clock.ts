/**
 * Time comes from an injected clock so that protocols, tests and the
 * simulator can run on virtual time. Production code uses `systemClock`.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Runs `fn` once after `ms` milliseconds. Returns a function that cancels it;
   * cancelling twice or after it ran is a no-op. A pending timer keeps the
   * process alive, so whoever sets one cancels it on close.
   */
  setTimer(fn: () => void, ms: number): () => void;
}

/**
 * The longest delay one Node timer holds, ms (about 24.8 days): `setTimeout`
 * fires a longer one after 1 ms, with a `TimeoutOverflowWarning`.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Node's timers, each at most {@link MAX_TIMER_MS}. */
const nodeTimers: Clock = {
  now: () => Date.now(),
  setTimer(fn: () => void, ms: number): () => void {
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  },
};

/**
 * Runs `fn` once at `clock.now() + ms`, however long that is, on a clock
 * whose timers hold at most {@link MAX_TIMER_MS}: a longer wait is chained
 * from such timers. Returns a function that cancels it.
 */
export function setLongTimer(clock: Clock, fn: () => void, ms: number): () => void {
  const due = clock.now() + Math.max(0, ms);
  let cancelled = false;
  let cancel: () => void = () => undefined;
  const arm = (wait: number) => {
    cancel = clock.setTimer(() => {
      if (cancelled) return;
      const left = due - clock.now();
      if (left > 0 && wait === MAX_TIMER_MS) arm(Math.min(left, MAX_TIMER_MS));
      else fn();
    }, wait);
  };
  arm(Math.min(Math.max(0, ms), MAX_TIMER_MS));
  return () => {
    cancelled = true;
    cancel();
  };
}

/** The wall clock and node's timers; a wait longer than Node's timers hold is chained. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(fn: () => void, ms: number): () => void {
    return ms > MAX_TIMER_MS ? setLongTimer(nodeTimers, fn, ms) : nodeTimers.setTimer(fn, ms);
  },
});

/**
 * A clock that only moves when told to. Timers fire in due order during
 * `advance`. For tests and the simulator.
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  #seq = 0;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (!next || next.at > target) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }
}
