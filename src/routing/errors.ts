import { ConclaveError } from "../errors/index.js";

/** One failed attempt of a failover sequence. */
export interface RouteFailure {
  readonly agentId: string;
  readonly error: Error;
}

/**
 * Every candidate tried for a role failed (threw or timed out). `failures`
 * lists each attempt in order; `cause` is the last error.
 *
 * @example
 * ```ts
 * try { await router.routeWithFailover(cards, "reviewer", send); }
 * catch (err) { if (err instanceof AllCandidatesFailedError) log.warn(err.failures); }
 * ```
 */
export class AllCandidatesFailedError extends ConclaveError {
  constructor(
    readonly role: string,
    readonly failures: readonly RouteFailure[],
  ) {
    const last = failures[failures.length - 1];
    super(
      "E_ALL_CANDIDATES_FAILED",
      `all ${failures.length} agent(s) tried for role "${role}" failed` +
        (last === undefined ? "" : `; last (${last.agentId}): ${last.error.message}`) +
        "; check those agents' health or retry later",
      { cause: last?.error },
    );
  }
}
