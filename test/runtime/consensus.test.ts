import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DECISION_KIND, decisionProblem } from "../../src/consensus/audit-verify.js";
import { pbftDigest, verifyPbftCertificate } from "../../src/consensus/pbft.js";
import { compilePolicy } from "../../src/consensus/policy.js";
import type { PrivilegedAction, RuntimeProposal } from "../../src/consensus/rule.js";
import { computeSeal, type Decision } from "../../src/consensus/seal.js";
import { verifierFromKeys } from "../../src/consensus/vote.js";
import { ManualClock } from "../../src/core/clock.js";
import { decodePublicKey } from "../../src/identity/keys.js";
import {
  readAuditLog,
  summarizeDecisions,
  verifyAuditLog,
  verifyStoredAuditLog,
} from "../../src/runtime/consensus/audit-log.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { RoleConfig, Swarm } from "../../src/runtime/swarm.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import type { Envelope } from "../../src/wire/envelope.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

const roles: Record<string, RoleConfig> = {
  lead: {},
  dev: {},
  security: {},
  finance: {},
  ops: { tasks: ["funds.transfer"] },
};

/** Seed 000's council: weights 2.5 / 1.0 / 2.0 / 1.5, threshold 4. */
function council(swarm: Swarm): void {
  swarm.agent({ id: "architect", role: "lead", weight: 2.5 });
  swarm.agent({ id: "developer", role: "dev", weight: 1 });
  swarm.agent({
    id: "sentinel",
    role: "security",
    weight: 2,
    policy: compilePolicy({
      rules: [
        {
          when: 'action == "funds.transfer"',
          require: "data.amount <= 1000",
          message: "transfers over 1000 need a human",
        },
      ],
      default: "approve",
    }),
  });
  swarm.agent({
    id: "auditor",
    role: "finance",
    weight: 1.5,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 2000", message: "over the finance limit" }],
      default: "approve",
    }),
  });
}

const transfer: PrivilegedAction = {
  protocol: "quorum",
  threshold: { weight: 4 },
  voters: ["lead", "dev", "security", "finance"],
  deadlineMs: 2000,
};

function testSwarm(privileged: Record<string, PrivilegedAction>) {
  return createTestSwarm({ roles, defaults, privileged });
}

async function auditOk(swarm: Swarm) {
  const log = await readAuditLog(swarm.store);
  const verdict = await verifyStoredAuditLog(swarm.store);
  assert.ok(verdict.ok, verdict.ok ? "" : `entry ${verdict.seq}: ${verdict.reason}`);
  return log;
}

describe("consensus in the runtime: quorum", () => {
  test("approved, rejected by a CEL policy, and vetoed; each decision sealed into the audit chain", async () => {
    const t = testSwarm({
      "funds.transfer": transfer,
      "backup.delete": { ...transfer, vetoRoles: ["security"], threshold: { fraction: 0.5 } },
    });
    try {
      const { swarm } = t;
      council(swarm);
      swarm.agent({ id: "ops-1", role: "ops" });
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      await swarm.start();

      const approved = await swarm.propose(
        "funds.transfer",
        { to: "developer", amount: 500 },
        { as: "developer" },
      );
      assert.equal(approved.outcome, "approved");
      assert.ok(approved.tally.approve >= 4);
      assert.equal(approved.prevSeal, null);
      assert.equal(approved.protocol, "quorum");

      const rejected = await swarm.propose(
        "funds.transfer",
        { to: "developer", amount: 5000 },
        { as: "developer" },
      );
      assert.equal(rejected.outcome, "rejected", JSON.stringify(rejected.tally));
      assert.equal(rejected.prevSeal, approved.seal, "chained to the previous decision");
      const sentinelVote = rejected.votes.find((v) => v.from === "sentinel") as Envelope<{
        choice: string;
        reason: string;
      }>;
      assert.equal(sentinelVote.body.choice, "reject");
      assert.match(sentinelVote.body.reason, /need a human/);

      // The sentinel's policy only speaks about transfers: its default approves; the
      // veto comes from a handler instead.
      swarm.agents
        .find((a) => a.id === "sentinel")
        ?.vote(() => ({ choice: "reject", reasons: ["the backup is still needed"] }));
      const vetoed = await swarm.propose(
        "backup.delete",
        { backup: "nightly", amount: 0 },
        { as: "auditor" },
      );
      assert.equal(vetoed.outcome, "vetoed");

      const log = await auditOk(swarm);
      assert.equal(log.length, 3);
      assert.deepEqual(
        log.map((r) => [r.kind, r.hash, r.prevHash]),
        [approved, rejected, vetoed].map((d) => [DECISION_KIND, d.seal, d.prevSeal]),
        "the audit chain is the seal chain",
      );
      assert.deepEqual(summarizeDecisions(log), {
        proposals: 3,
        approved: 1,
        rejected: 2,
        byzantineDetected: 0,
      });
      assert.equal(events.filter((e) => e.type === "consensus.decided").length, 3);
      assert.equal(
        events.filter((e) => e.type === "consensus.voted" && e.proposal === approved.proposal.id)
          .length,
        4,
      );
    } finally {
      await t.cleanup();
    }
  });

  test("no-quorum when too few voters answer before the deadline, and not a moment earlier (manual clock)", async () => {
    const clock = new ManualClock(Date.now());
    const t = createTestSwarm({
      roles,
      defaults,
      privileged: { "funds.transfer": { ...transfer, deadlineMs: 150 } },
      clock,
    });
    try {
      const { swarm } = t;
      council(swarm);
      for (const id of ["architect", "sentinel"]) {
        swarm.agents.find((a) => a.id === id)?.vote(() => null);
      }
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      await swarm.start();
      const proposedAt = clock.now();
      const settled: { decision?: Decision } = {};
      const decided = swarm
        .propose("funds.transfer", { to: "x", amount: 1 }, { as: "developer" })
        .then((d) => {
          settled.decision = d;
          return d;
        });
      // The two voters that answer vote at once; time stands still meanwhile.
      await until(
        () => events.filter((e) => e.type === "consensus.voted").length === 2,
        5000,
        "the two answering votes",
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      clock.advance(149);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(settled.decision, undefined, "undecided 1 ms before the deadline");
      clock.advance(1);
      // Bounded: a round that missed its deadline would wait forever on a clock that stands still.
      await until(() => settled.decision !== undefined, 5000, "the decision at the deadline");
      const decision = await decided;
      assert.equal(decision.outcome, "no-quorum");
      assert.equal(decision.decidedAt, proposedAt + 150, "decided exactly at the deadline");
      assert.equal(decision.tally.approve, 2.5);
      await auditOk(swarm);
    } finally {
      await t.cleanup();
    }
  });

  test("a forged vote, an equivocation, a duplicate and replays are refused and kept as evidence", async () => {
    const t = testSwarm({ "funds.transfer": { ...transfer, threshold: { weight: 6.5 } } });
    try {
      const { swarm } = t;
      council(swarm);
      swarm.agent({ id: "mole", role: "dev", weight: 0.5 });
      let captured: Envelope | undefined;
      swarm.agents
        .find((a) => a.id === "mole")
        ?.vote((proposal, ctx) => {
          const mine = ctx.sign("approve", "yes");
          // Forges the auditor's vote: its own signature under the auditor's name.
          ctx.send({ ...ctx.sign("reject", "forged"), from: "auditor" });
          ctx.send(mine);
          ctx.send(mine); // replayed as is
          ctx.send(ctx.sign("approve", "again")); // a duplicate vote
          ctx.send(ctx.sign("reject", "changed my mind")); // equivocation
          if (captured) ctx.send(captured); // a vote from an earlier proposal
          captured = mine;
          return proposal.action === "funds.transfer" ? null : null;
        });
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      await swarm.start();

      const first = await swarm.propose(
        "funds.transfer",
        { to: "a", amount: 10 },
        { as: "architect" },
      );
      assert.equal(first.outcome, "approved");
      const kinds = first.evidence.map((e) => `${e.kind}:${e.agent}`).sort();
      assert.deepEqual(kinds, [
        "bad-signature:auditor",
        "duplicate-vote:mole",
        "equivocation:mole",
        "replay:mole",
      ]);
      // The auditor's real vote still counts; the mole's first vote counts once.
      assert.ok(first.votes.some((v) => v.from === "auditor" && v.sig !== undefined));
      assert.equal(first.votes.filter((v) => v.from === "mole").length, 1);

      const second = await swarm.propose(
        "funds.transfer",
        { to: "b", amount: 20 },
        { as: "architect" },
      );
      // A vote replayed from another proposal is refused, and not held
      // against its signer: anyone who saw it could have put it here.
      assert.ok(
        !second.votes.some(
          (v) => v.from === "mole" && v.id === first.votes.find((f) => f.from === "mole")?.id,
        ),
        "a vote replayed from another proposal is not counted",
      );
      assert.ok(
        !second.evidence.some((e) => e.kind === "wrong-proposal" && e.agent === "mole"),
        "nor kept as evidence against its signer",
      );
      assert.ok(events.some((e) => e.type === "consensus.byzantine"));
      const log = await auditOk(swarm);
      assert.equal(
        summarizeDecisions(log).byzantineDetected,
        first.evidence.length + second.evidence.length,
      );
    } finally {
      await t.cleanup();
    }
  });

  test("a proposal for an action that is not privileged, or with nobody to vote, is refused", async () => {
    const t = testSwarm({ "funds.transfer": { ...transfer, voters: ["ops"] } });
    try {
      const { swarm } = t;
      swarm.agent({ id: "architect", role: "lead" });
      await swarm.start();
      await assert.rejects(
        swarm.propose("coffee.order", {}, { as: "architect" }),
        /not a privileged action/,
      );
      await assert.rejects(
        swarm.propose("funds.transfer", {}, { as: "architect" }),
        /no live agent of the voter roles/,
      );
    } finally {
      await t.cleanup();
    }
  });
});

describe("consensus in the runtime: hierarchical", () => {
  test("clusters with representatives decide, and the decision verifies offline", async () => {
    const t = createTestSwarm({
      roles: { worker: {}, lead: {} },
      defaults,
      privileged: {
        "deploy.production": {
          protocol: "hierarchical",
          threshold: { fraction: 0.5 },
          voters: ["worker"],
          clusterSize: 3,
          deadlineMs: 3000,
        },
      },
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead" });
      for (let i = 0; i < 12; i++) {
        swarm
          .agent({ id: `w-${String(i).padStart(2, "0")}`, role: "worker" })
          .vote(() => ({ choice: i % 4 === 3 ? "reject" : "approve", reasons: [] }));
      }
      await swarm.start();
      const decision = await swarm.propose("deploy.production", { release: 7 }, { as: "lead" });
      assert.equal(decision.protocol, "hierarchical");
      assert.equal(decision.outcome, "approved");
      assert.ok(decision.hierarchy);
      assert.ok(decision.votes.some((v) => v.type === "consensus.cluster-vote"));
      await auditOk(swarm);
    } finally {
      await t.cleanup();
    }
  });
});

describe("consensus in the runtime: pbft", () => {
  const deploy: PrivilegedAction = { protocol: "pbft", voters: ["council"], deadlineMs: 3000 };

  /** Replicas alice (primary of view 0), bob, carol, mallory; an operator who proposes and deploys. */
  function pbftSwarm() {
    const t = createTestSwarm({
      roles: { council: {}, ops: { tasks: ["deploy.production"] } },
      defaults,
      privileged: { "deploy.production": deploy },
    });
    const deployed: unknown[] = [];
    t.swarm.agent({ id: "operator", role: "ops" }).handle("deploy.production", (ctx) => {
      deployed.push(ctx.body);
    });
    const replicas = Object.fromEntries(
      ["alice", "bob", "carol", "mallory"].map((id) => [
        id,
        t.swarm.agent({ id, role: "council", weight: id === "alice" ? 5 : 1 }),
      ]),
    );
    return { ...t, deployed, replicas };
  }

  test("4 replicas, one Byzantine: the honest three commit; the certificate and the evidence are sealed, verify offline and let the action run", async () => {
    const t = pbftSwarm();
    try {
      const { swarm } = t;
      t.replicas["mallory"]?.vote((proposal, ctx) => {
        const digest = pbftDigest(proposal);
        const commit = (d: string) =>
          ctx.signMessage("consensus.pbft.commit", { view: 0, seq: 1, digest: d });
        ctx.send({ ...commit(digest), from: "carol" }); // forged: mallory's signature, carol's name
        ctx.send(commit("0".repeat(64))); // a commit for something else…
        ctx.send(commit(digest)); // …then for this proposal: equivocation
        return null; // and nothing else: no prepare, no honest commit
      });
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      await swarm.start();
      const data = { release: "v42", region: "eu" };
      const decision = await swarm.propose("deploy.production", data, { as: "operator" });
      assert.equal(decision.protocol, "pbft");
      assert.equal(decision.outcome, "approved", JSON.stringify(decision.tally));
      assert.deepEqual(decision.tally, {
        approve: 3,
        reject: 0,
        abstain: 0,
        threshold: 3,
        total: 4,
      });
      assert.deepEqual(
        decision.votes.map((v) => `${v.type}:${v.from}`),
        ["consensus.pbft.commit:alice", "consensus.pbft.commit:bob", "consensus.pbft.commit:carol"],
      );
      const rule = (decision.proposal as RuntimeProposal).rule;
      const check = verifyPbftCertificate(decision.votes, {
        replicas: rule.voters,
        f: 1,
        verify: verifierFromKeys(
          new Map(rule.voters.map((v) => [v.id, decodePublicKey(v.publicKey)])),
        ),
        proposal: decision.proposal,
      });
      assert.ok(check.ok, check.ok ? "" : check.reason);
      assert.deepEqual(decision.evidence.map((e) => `${e.kind}:${e.agent}`).sort(), [
        "bad-signature:carol",
        "equivocation:mallory",
      ]);
      const log = await auditOk(swarm);
      assert.equal(log.at(-1)?.hash, decision.seal);

      await swarm.submit("ops", "deploy.production", data, {
        as: "operator",
        approval: decision.seal,
      });
      await until(() => t.deployed.length === 1, 5000, "the approved deployment");

      const m = swarm.metrics;
      const labels = { action: "deploy.production", protocol: "pbft" };
      assert.equal(await m.get("conclave_consensus_proposals_total", labels), 1);
      assert.equal(
        await m.get("conclave_consensus_decisions_total", { ...labels, outcome: "approved" }),
        1,
      );
      assert.equal(await m.get("conclave_consensus_byzantine_total", { kind: "bad-signature" }), 1);
      assert.equal(await m.get("conclave_consensus_byzantine_total", { kind: "equivocation" }), 1);
      assert.equal(
        (await m.histogram("conclave_consensus_decision_seconds", { protocol: "pbft" }))?.count,
        1,
      );
      assert.equal(await m.get("conclave_consensus_votes_total", { choice: "approve" }), 3);
    } finally {
      await t.cleanup();
    }
  });

  test("the primary is silent: the backups change view and commit under the next primary", async () => {
    const t = pbftSwarm();
    try {
      const { swarm } = t;
      t.replicas["alice"]?.vote(() => null); // crashed: runs no replica
      await swarm.start();
      const started = Date.now();
      const decision = await swarm.propose(
        "deploy.production",
        { release: "v43" },
        {
          as: "operator",
        },
      );
      assert.equal(decision.outcome, "approved");
      const views = decision.votes.map((v) => (v.body as { view: number }).view);
      assert.deepEqual(views, [1, 1, 1], "committed in view 1, whose primary is bob");
      assert.deepEqual(
        decision.votes.map((v) => v.from),
        ["bob", "carol", "mallory"],
      );
      assert.ok(Date.now() - started >= 400, "after the view-change timeout (500 ms)");
      await auditOk(swarm);
    } finally {
      await t.cleanup();
    }
  });

  test("replicas whose policy rejects stay out of PBFT and sign their refusal: rejected; the guard refuses the action", async () => {
    const t = pbftSwarm();
    try {
      const { swarm } = t;
      for (const id of ["bob", "carol", "mallory"]) {
        t.replicas[id]?.vote(() => ({ choice: "reject", reasons: ["not on a Friday"] }));
      }
      await swarm.start();
      const decision = await swarm.propose(
        "deploy.production",
        { release: "v44" },
        {
          as: "operator",
        },
      );
      assert.equal(decision.outcome, "rejected");
      assert.deepEqual(decision.tally, {
        approve: 0,
        reject: 3,
        abstain: 0,
        threshold: 3,
        total: 4,
      });
      assert.ok(decision.votes.every((v) => v.type === "consensus.vote"));
      await auditOk(swarm);
      await swarm.submit(
        "ops",
        "deploy.production",
        { release: "v44" },
        {
          as: "operator",
          approval: decision.seal,
        },
      );
      await until(
        async () => (await swarm.store.deadLetters()).length === 1,
        5000,
        "the refused deployment dead-lettered",
      );
      assert.deepEqual(t.deployed, []);
    } finally {
      await t.cleanup();
    }
  });
});

describe("consensus in the runtime: voters gone", () => {
  test("a fixed threshold above the live voters' weight ends as no-quorum with the reason, sealed and verifiable", async () => {
    const t = testSwarm({ "funds.transfer": { ...transfer, threshold: { weight: 6 } } });
    try {
      const { swarm } = t;
      // The auditor (1.5) is not running: 2.5 + 1 + 2 = 5.5 < 6.
      swarm.agent({ id: "architect", role: "lead", weight: 2.5 });
      swarm.agent({ id: "developer", role: "dev", weight: 1 });
      swarm.agent({ id: "sentinel", role: "security", weight: 2 });
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      await swarm.start();
      const decision = await swarm.propose("funds.transfer", { amount: 1 }, { as: "developer" });
      assert.equal(decision.outcome, "no-quorum");
      assert.match(
        decision.reason ?? "",
        /threshold \(6\) exceeds the total weight \(5\.5\) of the 3 live voters/,
      );
      assert.deepEqual(decision.votes, []);
      assert.deepEqual(decision.tally, {
        approve: 0,
        reject: 0,
        abstain: 0,
        threshold: 6,
        total: 5.5,
      });
      assert.equal(
        events.filter((e) => e.type === "consensus.voted").length,
        0,
        "nobody was asked to vote",
      );
      const decided = events.find((e) => e.type === "consensus.decided");
      assert.equal(decided?.type === "consensus.decided" ? decided.reason : "", decision.reason);
      await auditOk(swarm);
      // Altering the reason breaks the seal.
      const forged = { ...decision, reason: "all fine" };
      assert.notEqual(computeSeal(forged), decision.seal);
    } finally {
      await t.cleanup();
    }
  });

  test("pbft with fewer than 4 live replicas ends as no-quorum with the reason", async () => {
    const t = createTestSwarm({
      roles: { council: {} },
      defaults,
      privileged: { "deploy.production": { protocol: "pbft", deadlineMs: 2000 } },
    });
    try {
      for (const id of ["a", "b", "c"]) t.swarm.agent({ id, role: "council" });
      await t.swarm.start();
      const decision = await t.swarm.propose("deploy.production", {}, { as: "a" });
      assert.equal(decision.protocol, "pbft");
      assert.equal(decision.outcome, "no-quorum");
      assert.match(decision.reason ?? "", /PBFT needs at least 4 replicas/);
      await auditOk(t.swarm);
    } finally {
      await t.cleanup();
    }
  });
});

describe("privileged tasks", () => {
  test("run only with the seal of an approval of exactly that action and data, once", async () => {
    const t = testSwarm({ "funds.transfer": transfer });
    try {
      const { swarm } = t;
      council(swarm);
      const ran: unknown[] = [];
      swarm.agent({ id: "ops-1", role: "ops" }).handle("funds.transfer", (ctx) => {
        ran.push(ctx.body);
      });
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      await swarm.start();
      const data = { to: "developer", amount: 300 };
      const approved = await swarm.propose("funds.transfer", data, { as: "architect" });
      const rejected = await swarm.propose(
        "funds.transfer",
        { to: "developer", amount: 3000 },
        { as: "architect" },
      );
      assert.equal(approved.outcome, "approved");
      assert.equal(rejected.outcome, "rejected");

      const dead = () => events.filter((e) => e.type === "task.dead_lettered");
      await swarm.submit("ops", "funds.transfer", data, { as: "architect" });
      await until(() => dead().length === 1, 5000, "the unapproved task dead-lettered");
      await swarm.submit("ops", "funds.transfer", rejected.proposal.data, {
        as: "architect",
        approval: rejected.seal,
      });
      await until(() => dead().length === 2, 5000, "the rejected one dead-lettered");
      await swarm.submit(
        "ops",
        "funds.transfer",
        { ...data, amount: 900 },
        {
          as: "architect",
          approval: approved.seal,
        },
      );
      await until(() => dead().length === 3, 5000, "the altered one dead-lettered");
      assert.equal(ran.length, 0, "no privileged handler ran without an approval");

      await swarm.submit("ops", "funds.transfer", data, {
        as: "architect",
        approval: approved.seal,
      });
      await until(() => ran.length === 1, 5000, "the approved transfer");
      await swarm.submit("ops", "funds.transfer", data, {
        as: "architect",
        approval: approved.seal,
      });
      await until(() => dead().length === 4, 5000, "the second use of the approval dead-lettered");
      assert.equal(ran.length, 1);

      const letters = await swarm.store.deadLetters();
      assert.equal(letters.length, 4);
      for (const letter of letters) assert.match(letter.reason, /UnapprovedActionError/);
      assert.match(letters[0]?.reason ?? "", /carries no approval/);
      assert.match(letters[1]?.reason ?? "", /was rejected/);
      assert.match(letters[2]?.reason ?? "", /not the data/);
      assert.match(letters[3]?.reason ?? "", /already used/);
    } finally {
      await t.cleanup();
    }
  });

  test("ctx.propose from a handler, then the approved action as a follow-up task", async () => {
    const t = createTestSwarm({
      roles: { ...roles, lead: { tasks: ["pay"] } },
      defaults,
      privileged: { "funds.transfer": transfer },
    });
    try {
      const { swarm } = t;
      council(swarm);
      const outcomes: string[] = [];
      swarm.agents
        .find((a) => a.id === "architect")
        ?.handle<{ amount: number }>("pay", async (ctx) => {
          const decision = await ctx.propose({
            action: "funds.transfer",
            data: { to: "developer", amount: ctx.body.amount },
          });
          outcomes.push(decision.outcome);
          if (decision.outcome === "approved") {
            ctx.submit("ops", "funds.transfer", decision.proposal.data, {
              approval: decision.seal,
            });
          }
          ctx.finish();
        });
      const paid: number[] = [];
      swarm
        .agent({ id: "ops-1", role: "ops" })
        .handle<{ amount: number }>("funds.transfer", (ctx) => {
          paid.push(ctx.body.amount);
        });
      await swarm.start();
      await swarm.submit("lead", "pay", { amount: 700 }, { as: "developer" });
      await swarm.submit("lead", "pay", { amount: 7000 }, { as: "developer" });
      await until(() => outcomes.length === 2 && paid.length === 1, 5000, "both payments decided");
      assert.deepEqual(outcomes.sort(), ["approved", "rejected"]);
      assert.deepEqual(paid, [700]);
    } finally {
      await t.cleanup();
    }
  });
});

describe("consensus across nodes", () => {
  test("voters on another node vote after the handshake; their votes verify against the trusted keys", async () => {
    const { node, cleanup } = sharedBrokerNodes({
      name: "multi",
      roles,
      defaults,
      privileged: { "funds.transfer": transfer },
    });
    try {
      const a = node("node-a");
      const b = node("node-b");
      a.agent({ id: "architect", role: "lead", weight: 2.5 });
      a.agent({ id: "developer", role: "dev", weight: 1 });
      b.agent({ id: "sentinel", role: "security", weight: 2 });
      b.agent({ id: "auditor", role: "finance", weight: 1.5 });
      const trusted = { a: new Set<string>(), b: new Set<string>() };
      a.on((e) => {
        if (e.type === "agent.trusted") trusted.a.add(e.agent);
      });
      b.on((e) => {
        if (e.type === "agent.trusted") trusted.b.add(e.agent);
      });
      await a.start();
      await b.start();
      await until(
        () => trusted.a.size >= 2 && trusted.b.size >= 2,
        5000,
        "each node trusts the other's agents",
      );
      // Proposed before node-b's agents are live on node-a, the threshold (4)
      // exceeds the live weight (3.5): no-quorum at once, with the reason.
      let decision: Decision | undefined;
      await until(
        async () => {
          decision = await a.propose("funds.transfer", { amount: 1 }, { as: "developer" });
          const voters = (decision.proposal as RuntimeProposal).rule.voters.length;
          if (voters < 4) assert.match(decision.reason ?? "", /exceeds the total weight/);
          return voters === 4;
        },
        5000,
        "an electorate of 4",
      );
      assert.equal(decision?.outcome, "approved");
      assert.ok(decision?.votes.some((v) => v.from === "sentinel" || v.from === "auditor"));
      const log = await readAuditLog(a.store);
      const verdict = verifyAuditLog(log);
      assert.ok(verdict.ok, JSON.stringify(verdict));
    } finally {
      await cleanup();
    }
  });
});

describe("audit against the swarm file's electorate", () => {
  test("a decision whose voters or weights are not the declared ones does not verify", async () => {
    const t = testSwarm({ "funds.transfer": transfer });
    try {
      const { swarm } = t;
      council(swarm);
      swarm.agent({ id: "ops-1", role: "ops" });
      await swarm.start();
      const decision = await swarm.propose(
        "funds.transfer",
        { to: "developer", amount: 500 },
        { as: "developer" },
      );
      const declared = new Map(
        [
          ["architect", "lead", 2.5],
          ["developer", "dev", 1],
          ["sentinel", "security", 2],
          ["auditor", "finance", 1.5],
          ["ops-1", "ops", 1],
        ].map(([id, role, weight]) => [
          id as string,
          { role: role as string, weight: weight as number },
        ]),
      );
      assert.equal(
        decisionProblem(decision, { declared }),
        undefined,
        "the declared electorate verifies",
      );
      // The file gives the sentinel weight 1: a decision counted with 2 was taken over.
      const lighter = new Map(declared).set("sentinel", { role: "security", weight: 1 });
      assert.match(
        decisionProblem(decision, { declared: lighter }) ?? "",
        /sentinel voted with weight 2; the swarm file gives it weight 1/,
      );
      // An agent the file does not declare voted: an outsider.
      const without = new Map(declared);
      without.delete("auditor");
      assert.match(
        decisionProblem(decision, { declared: without }) ?? "",
        /auditor is not an agent the swarm file declares/,
      );
      const wrongRole = new Map(declared).set("architect", { role: "dev", weight: 2.5 });
      assert.match(
        decisionProblem(decision, { declared: wrongRole }) ?? "",
        /architect voted as role lead/,
      );
    } finally {
      await t.cleanup();
    }
  });
});
