/**
 * The guard in front of privileged tasks (runtime/consensus/approval.ts)
 * verified a decision by the rule the decision itself carries, and
 * cross-checked a voter's key only when this node happened to trust that
 * id. A decision whose electorate was an agent nobody admitted ("ghost",
 * not declared, never heard) with a key of the forger's choosing passed,
 * and the privileged action ran: any node that seals into the shared audit
 * log (every coordinator does) could mint such an approval. Now every
 * voter must be one this node admits (declared, granted, or hosted here).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createQuorumRound } from "../../src/consensus/quorum.js";
import type { PrivilegedAction, RuntimeProposal } from "../../src/consensus/rule.js";
import { decisionParts, sealDecision } from "../../src/consensus/seal.js";
import { createVote, hashProposal, verifierFromKeys } from "../../src/consensus/vote.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { readAuditLog } from "../../src/runtime/consensus/audit-log.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { ulid } from "../../src/wire/ulid.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const transfer: PrivilegedAction = {
  protocol: "quorum",
  threshold: { fraction: 0.5 },
  voters: ["lead"],
  deadlineMs: 2000,
};

test("a decision counting a voter nobody admitted does not let a privileged task run", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    defaults,
    privileged: { "funds.transfer": transfer },
    admission: {
      mode: "declared",
      declared: [
        { id: "architect", role: "lead", weight: 1 },
        { id: "ops-1", role: "ops", weight: 1 },
      ],
    },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "architect", role: "lead" });
    const ran: unknown[] = [];
    swarm.agent({ id: "ops-1", role: "ops" }).handle("funds.transfer", (ctx) => {
      ran.push(ctx.body);
    });
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    await swarm.start();

    const ghost = generateAgentKeyPair();
    const now = Date.now();
    const data = { to: "mallory", amount: 1_000_000 };
    const proposal: RuntimeProposal = {
      id: ulid(),
      action: "funds.transfer",
      data,
      proposer: "architect",
      ts: now,
      deadline: now + 2000,
      protocol: "quorum",
      rule: {
        threshold: { fraction: 0.5 },
        vetoRoles: [],
        voters: [
          { id: "ghost", role: "lead", weight: 1, publicKey: encodePublicKey(ghost.publicKey) },
        ],
      },
    };
    const round = createQuorumRound({
      proposal,
      voters: proposal.rule.voters,
      threshold: proposal.rule.threshold,
      vetoRoles: [],
      verify: verifierFromKeys(new Map([["ghost", ghost.publicKey]])),
    });
    round.step(
      createVote({
        proposal,
        proposalHash: hashProposal(proposal),
        from: "ghost",
        choice: "approve",
        privateKey: ghost.privateKey,
      }),
      now + 1,
    );
    const result = round.result();
    assert.equal(result?.outcome, "approved");
    const log = await readAuditLog(swarm.store);
    const decision = sealDecision(decisionParts(result!), log.at(-1)?.hash ?? null);
    await swarm.store.appendAudit({
      kind: "consensus.decision",
      data: decision,
      hash: () => decision.seal,
    });

    await swarm.submit("ops", "funds.transfer", data, { as: "architect", approval: decision.seal });
    await until(
      () => ran.length > 0 || events.some((e) => e.type === "task.dead_lettered"),
      5000,
      "the task ran or died",
    );
    assert.equal(ran.length, 0, "the privileged action ran on a ghost's approval");
  } finally {
    await t.cleanup();
  }
});

test("under credential admission, a round among this node's own agents still approves", async () => {
  const operator = generateAgentKeyPair();
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    defaults,
    privileged: { "funds.transfer": transfer },
    admission: { mode: "credential", declared: [], operatorKey: operator.publicKey },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "architect", role: "lead" });
    const ran: unknown[] = [];
    swarm.agent({ id: "ops-1", role: "ops" }).handle("funds.transfer", (ctx) => {
      ran.push(ctx.body);
    });
    await swarm.start();
    const data = { to: "dev", amount: 5 };
    const decision = await swarm.propose("funds.transfer", data, { as: "architect" });
    assert.equal(decision.outcome, "approved");
    await swarm.submit("ops", "funds.transfer", data, { as: "architect", approval: decision.seal });
    await until(() => ran.length === 1, 5000, "the approved transfer");
  } finally {
    await t.cleanup();
  }
});
