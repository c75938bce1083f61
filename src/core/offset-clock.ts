import type { Clock } from "./clock.js";

/**
 * `clock` moved by `offsetMs` (positive: ahead; negative: behind); timers
 * keep their durations. For fault tests and operations: one node whose
 * clock is off, as an unsynchronised machine's would be.
 *
 * @example
 * ```ts
 * const fiveMinutesAhead = offsetClock(systemClock, 5 * 60_000);
 * ```
 */
export function offsetClock(clock: Clock, offsetMs: number): Clock {
  if (offsetMs === 0) return clock;
  return Object.freeze({
    now: () => clock.now() + offsetMs,
    setTimer: (fn: () => void, ms: number) => clock.setTimer(fn, ms),
  });
}
