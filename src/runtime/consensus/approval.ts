/**
 * The guard in front of privileged tasks: a task of a privileged type runs
 * only with the seal of an approved, verifiable decision for exactly that
 * action and data, and that approval is consumed by the first task that
 * carries it (per proposal, in the store), so its action runs once.
 */

import { approvalError, approvalProblem } from "../../consensus/approval.js";
import { UnapprovedActionError } from "../../errors/index.js";
import type { Envelope } from "../../wire/envelope.js";
import { APPROVAL_HEADER } from "../subjects.js";
import type { ConsensusContext } from "./context.js";
import type { DecisionLog } from "./sealing.js";

/** Whether `action` is a privileged action on this node's swarm. */
export function isPrivileged(host: ConsensusContext, action: string): boolean {
  return Object.hasOwn(host.privileged, action);
}

/**
 * Lets a task of a privileged type through only with the seal of a
 * sealed, verifiable approval of exactly that action and data, used by no
 * other task. Tasks of other types pass.
 *
 * The decision itself is checked by {@link approvalProblem}, as the
 * library's `requireApproval` does; finding it and consuming it are here.
 *
 * @throws UnapprovedActionError saying why not (its `cause` a
 *   `QuorumNotReachedError` for a `no-quorum` outcome, an `AuditChainError`
 *   for a decision that does not verify).
 */
export async function checkApproval(
  host: ConsensusContext,
  decisions: DecisionLog,
  task: string,
  envelope: Envelope,
): Promise<void> {
  if (!isPrivileged(host, task)) return;
  const seal = envelope.headers?.[APPROVAL_HEADER];
  if (seal === undefined || seal === "") {
    throw new UnapprovedActionError(
      task,
      `task ${envelope.id} carries no approval (submit it with { approval: decision.seal })`,
    );
  }
  const decision = await decisions.find(seal);
  if (decision === undefined) {
    throw new UnapprovedActionError(
      task,
      `no decision sealed ${seal.slice(0, 16)}… is in the audit log`,
    );
  }
  const problem = approvalProblem(decision, {
    action: task,
    data: envelope.body,
    trust: {
      privileged: host.privileged,
      roles: host.roles.names,
      trusted: (id) => host.keys.key(id),
    },
  });
  if (problem !== undefined) throw approvalError(task, problem);
  const proposal = decision.proposal;
  // Consumed per proposal, not per seal: the same decision sealed twice
  // (recorded again by a second node or a retried round) is still one
  // approval, and its action runs once.
  const claim = await host.store.claimIdempotencyKey(
    `consensus.approval:${proposal.id}`,
    envelope.id,
  );
  if (!claim.first && claim.result !== envelope.id) {
    throw new UnapprovedActionError(
      task,
      `the approval of proposal ${proposal.id} was already used by task ${String(claim.result)}; an approval runs its action once`,
    );
  }
}
