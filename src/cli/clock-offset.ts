import { type Clock, systemClock } from "../core/clock.js";
import { offsetClock } from "../core/offset-clock.js";
import { ConfigError } from "../errors/index.js";

/** The environment variable that moves this process's clock (fault tests, operations). */
export const CLOCK_OFFSET_ENV = "CONCLAVE_CLOCK_OFFSET_MS";

/**
 * The clock `conclave up`/`agent` run on: the system clock, moved by
 * `CONCLAVE_CLOCK_OFFSET_MS` milliseconds when it is set (e.g. `300000`:
 * five minutes ahead, `-300000`: behind), as a machine whose clock is off
 * would run. Undefined when unset (the runtime's default).
 *
 * @throws ConfigError when the value is not a whole number of milliseconds.
 */
export function clockFromEnvironment(env: NodeJS.ProcessEnv = process.env): Clock | undefined {
  const raw = env[CLOCK_OFFSET_ENV];
  if (raw === undefined || raw.trim() === "") return undefined;
  const offset = Number(raw);
  if (!Number.isSafeInteger(offset)) {
    throw new ConfigError(
      `${CLOCK_OFFSET_ENV}=${JSON.stringify(raw)} is not a whole number of milliseconds; write e.g. 300000 (5 minutes ahead) or -300000, or unset it`,
    );
  }
  return offsetClock(systemClock, offset);
}
