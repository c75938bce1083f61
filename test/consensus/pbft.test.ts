/**
 * PBFT scenarios, n = 4 (f = 1), on the simulated network with fixed 5 ms
 * latency and 10 ms ticks, so the traces below are exact. Each reads as a
 * protocol trace: `+Tms sender message → receivers`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createPbftReplica,
  PBFT_MESSAGE_TYPES,
  PBFT_NULL_DIGEST,
  type PbftPrePrepareBody,
  type PbftVoteBody,
  pbftDigest,
  pbftQuorum,
  verifyPbftCertificate,
} from "../../src/consensus/pbft.js";
import type { ByzantineEvidence, Proposal } from "../../src/consensus/types.js";
import { seededRandom } from "../../src/core/random.js";
import { ConfigError } from "../../src/errors/index.js";
import { agentKeyPairFromSeed } from "../../src/identity/keys.js";
import { type SimOutput, type SimSend, tamperBody } from "../../src/sim/index.js";
import { createEnvelope, type Envelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";
import {
  allCommitted,
  type ByzantineContext,
  type Cluster,
  createCluster,
  fieldsOf,
  makeProposal,
  protocolTrace,
  type ReplicaLog,
  START_MS,
  summary,
} from "../sim/pbft-harness.js";

const FIXED = { kind: "fixed", ms: 5 } as const;
const TIMEOUT_TICKS = 20; // 200 ms at 10 ms per tick

function logOf(cluster: Cluster, id: string): ReplicaLog {
  return cluster.logs.get(id) as ReplicaLog;
}

function committedIds(cluster: Cluster, id: string): string[] {
  return logOf(cluster, id).committed.map((c) => `${c.seq}=${c.proposal.id}`);
}

function evidenceOf(cluster: Cluster, id: string, kind: ByzantineEvidence["kind"]) {
  return logOf(cluster, id).evidence.filter((e) => e.kind === kind);
}

function isType(message: unknown, type: string): message is Envelope {
  return typeof message === "object" && message !== null && (message as Envelope).type === type;
}

describe("PBFT normal case (n = 4, f = 1)", () => {
  it("orders a proposal in three phases and every replica holds a 2f+1 commit certificate", () => {
    const trace = protocolTrace();
    const cluster = createCluster({ seed: 1, n: 4, f: 1, latency: FIXED, trace: trace.record });
    const proposal = makeProposal("a", cluster.net.now);
    cluster.propose(proposal);
    cluster.net.run({ until: START_MS + 100 });

    assert.deepEqual(trace.lines(), [
      "+5ms r0 pre-prepare v0 s1 p-a → r1 r2 r3",
      "+10ms r1 prepare v0 s1 → r0 r2 r3",
      "+10ms r2 prepare v0 s1 → r0 r1 r3",
      "+10ms r3 prepare v0 s1 → r0 r1 r2",
      "+15ms r2 commit v0 s1 → r0 r1 r3",
      "+15ms r3 commit v0 s1 → r0 r1 r2",
      "+15ms r0 commit v0 s1 → r1 r2 r3",
      "+15ms r1 commit v0 s1 → r0 r2 r3",
    ]);
    for (const id of cluster.ids) {
      const [committed] = logOf(cluster, id).committed;
      assert.ok(committed, `${id} committed`);
      assert.equal(committed.seq, 1);
      assert.equal(committed.view, 0);
      assert.deepEqual(committed.proposal, proposal);
      assert.equal(committed.certificate.length, 3);
      const check = verifyPbftCertificate(committed.certificate, {
        replicas: cluster.voters,
        f: 1,
        verify: cluster.verify,
        proposal,
      });
      assert.deepEqual(check, { ok: true, view: 0, seq: 1, digest: pbftDigest(proposal) });
      assert.deepEqual(logOf(cluster, id).evidence, []);
      assert.deepEqual(logOf(cluster, id).rejected, []);
    }
  });

  it("orders concurrent proposals at distinct sequence numbers, the same everywhere", () => {
    const cluster = createCluster({ seed: 2, n: 4, f: 1 });
    for (const name of ["a", "b", "c", "d", "e"])
      cluster.propose(makeProposal(name, cluster.net.now));
    cluster.net.run({ until: START_MS + 200 });
    const expected = ["1=p-a", "2=p-b", "3=p-c", "4=p-d", "5=p-e"];
    for (const id of cluster.ids) {
      assert.deepEqual(committedIds(cluster, id).sort(), expected, summary(cluster));
    }
  });

  it("treats a second propose of the same proposal as a no-op", () => {
    const cluster = createCluster({ seed: 3, n: 4, f: 1 });
    const proposal = makeProposal("a", cluster.net.now);
    cluster.propose(proposal);
    cluster.propose(proposal);
    cluster.net.run({ until: START_MS + 100 });
    assert.deepEqual(committedIds(cluster, "r2"), ["1=p-a"]);
  });
});

describe("PBFT view change", () => {
  it("replaces a crashed primary and commits within a bounded number of ticks", () => {
    const trace = protocolTrace();
    const cluster = createCluster({
      seed: 1,
      n: 4,
      f: 1,
      latency: FIXED,
      viewChangeTimeoutTicks: TIMEOUT_TICKS,
      trace: trace.record,
    });
    cluster.net.crash("r0");
    cluster.propose(makeProposal("b", cluster.net.now));
    const live = ["r1", "r2", "r3"];
    const result = cluster.net.run({
      until: () => allCommitted(cluster, "p-b", live),
      maxTimeMs: START_MS + 10_000,
    });
    assert.equal(result.reason, "condition", summary(cluster));
    // Liveness bound: the timeout, then four message delays (view-change,
    // new-view + pre-prepare, prepare, commit), and one tick of slack.
    const bound = (TIMEOUT_TICKS + 1) * 10 + 4 * 5;
    assert.ok(result.now - START_MS <= bound, `committed after ${result.now - START_MS} ms`);
    assert.deepEqual(
      trace.lines().filter((line) => !line.includes("lost")),
      [
        "+205ms r1 view-change v1 prepared[] → r2 r3",
        "+205ms r2 view-change v1 prepared[] → r1 r3",
        "+205ms r3 view-change v1 prepared[] → r1 r2",
        "+210ms r1 new-view v1 re-proposes[] → r2 r3",
        "+210ms r1 pre-prepare v1 s1 p-b → r2 r3",
        "+215ms r2 prepare v1 s1 → r1 r3",
        "+215ms r3 prepare v1 s1 → r1 r2",
        "+220ms r3 commit v1 s1 → r1 r2",
        "+220ms r1 commit v1 s1 → r2 r3",
        "+220ms r2 commit v1 s1 → r1 r3",
      ],
    );
    for (const id of live) {
      const status = cluster.replicas.get(id)?.status();
      assert.equal(status?.view, 1);
      assert.equal(status?.primary, "r1");
      assert.equal(status?.mode, "normal");
    }
  });

  it("carries a prepared request into the new view at the same sequence number", () => {
    const trace = protocolTrace();
    const cluster = createCluster({ seed: 1, n: 4, f: 1, latency: FIXED, trace: trace.record });
    // Every commit of view 0 is lost: the request prepares everywhere but commits nowhere.
    cluster.net.filter(
      (m) => !(isType(m, PBFT_MESSAGE_TYPES.commit) && (m.body as PbftVoteBody).view === 0),
    );
    cluster.propose(makeProposal("a", cluster.net.now));
    cluster.net.run({ until: START_MS + 400 });

    const lines = trace.lines().filter((line) => !line.includes("commit v0"));
    assert.deepEqual(lines, [
      "+5ms r0 pre-prepare v0 s1 p-a → r1 r2 r3",
      "+10ms r1 prepare v0 s1 → r0 r2 r3",
      "+10ms r2 prepare v0 s1 → r0 r1 r3",
      "+10ms r3 prepare v0 s1 → r0 r1 r2",
      "+205ms r1 view-change v1 prepared[s1] → r0 r2 r3",
      "+205ms r2 view-change v1 prepared[s1] → r0 r1 r3",
      "+205ms r3 view-change v1 prepared[s1] → r0 r1 r2",
      "+210ms r0 view-change v1 prepared[s1] → r1 r2 r3",
      "+210ms r1 new-view v1 re-proposes[s1=p-a] → r0 r2 r3",
      "+215ms r0 prepare v1 s1 → r1 r2 r3",
      "+215ms r2 prepare v1 s1 → r0 r1 r3",
      "+215ms r3 prepare v1 s1 → r0 r1 r2",
      "+220ms r2 commit v1 s1 → r0 r1 r3",
      "+220ms r3 commit v1 s1 → r0 r1 r2",
      "+220ms r0 commit v1 s1 → r1 r2 r3",
      "+220ms r1 commit v1 s1 → r0 r2 r3",
    ]);
    for (const id of cluster.ids) {
      assert.deepEqual(committedIds(cluster, id), ["1=p-a"]);
      assert.equal(logOf(cluster, id).committed[0]?.view, 1);
    }
  });

  it("keeps the value of the highest-view certificate when two views prepared different values", () => {
    const trace = protocolTrace();
    const cluster = createCluster({ seed: 1, n: 4, f: 1, latency: FIXED, trace: trace.record });
    const a = makeProposal("a", cluster.net.now);
    const b = makeProposal("b", cluster.net.now);
    // View 0: only r3 prepares p-a at s1 and nobody commits. View 1: r1 (new
    // primary, unaware of r3's certificate) orders p-b at s1; r3 misses the
    // prepares, and only r0 receives the commits, so only r0 commits. View 2
    // hears from r1, r2, r3 (r0's view-change to r2 is lost): no commit
    // certificate, and two prepared certificates for s1, p-a from view 0 (r3)
    // and p-b from view 1 (r1, r2). The higher view must win.
    cluster.net.filter((m, from, to) => {
      const body = (m as Envelope<{ view: number }>).body;
      const is = (type: string, view: number) => isType(m, type) && body.view === view;
      if (is(PBFT_MESSAGE_TYPES.prepare, 0)) return to === "r3";
      if (is(PBFT_MESSAGE_TYPES.commit, 0)) return false;
      if (is(PBFT_MESSAGE_TYPES.viewChange, 1)) return !(from === "r3" && to === "r1");
      if (is(PBFT_MESSAGE_TYPES.prepare, 1)) return to !== "r3";
      if (is(PBFT_MESSAGE_TYPES.commit, 1)) return to === "r0";
      if (is(PBFT_MESSAGE_TYPES.viewChange, 2)) return !(from === "r0" && to === "r2");
      return true;
    });
    cluster.propose(a, ["r0"]);
    cluster.propose(b, ["r1"]);
    cluster.net.run({ until: START_MS + 1_000 });

    const changes = trace
      .lines()
      .filter((l) => /view-change|new-view/.test(l) && !l.includes("lost"));
    assert.deepEqual(changes, [
      "+205ms r1 view-change v1 prepared[] → r0 r2 r3",
      "+205ms r2 view-change v1 prepared[] → r0 r1 r3",
      "+205ms r3 view-change v1 prepared[s1] → r0 r2",
      "+210ms r0 view-change v1 prepared[] → r1 r2 r3",
      "+215ms r1 new-view v1 re-proposes[] → r0 r2 r3",
      "+415ms r2 view-change v2 prepared[s1 s2] → r0 r1 r3",
      "+415ms r3 view-change v2 prepared[s1] → r0 r1 r2",
      "+420ms r0 view-change v2 committed[s1 s2] prepared[] → r1 r3",
      "+420ms r1 view-change v2 prepared[s1 s2] → r0 r2 r3",
      "+425ms r2 new-view v2 re-proposes[s1=p-b s2=p-a] → r0 r1 r3",
    ]);
    // r0 committed p-b at s1 in view 1; view 2 must not hand s1 to p-a.
    assert.deepEqual(
      logOf(cluster, "r0").committed.map((c) => [c.seq, c.view, c.proposal.id]),
      [
        [1, 1, "p-b"],
        [2, 1, "p-a"],
      ],
    );
    for (const id of cluster.ids) {
      assert.deepEqual(committedIds(cluster, id).sort(), ["1=p-b", "2=p-a"], summary(cluster));
    }
  });

  it("fills a gap no certificate covers with a null request", () => {
    const cluster = createCluster({ seed: 1, n: 4, f: 1, latency: FIXED });
    // Seq 1 never prepares (its prepares are lost); seq 2 prepares but does not commit.
    cluster.net.filter((m) => {
      const body = (m as Envelope<PbftVoteBody>).body;
      if (body?.view !== 0) return true;
      if (isType(m, PBFT_MESSAGE_TYPES.prepare) && body.seq === 1) return false;
      return !isType(m, PBFT_MESSAGE_TYPES.commit);
    });
    cluster.propose(makeProposal("a", cluster.net.now));
    cluster.propose(makeProposal("b", cluster.net.now));
    cluster.net.run({ until: START_MS + 600 });
    for (const id of cluster.ids) {
      // The new primary re-proposes s1 = null, s2 = p-b, then orders p-a afresh at s3.
      assert.deepEqual(committedIds(cluster, id).sort(), ["2=p-b", "3=p-a"], summary(cluster));
    }
  });

  it("detects an equivocating primary, keeps the evidence, and replaces it", () => {
    // r0 tells r1 it orders p-a at seq 1, and tells r2 and r3 it orders p-x there.
    const cluster = createCluster({
      seed: 1,
      n: 4,
      f: 1,
      latency: FIXED,
      byzantine: new Map([["r0", rewriting(splitPrePrepares)]]),
    });
    cluster.propose(makeProposal("a", cluster.net.now), ["r0"]);
    cluster.net.run({ until: START_MS + 600 });

    for (const id of ["r1", "r2", "r3"]) {
      // p-x prepared at r2 and r3, so the new primary r1 keeps it at seq 1;
      // p-a, which r1 accepted, is then ordered afresh.
      assert.deepEqual(committedIds(cluster, id), ["1=p-x", "2=p-a"], summary(cluster));
      assert.equal(cluster.replicas.get(id)?.status().primary, "r1");
      const [evidence] = evidenceOf(cluster, id, "equivocation");
      assert.ok(evidence, `${id} kept the evidence`);
      assert.equal(evidence.agent, "r0");
      const [first, second] = evidence.messages as Envelope<PbftPrePrepareBody>[];
      assert.ok(first && second);
      assert.equal(first.body.view, second.body.view);
      assert.equal(first.body.seq, second.body.seq);
      assert.notEqual(first.body.digest, second.body.digest);
      for (const message of evidence.messages) assert.ok(cluster.verify(message), "r0 signed both");
    }
  });

  it("starts a view change at once when a backup receives both conflicting pre-prepares", () => {
    const cluster = createCluster({
      seed: 1,
      n: 4,
      f: 1,
      latency: FIXED,
      byzantine: new Map([["r0", rewriting(alsoSendConflictTo("r1"))]]),
    });
    cluster.propose(makeProposal("a", cluster.net.now), ["r0"]);
    cluster.net.run({ until: START_MS + 5 });
    assert.equal(cluster.replicas.get("r1")?.status().mode, "view-change");
    assert.equal(evidenceOf(cluster, "r1", "equivocation").length, 1);
    cluster.net.run({ until: START_MS + 600 });
    // r2 and r3 commit p-a in view 0 with r0's commit; r1, alone in asking
    // for view 1, still learns the decision from their commits.
    for (const id of ["r1", "r2", "r3"]) assert.deepEqual(committedIds(cluster, id), ["1=p-a"]);
  });
});

describe("PBFT Byzantine detection", () => {
  /** A cluster that has committed p-a, with r0's pre-prepare and r1's commit kept for misuse. */
  function committedCluster() {
    const kept: Envelope[] = [];
    const cluster = createCluster({
      seed: 4,
      n: 4,
      f: 1,
      latency: FIXED,
      trace: (event) => {
        if (event.kind === "deliver" && kept.length < 100) kept.push(event.message as Envelope);
      },
    });
    cluster.propose(makeProposal("a", cluster.net.now));
    cluster.net.run({ until: START_MS + 50 });
    const find = (type: string, from: string) =>
      kept.find((m) => m.type === type && m.from === from) as Envelope;
    return {
      cluster,
      prePrepare: find(PBFT_MESSAGE_TYPES.prePrepare, "r0"),
      commit: find(PBFT_MESSAGE_TYPES.commit, "r1"),
    };
  }

  it("rejects a message claiming another sender: forged-sender against the relay, bad-signature without one", () => {
    const { cluster, commit } = committedCluster();
    // r3 writes a prepare in r1's name and signs it with its own key.
    const forged = signEnvelope(
      createEnvelope({ ...fieldsOf(commit), type: PBFT_MESSAGE_TYPES.prepare }),
      agentKeyPairFromSeed(new Uint8Array(32).fill(3)).privateKey,
    );
    cluster.net.send("r3", "r2", forged);
    cluster.net.run({ until: START_MS + 60 });
    const [viaNetwork] = evidenceOf(cluster, "r2", "forged-sender");
    assert.equal(viaNetwork?.agent, "r3");

    // Over a transport that cannot tell who delivered it, the signature gives it away.
    const r2 = cluster.replicas.get("r2");
    r2?.step(forged, cluster.net.now);
    const [bySignature] = r2?.ready().evidence ?? [];
    assert.equal(bySignature?.kind, "bad-signature");
    assert.equal(bySignature?.agent, "r1");
  });

  it("rejects a message altered after signing", () => {
    const { cluster, commit } = committedCluster();
    cluster.net.send("r1", "r2", tamperBody(commit, seededRandom(1)));
    cluster.net.run({ until: START_MS + 60 });
    const [evidence] = evidenceOf(cluster, "r2", "bad-signature");
    assert.equal(evidence?.agent, "r1");
  });

  it("rejects replayed messages with evidence, and a replay through a third replica as forged", () => {
    const { cluster, prePrepare } = committedCluster();
    cluster.net.send("r0", "r1", prePrepare);
    cluster.net.send("r3", "r2", prePrepare);
    cluster.net.run({ until: START_MS + 60 });
    const [replay] = evidenceOf(cluster, "r1", "replay");
    assert.equal(replay?.agent, "r0");
    assert.equal(replay?.messages[0]?.id, prePrepare.id);
    assert.equal(evidenceOf(cluster, "r2", "forged-sender")[0]?.agent, "r3");
    // Nothing was ordered twice.
    for (const id of cluster.ids) assert.deepEqual(committedIds(cluster, id), ["1=p-a"]);
  });

  it("rejects strangers, pre-prepares from backups, malformed bodies and undecodable junk", () => {
    const { cluster } = committedCluster();
    const r2 = cluster.replicas.get("r2");
    assert.ok(r2);
    r2.ready();
    const mallory = agentKeyPairFromSeed(new Uint8Array(32).fill(7)).privateKey;
    const stranger = signEnvelope(
      createEnvelope({
        type: PBFT_MESSAGE_TYPES.prepare,
        from: "mallory",
        body: { view: 0, seq: 1, digest: PBFT_NULL_DIGEST },
      }),
      mallory,
    );
    r2.step(stranger, cluster.net.now);
    assert.equal(r2.ready().evidence[0]?.kind, "unknown-voter");

    // r3 (a backup) signs a pre-prepare: provably out of its role.
    const proposal = makeProposal("z", cluster.net.now);
    const usurper = cluster.signer("r3")(
      {
        type: PBFT_MESSAGE_TYPES.prePrepare,
        from: "r3",
        body: { view: 0, seq: 2, digest: pbftDigest(proposal), proposal },
      },
      cluster.net.now,
    );
    r2.step(usurper, cluster.net.now, "r3");
    const [outOfView] = r2.ready().evidence;
    assert.equal(outOfView?.kind, "out-of-view");
    assert.equal(outOfView?.agent, "r3");

    // The primary signs a pre-prepare whose digest is not its proposal's.
    const wrong = cluster.signer("r0")(
      {
        type: PBFT_MESSAGE_TYPES.prePrepare,
        from: "r0",
        body: { view: 0, seq: 2, digest: PBFT_NULL_DIGEST, proposal },
      },
      cluster.net.now,
    );
    r2.step(wrong, cluster.net.now, "r0");
    assert.equal(r2.ready().evidence[0]?.kind, "wrong-proposal");

    // A signed prepare with a nonsense body.
    const nonsense = cluster.signer("r1")(
      { type: PBFT_MESSAGE_TYPES.prepare, from: "r1", body: { view: -1 } as never },
      cluster.net.now,
    );
    r2.step(nonsense, cluster.net.now, "r1");
    assert.equal(r2.ready().evidence[0]?.kind, "wrong-proposal");

    // Not envelopes at all, or not PBFT: rejected with a reason, no evidence.
    r2.step({ hello: "world" } as never, cluster.net.now);
    r2.step(createEnvelope({ type: "task.other", from: "r1", body: null }), cluster.net.now);
    const ready = r2.ready();
    assert.deepEqual(ready.evidence, []);
    assert.deepEqual(
      ready.rejected.map((r) => r.reason),
      ["malformed", "unknown-type"],
    );
    for (const id of cluster.ids) assert.deepEqual(committedIds(cluster, id), ["1=p-a"]);
  });

  it("flags two different votes from one replica for the same slot as equivocation", () => {
    const { cluster, commit } = committedCluster();
    const sign = cluster.signer("r1");
    const body = commit.body as PbftVoteBody;
    const a = sign({ type: PBFT_MESSAGE_TYPES.prepare, from: "r1", body: { ...body, seq: 7 } }, 0);
    const b = sign(
      {
        type: PBFT_MESSAGE_TYPES.prepare,
        from: "r1",
        body: { ...body, seq: 7, digest: PBFT_NULL_DIGEST },
      },
      0,
    );
    const r2 = cluster.replicas.get("r2");
    r2?.ready();
    r2?.step(a, cluster.net.now, "r1");
    r2?.step(b, cluster.net.now, "r1");
    const [evidence] = r2?.ready().evidence ?? [];
    assert.equal(evidence?.kind, "equivocation");
    assert.equal(evidence?.agent, "r1");
    assert.deepEqual(
      evidence?.messages.map((m) => m.id),
      [a.id, b.id],
    );
  });
});

describe("PBFT voter policy and deadlines", () => {
  it("commits when at most f replicas reject, without the rejecters' votes", () => {
    const cluster = createCluster({
      seed: 5,
      n: 4,
      f: 1,
      latency: FIXED,
      validate: (replica) => replica !== "r3",
    });
    cluster.propose(makeProposal("a", cluster.net.now));
    cluster.net.run({ until: START_MS + 100 });
    for (const id of cluster.ids) {
      const [committed] = logOf(cluster, id).committed;
      assert.ok(committed, `${id} learned the decision`);
      assert.deepEqual(
        committed.certificate.map((c) => c.from),
        ["r0", "r1", "r2"],
      );
    }
    assert.equal(logOf(cluster, "r3").rejected[0]?.reason, "policy");
  });

  it("ends no-quorum at the deadline when more than f replicas reject", () => {
    const cluster = createCluster({
      seed: 5,
      n: 4,
      f: 1,
      latency: FIXED,
      validate: (replica) => replica === "r0" || replica === "r1",
    });
    const proposal = makeProposal("a", cluster.net.now, 500);
    cluster.propose(proposal);
    cluster.net.run({ until: START_MS + 1_000 });
    for (const id of cluster.ids) {
      assert.deepEqual(logOf(cluster, id).committed, []);
      assert.deepEqual(
        logOf(cluster, id).expired.map((e) => [e.proposal.id, e.outcome]),
        [["p-a", "no-quorum"]],
      );
    }
  });

  it("does not accept a proposal past its deadline", () => {
    const cluster = createCluster({ seed: 5, n: 4, f: 1, latency: FIXED });
    const proposal = makeProposal("late", cluster.net.now - 1_000, 500);
    cluster.propose(proposal);
    cluster.net.run({ until: START_MS + 300 });
    for (const id of cluster.ids) {
      assert.deepEqual(logOf(cluster, id).committed, []);
      assert.equal(logOf(cluster, id).rejected[0]?.reason, "expired");
      assert.equal(logOf(cluster, id).expired[0]?.outcome, "no-quorum");
    }
  });

  it("treats a throwing policy as a rejection", () => {
    const cluster = createCluster({
      seed: 5,
      n: 4,
      f: 1,
      latency: FIXED,
      validate: (replica) => {
        if (replica === "r2") throw new Error("judge unavailable");
        return true;
      },
    });
    cluster.propose(makeProposal("a", cluster.net.now));
    cluster.net.run({ until: START_MS + 100 });
    assert.equal(logOf(cluster, "r2").rejected[0]?.reason, "policy");
    assert.equal(logOf(cluster, "r1").committed.length, 1);
  });
});

describe("PBFT robustness", () => {
  it("reports, never throws, when a message it must send cannot be signed", () => {
    // Nested so deep that a pre-prepare still fits an envelope but a
    // view-change wrapping its certificate does not.
    let data: unknown = 0;
    for (let i = 0; i < 248; i++) data = { x: data };
    const cluster = createCluster({ seed: 1, n: 4, f: 1, latency: FIXED });
    cluster.net.filter((m) => !isType(m, PBFT_MESSAGE_TYPES.commit));
    cluster.propose(makeProposal("deep", cluster.net.now, 60_000, data));
    assert.doesNotThrow(() => cluster.net.run({ until: START_MS + 1_000 }));
    const unsignable = logOf(cluster, "r1").rejected.filter((r) => r.reason === "unsignable");
    assert.ok(unsignable.length > 0, summary(cluster));
    assert.match(
      unsignable[0]?.detail ?? "",
      /could not sign a consensus\.pbft\.(view-change|new-view)/,
    );
  });
});

describe("PBFT certificates and configuration", () => {
  it("verifies a commit certificate offline and refuses doctored ones", () => {
    const cluster = createCluster({ seed: 6, n: 4, f: 1 });
    const proposal = makeProposal("a", cluster.net.now);
    cluster.propose(proposal);
    cluster.net.run({ until: START_MS + 100 });
    const certificate = logOf(cluster, "r1").committed[0]?.certificate ?? [];
    const options = { replicas: cluster.voters, f: 1, verify: cluster.verify, proposal };
    assert.equal(verifyPbftCertificate(certificate, options).ok, true);
    assert.equal(verifyPbftCertificate(certificate.slice(0, 2), options).ok, false);
    const doubled = [certificate[0], certificate[0], certificate[1]] as Envelope[];
    assert.equal(verifyPbftCertificate(doubled, options).ok, false);
    const tampered = [
      tamperBody(certificate[0] as Envelope, seededRandom(1)),
      ...certificate.slice(1),
    ];
    assert.equal(verifyPbftCertificate(tampered, options).ok, false);
    const other = makeProposal("b", cluster.net.now);
    assert.equal(verifyPbftCertificate(certificate, { ...options, proposal: other }).ok, false);
  });

  it("computes quorums that intersect in an honest replica", () => {
    assert.equal(pbftQuorum(4, 1), 3);
    assert.equal(pbftQuorum(7, 2), 5);
    assert.equal(pbftQuorum(10, 3), 7);
    assert.equal(pbftQuorum(5, 1), 4);
    for (let f = 0; f <= 5; f++) {
      for (let n = 3 * f + 1; n <= 3 * f + 6; n++) {
        const q = pbftQuorum(n, f);
        assert.ok(2 * q - n >= f + 1, `n=${n} f=${f}: quorums share an honest replica`);
        assert.ok(q <= n - f, `n=${n} f=${f}: a quorum exists without the faulty`);
      }
    }
  });

  it("refuses impossible configurations", () => {
    const replicas = ["a", "b", "c"].map((id) => ({ id, weight: 1, role: "replica" }));
    const base = {
      id: "a",
      replicas,
      f: 1,
      sign: () => {
        throw new Error("unused");
      },
      verify: () => true,
      validate: () => true,
      viewChangeTimeoutTicks: 10,
      now: 0,
    };
    assert.throws(() => createPbftReplica(base), ConfigError);
    assert.throws(() => createPbftReplica({ ...base, f: 0, id: "z" }), ConfigError);
    assert.throws(
      () => createPbftReplica({ ...base, f: 0, viewChangeTimeoutTicks: 0 }),
      ConfigError,
    );
    assert.throws(
      () => createPbftReplica({ ...base, f: 0, replicas: [...replicas, replicas[0] as never] }),
      ConfigError,
    );
    assert.doesNotThrow(() => createPbftReplica({ ...base, f: 0 }));
  });
});

type Wrapper =
  NonNullable<Parameters<typeof createCluster>[0]["byzantine"]> extends ReadonlyMap<string, infer W>
    ? W
    : never;

/** A Byzantine replica that runs the honest protocol and rewrites what it sends. */
function rewriting(
  rewrite: (output: SimOutput<unknown>, context: ByzantineContext) => SimOutput<unknown>,
): Wrapper {
  return (node, context) => ({
    id: node.id,
    step(message, now, from) {
      const output = node.step(message, now, from);
      return output && rewrite(output, context);
    },
    tick(now) {
      const output = node.tick?.(now);
      return output && rewrite(output, context);
    },
  });
}

/** Re-signs a pre-prepare (with the liar's own key) for another proposal. */
function conflictingPrePrepare(message: Envelope<PbftPrePrepareBody>, context: ByzantineContext) {
  const other: Proposal = makeProposal("x", START_MS);
  return context.resign({
    ...fieldsOf(message),
    body: { ...message.body, proposal: other, digest: pbftDigest(other) },
  });
}

/** Pre-prepares go as is to r1, and for p-x instead to r2 and r3. */
function splitPrePrepares(
  output: SimOutput<unknown>,
  context: ByzantineContext,
): SimOutput<unknown> {
  const send: SimSend<unknown>[] = [];
  for (const item of output.send) {
    const message = item.message as Envelope<PbftPrePrepareBody>;
    if (message.type !== PBFT_MESSAGE_TYPES.prePrepare || item.to !== "*") {
      send.push(item);
      continue;
    }
    const conflicting = conflictingPrePrepare(message, context);
    send.push({ to: "r1", message });
    send.push({ to: "r2", message: conflicting });
    send.push({ to: "r3", message: conflicting });
  }
  return { send };
}

/** Pre-prepares go to everyone, and a conflicting one follows to `target`. */
function alsoSendConflictTo(target: string) {
  return (output: SimOutput<unknown>, context: ByzantineContext): SimOutput<unknown> => {
    const send = [...output.send];
    for (const item of output.send) {
      const message = item.message as Envelope<PbftPrePrepareBody>;
      if (message.type !== PBFT_MESSAGE_TYPES.prePrepare) continue;
      send.push({ to: target, message: conflictingPrePrepare(message, context) });
    }
    return { send };
  };
}
