/**
 * The guard in front of privileged tasks: a task of a privileged type runs
 * only with the seal of an approved, verifiable decision for exactly that
 * action and data, and that approval is consumed by the first task that
 * carries it (per proposal, in the store), so its action runs once.
 */

import { approvalError, approvalProblem } from "../../consensus/approval.js";
import { HUMAN_ROLE, parseRuntimeProposal, type RuleVoter } from "../../consensus/rule.js";
import type { Decision } from "../../consensus/seal.js";
import { UnapprovedActionError } from "../../errors/index.js";
import { type Grant, sameKey } from "../../registry/admission.js";
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
  const stranger = unadmittedVoter(host, decision);
  if (stranger !== undefined) {
    throw new UnapprovedActionError(
      task,
      `the decision on proposal ${decision.proposal.id} counts ${stranger}; inspect the audit log with conclave audit verify`,
    );
  }
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

/**
 * A voter of the decision this node would not have let vote, described, or
 * undefined. In every admission mode, no agent that voted may be revoked or
 * refused here since. Under any admission but `open`, every agent that voted
 * must also be one this node admits (declared in the swarm file with that
 * role and weight, and the key it pins; admitted here by credential or vote
 * with that role, weight and key; or hosted here). A decision is sealed
 * into the shared audit log by whichever node ran the round: without this,
 * a node with write access to the store could mint an approval from voters
 * nobody admitted, and a revoked agent's vote would still carry an approval
 * sealed before its revocation. People vote under the action's `humans`,
 * which the decision's rule is checked against already.
 */
export function unadmittedVoter(
  host: ConsensusContext,
  decision: Decision,
  votedGrant?: (id: string) => Grant | undefined,
): string | undefined {
  const proposal = parseRuntimeProposal(decision.proposal);
  if (typeof proposal === "string") return `voters this node cannot read (${proposal})`;
  for (const voter of proposal.rule.voters) {
    if (voter.role === HUMAN_ROLE) continue;
    const problem = refusedVoter(host, voter.id) ?? unadmittedAs(host, voter, votedGrant);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Voter `id` described when this node refuses it: revoked, in every
 * admission mode; refused for any other reason, in every mode but `open`
 * (as before revocation was checked here). The rounds this node
 * coordinates count no vote from such a voter either.
 */
export function refusedVoter(
  host: Pick<ConsensusContext, "admission" | "keys">,
  id: string,
): string | undefined {
  const refusal = host.admission.refusal(id);
  if (host.keys.revoked(id) || refusal?.code === "E_REVOKED") {
    return `voter ${id}, refused here (E_REVOKED)`;
  }
  if (refusal === undefined || host.admission.policy.mode === "open") return undefined;
  return `voter ${id}, refused here (${refusal.code})`;
}

/**
 * A voter this node never admitted as it voted (role, weight, key),
 * described; always undefined under `open` admission, which admits anyone.
 */
function unadmittedAs(
  host: ConsensusContext,
  voter: RuleVoter,
  votedGrant: ((id: string) => Grant | undefined) | undefined,
): string | undefined {
  const { admission } = host;
  const { policy } = admission;
  if (policy.mode === "open") return undefined;
  const grant = admission.grant(voter.id) ?? votedGrant?.(voter.id);
  const granted: { role: string; weight: number; publicKey?: string } | undefined =
    policy.declared.get(voter.id) ?? grant ?? host.agents.get(voter.id)?.card;
  if (granted === undefined) return `voter ${voter.id}, an agent this node never admitted`;
  if (granted.role !== voter.role || granted.weight !== voter.weight) {
    return `voter ${voter.id} as role ${voter.role} with weight ${voter.weight}; it is admitted as role ${granted.role} with weight ${granted.weight}`;
  }
  // A declared entry may pin no key: the one its credential or vote admitted it with counts.
  const key = granted.publicKey ?? grant?.publicKey;
  if (key !== undefined && !sameKey(key, voter.publicKey)) {
    return `voter ${voter.id} with another key than the one it is admitted with`;
  }
  return undefined;
}
