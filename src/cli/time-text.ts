/**
 * A stored time in ms since 1970 as a person reads it: ISO 8601 when a Date
 * can hold it, else the raw number with a note. A store's times come from
 * other nodes and may be corrupt; `new Date(at).toISOString()` throws a
 * RangeError past ±8.64e15 ms, which would end a read-only command with a
 * stack trace instead of showing the rest.
 *
 * @example
 * ```ts
 * timeText(0); // "1970-01-01T00:00:00.000Z"
 * timeText(9e15); // "(invalid time 9000000000000000)"
 * ```
 */
export function timeText(at: number): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime())
    ? `(invalid time ${at.toLocaleString("en-US", { useGrouping: false })})`
    : date.toISOString();
}
