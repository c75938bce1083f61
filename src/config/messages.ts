// Wording shared by the schema and the loader, so every problem in a swarm
// file reads the same way: what was expected, what was found, and a likely fix.

const MAX_SHOWN_CHARS = 60;

/** A short human rendering of a value found in the file, e.g. `"strict"`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string": {
      const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}…` : value;
      return JSON.stringify(shown);
    }
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "object":
      return "a mapping";
    default:
      return typeof value;
  }
}

/** Renders names as `"a", "b", "c"` for "expected one of" messages. */
export function quoteList(names: readonly unknown[]): string {
  return names.map((name) => JSON.stringify(name)).join(", ");
}

// Optimal string alignment distance: Levenshtein plus adjacent
// transpositions, because swapped letters ("ordreing") are the most common typo.
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

// Case and separators are ignored so that `ack_wait_ms` and `AckWaitMs`
// still find `ackWaitMs`: snake_case habits from other tools are typical.
function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_\s]/g, "");
}

/**
 * The candidate closest to `input`, if it is close enough to be a plausible
 * typo (at most a third of its letters wrong, and never more than 3).
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const wanted = normalise(input);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalise(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

/** ` (did you mean "x"?)` when a close candidate exists, else the empty string. */
export function didYouMean(input: unknown, candidates: readonly string[]): string {
  if (typeof input !== "string") return "";
  const match = closestMatch(input, candidates);
  return match === undefined || match === input ? "" : ` (did you mean ${JSON.stringify(match)}?)`;
}
