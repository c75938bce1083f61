/**
 * The guard in front of a privileged action, as one pure check used by the
 * library ({@link requireApproval}) and by the engine's task guard alike:
 * the decision must be an approval of exactly this action (and data), and
 * verify. Finding the decision and consuming the approval once are the
 * caller's (the engine does both in its store).
 */
import { AuditChainError, QuorumNotReachedError, UnapprovedActionError } from "../errors/index.js";
import { sha256Canonical } from "../wire/canonical.js";
import { checkDecision, type DecisionCheck } from "./audit-verify.js";
import type { VerifyDecisionOptions } from "./decision.js";
import type { Decision } from "./seal.js";

/** What {@link approvalProblem} checks a decision against. */
export interface ApprovalCheckOptions {
  /** The privileged action about to run, e.g. `funds.transfer`. */
  readonly action: string;
  /**
   * The data the action is about to run with (a task's body): it must have
   * the same canonical JSON as the approved proposal's `data`. Unchecked
   * when the property is absent (then run the action with
   * `decision.proposal.data`, nothing else).
   */
  readonly data?: unknown;
  /**
   * What the decision is verified against: a configuration (keys, voters,
   * threshold), or the trust a runtime decision's carried rule is
   * cross-checked with (see `DecisionCheck`).
   */
  readonly trust: DecisionCheck;
}

/** Why a decision does not approve an action: the reason, and the more specific error behind it, if any. */
export interface ApprovalProblem {
  readonly reason: string;
  /** `QuorumNotReachedError` for a `no-quorum` outcome, `AuditChainError` for a decision that does not verify. */
  readonly cause?: QuorumNotReachedError | AuditChainError;
}

/**
 * Why `decision` does not let `action` run, or undefined when it is an
 * approved decision of exactly that action (and data), that verifies. The
 * cheap checks come first; the decision's signatures and tally last.
 */
export function approvalProblem(
  decision: Decision,
  options: ApprovalCheckOptions,
): ApprovalProblem | undefined {
  const proposal = decision.proposal;
  if (proposal?.action !== options.action) {
    return { reason: `the decision approves "${String(proposal?.action)}", not this action` };
  }
  if (decision.outcome === "no-quorum") {
    const cause = new QuorumNotReachedError(proposal.id);
    return { reason: cause.message, cause };
  }
  if (decision.outcome !== "approved") {
    return { reason: `proposal ${proposal.id} was ${decision.outcome}` };
  }
  if (
    Object.hasOwn(options, "data") &&
    sha256Canonical(options.data) !== sha256Canonical(proposal.data)
  ) {
    return { reason: `the task's body is not the data proposal ${proposal.id} approved` };
  }
  const problem = checkDecision(decision, options.trust);
  if (problem !== undefined) {
    const reason = `the decision on proposal ${proposal.id} does not verify (${problem}); inspect the audit log with conclave audit verify`;
    return { reason, cause: new AuditChainError(reason) };
  }
  return undefined;
}

/** The error a guard throws for a {@link ApprovalProblem}: always `UnapprovedActionError`, its `cause` the specific one. */
export function approvalError(action: string, problem: ApprovalProblem): UnapprovedActionError {
  return new UnapprovedActionError(
    action,
    problem.reason,
    problem.cause === undefined ? undefined : { cause: problem.cause },
  );
}

/** Options of {@link requireApproval}. */
export interface RequireApprovalOptions extends VerifyDecisionOptions {
  /** The privileged action about to run, e.g. `funds.transfer`. */
  readonly action: string;
}

/**
 * The guard in front of a privileged action: returns the decision if it is
 * a verified, sealed approval of exactly `action`, and throws otherwise.
 * Run the action with `decision.proposal.data`, nothing else. The same
 * check ({@link approvalProblem}) as the engine's guard of privileged tasks.
 *
 * @throws UnapprovedActionError whenever the action may not run: without a
 *   decision, for another action, when the outcome is not `approved`, or
 *   when the decision fails verification. Its `cause` is a
 *   `QuorumNotReachedError` for a `no-quorum` outcome and an
 *   `AuditChainError` for a decision that does not verify.
 *
 * @example
 * ```ts
 * const approved = requireApproval(decision, { action: "backup.delete", publicKeys, voters, threshold });
 * await deleteBackup(approved.proposal.data);
 * ```
 */
export function requireApproval(
  decision: Decision | undefined,
  options: RequireApprovalOptions,
): Decision {
  if (decision === undefined) {
    throw new UnapprovedActionError(options.action, "there is no decision for it");
  }
  const { action, ...trust } = options;
  const problem = approvalProblem(decision, { action, trust });
  if (problem !== undefined) throw approvalError(action, problem);
  return decision;
}
