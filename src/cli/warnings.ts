/**
 * Node process warnings as structured log lines. The adapters report the
 * failures nobody awaits (a dedup prune that failed, a lost consumer) as
 * process warnings, which Node prints as free text in the middle of the
 * CLI's JSON logs; while a command runs they go to its pino log instead.
 */
import pino from "pino";

/**
 * Replaces Node's printing of process warnings with a `warn` line on
 * `destination` (stderr by default) at the level `level()` names when the
 * warning comes. Returns the function that puts Node's printing back.
 */
export function logProcessWarnings(
  level: () => string,
  destination: pino.DestinationStream = pino.destination(2),
): () => void {
  let log: pino.Logger | undefined;
  const previous = process.listeners("warning");
  process.removeAllListeners("warning");
  const listener = (warning: Error & { code?: string }) => {
    log ??= pino({ name: "conclave", level: level() }, destination);
    log.warn(
      {
        event: "warning",
        warning: warning.name,
        ...(warning.code === undefined ? {} : { code: warning.code }),
      },
      warning.message,
    );
  };
  process.on("warning", listener);
  return () => {
    process.off("warning", listener);
    for (const restored of previous) process.on("warning", restored);
  };
}
