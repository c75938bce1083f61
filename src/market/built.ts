/**
 * What the auction state machine built itself, from state it checked on the
 * way in (terms through `resolveTerms`, bids through the gate and the rules):
 * its calls for proposals, its results, and the award bodies made from those
 * results. `createCfp` and `createAward` sign such a body without running its
 * schema again; any other body (a caller's own) is checked in full, and so is
 * every body a node receives (`parseCfpBody`, `parseAwardBody`): a message is
 * only spared the check on the side that built it.
 *
 * Marked objects are frozen, so a marked body cannot change after it was
 * built. Their nested values are the state machine's own.
 *
 * @internal
 */
const built = new WeakSet<object>();

/** Freezes `value` and marks it built by the auction state machine. */
export function markBuilt<T extends object>(value: T): T {
  built.add(Object.freeze(value));
  return value;
}

/** Whether `value` was built by the auction state machine (and so is valid by construction). */
export function isBuilt(value: unknown): boolean {
  return typeof value === "object" && value !== null && built.has(value);
}
