/**
 * The coordinator's watch over a PBFT decision (`createPbftRound`) and the
 * offline rule that checks its record (`verifyDecision` with protocol pbft):
 * four replicas (f = 1, q = 3) exchange their messages synchronously; the
 * round sees every broadcast, as the proposer's node does on the bus.
 */
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { describe, test } from "node:test";
import { verifyDecision } from "../../src/consensus/decision.js";
import {
  createPbftReplica,
  PBFT_MESSAGE_TYPES,
  type PbftBody,
  type PbftReplica,
  pbftDigest,
} from "../../src/consensus/pbft.js";
import {
  createPbftRound,
  type PbftRound,
  pbftOutcome,
  pbftRoundSize,
} from "../../src/consensus/pbft-round.js";
import { type Decision, sealDecision } from "../../src/consensus/seal.js";
import type { Proposal, VoteChoice, Voter } from "../../src/consensus/types.js";
import { createVote, verifierFromKeys } from "../../src/consensus/vote.js";
import type { Clock } from "../../src/core/clock.js";
import { type AgentKeyPair, agentKeyPairFromSeed } from "../../src/identity/keys.js";
import { createEnvelope, type Envelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";

const T0 = 1_700_000_000_000;
const IDS = ["alice", "bob", "carol", "dave"] as const;
const REPLICAS: readonly Voter[] = IDS.map((id) => ({ id, weight: 1, role: "council" }));
const keys = new Map<string, AgentKeyPair>(
  [...IDS, "mallory"].map((id) => {
    const seed = new Uint8Array(32);
    new TextEncoder().encodeInto(`pbft-round/${id}`, seed);
    return [id, agentKeyPairFromSeed(seed)];
  }),
);
const publicKeys = new Map<string, KeyObject>([...keys].map(([id, k]) => [id, k.publicKey]));
const verify = verifierFromKeys(publicKeys);

const at = (now: number): Clock => ({ now: () => now, setTimer: () => () => undefined });

function proposal(n = 1): Proposal {
  return {
    id: `01JP00000000000000000000${String(n).padStart(2, "0")}`,
    action: "deploy.production",
    data: { release: n },
    proposer: "alice",
    ts: T0,
    deadline: T0 + 5_000,
    protocol: "pbft",
  };
}

function sign<B>(from: string, type: string, body: B, now = T0): Envelope<B> {
  const key = (keys.get(from) as AgentKeyPair).privateKey;
  return signEnvelope(createEnvelope({ type, from, body }, { clock: at(now) }), key);
}

function refusal(p: Proposal, from: string, choice: VoteChoice): Envelope {
  return createVote(
    {
      proposal: p,
      from,
      choice,
      reason: "no",
      privateKey: (keys.get(from) as AgentKeyPair).privateKey,
    },
    { clock: at(T0) },
  );
}

interface Net {
  readonly round: PbftRound;
  readonly replicas: Map<string, PbftReplica>;
  /** Messages every replica and the round receive, delivered until quiet. */
  broadcast(envelope: Envelope, now?: number): void;
  tick(now: number): void;
}

/** Replicas whose `approve` is true take part; `silent` ones run nothing. */
function network(
  p: Proposal,
  options: { silent?: readonly string[]; approve?: (id: string) => boolean } = {},
): Net {
  const round = createPbftRound({ proposal: p, replicas: REPLICAS, verify });
  const replicas = new Map<string, PbftReplica>();
  const queue: { envelope: Envelope; now: number }[] = [];
  for (const id of IDS) {
    if (options.silent?.includes(id)) continue;
    const key = (keys.get(id) as AgentKeyPair).privateKey;
    replicas.set(
      id,
      createPbftReplica({
        id,
        replicas: REPLICAS,
        f: 1,
        sign: (fields, now) =>
          signEnvelope(createEnvelope<PbftBody>(fields, { clock: at(now) }), key),
        verify,
        validate: () => options.approve?.(id) ?? true,
        viewChangeTimeoutTicks: 3,
        now: T0,
      }),
    );
  }
  const drain = () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      round.step(next.envelope, next.now);
      for (const replica of replicas.values()) {
        if (replica.id !== next.envelope.from) replica.step(next.envelope, next.now);
      }
      collect(next.now);
    }
  };
  const collect = (now: number) => {
    for (const replica of replicas.values()) {
      for (const { envelope } of replica.ready().send) queue.push({ envelope, now });
    }
  };
  for (const replica of replicas.values()) replica.propose(p, T0);
  collect(T0);
  drain();
  return {
    round,
    replicas,
    broadcast(envelope, now = T0 + 1) {
      queue.push({ envelope, now });
      drain();
    },
    tick(now) {
      for (const replica of replicas.values()) replica.tick(now);
      collect(now);
      drain();
      round.tick(now);
    },
  };
}

function sealed(round: PbftRound): Decision {
  const result = round.result();
  assert.ok(result, "decided");
  const { proposalHash: _hash, ...parts } = result;
  return sealDecision(JSON.parse(JSON.stringify(parts)), null);
}

function verifyOffline(decision: Decision) {
  return verifyDecision(decision, { publicKeys, voters: REPLICAS, threshold: { weight: 1 } });
}

describe("PBFT round: outcomes", () => {
  test("sizes: n = 4 → f = 1, certificate 3, refusals 3; n = 7 → 2, 5, 5; n = 5 → 1, 4, 3", () => {
    assert.deepEqual(pbftRoundSize(4), { n: 4, f: 1, quorum: 3, refusals: 3 });
    assert.deepEqual(pbftRoundSize(7), { n: 7, f: 2, quorum: 5, refusals: 5 });
    assert.deepEqual(pbftRoundSize(5), { n: 5, f: 1, quorum: 4, refusals: 3 });
    const size = pbftRoundSize(4);
    assert.equal(pbftOutcome(size, { commits: 3, reject: 3, abstain: 0 }, false), "approved");
    assert.equal(pbftOutcome(size, { commits: 2, reject: 3, abstain: 0 }, false), "rejected");
    assert.equal(pbftOutcome(size, { commits: 0, reject: 2, abstain: 1 }, false), "no-quorum");
    assert.equal(pbftOutcome(size, { commits: 2, reject: 2, abstain: 0 }, false), undefined);
    assert.equal(pbftOutcome(size, { commits: 2, reject: 2, abstain: 0 }, true), "no-quorum");
    assert.equal(
      pbftOutcome(pbftRoundSize(3), { commits: 3, reject: 0, abstain: 0 }, false),
      "no-quorum",
    );
  });

  test("four honest replicas: approved on 2f + 1 commits, and the sealed record verifies offline", () => {
    const p = proposal();
    const { round } = network(p);
    const result = round.result();
    assert.equal(result?.outcome, "approved");
    assert.equal(result?.protocol, "pbft");
    assert.deepEqual(result?.tally, { approve: 3, reject: 0, abstain: 0, threshold: 3, total: 4 });
    const commits = result?.votes ?? [];
    assert.equal(commits.length, 3);
    for (const commit of commits) {
      assert.equal(commit.type, PBFT_MESSAGE_TYPES.commit);
      assert.equal((commit.body as { digest: string }).digest, pbftDigest(p));
    }
    assert.deepEqual(result?.evidence, []);
    const decision = sealed(round);
    assert.deepEqual(verifyOffline(decision), { ok: true });
  });

  test("one silent replica (not the primary): the other three still commit", () => {
    const { round } = network(proposal(), { silent: ["dave"] });
    assert.equal(round.result()?.outcome, "approved");
    assert.deepEqual(
      round.result()?.votes.map((v) => v.from),
      ["alice", "bob", "carol"],
    );
  });

  test("a silent primary: backups time out, change view, and commit under the next primary", () => {
    const p = proposal();
    const net = network(p, { silent: ["alice"] });
    assert.equal(net.round.result(), undefined);
    for (let t = 1; t <= 10 && net.round.result() === undefined; t++) net.tick(T0 + t * 50);
    const result = net.round.result();
    assert.equal(result?.outcome, "approved");
    assert.ok(result?.votes.every((v) => (v.body as { view: number }).view === 1));
    assert.deepEqual(verifyOffline(sealed(net.round)), { ok: true });
  });

  test("three signed rejections: rejected (no certificate can form); two and an abstention: no-quorum at once", () => {
    const p = proposal();
    const rejected = network(p, { approve: (id) => id === "alice" });
    for (const id of ["bob", "carol", "dave"]) rejected.broadcast(refusal(p, id, "reject"));
    assert.equal(rejected.round.result()?.outcome, "rejected");
    assert.deepEqual(rejected.round.result()?.tally, {
      approve: 0,
      reject: 3,
      abstain: 0,
      threshold: 3,
      total: 4,
    });
    assert.deepEqual(verifyOffline(sealed(rejected.round)), { ok: true });

    const mixed = network(p, { approve: (id) => id === "alice" });
    mixed.broadcast(refusal(p, "bob", "reject"));
    mixed.broadcast(refusal(p, "carol", "reject"));
    assert.equal(mixed.round.result(), undefined, "two refusals leave a certificate possible");
    mixed.broadcast(refusal(p, "dave", "abstain"));
    assert.equal(mixed.round.result()?.outcome, "no-quorum");
    assert.deepEqual(verifyOffline(sealed(mixed.round)), { ok: true });
  });

  test("too few approvals: no-quorum at the deadline, not before", () => {
    const p = proposal();
    const net = network(p, { approve: (id) => id === "alice" || id === "bob" });
    net.tick(p.deadline - 1);
    assert.equal(net.round.result(), undefined);
    net.tick(p.deadline);
    assert.equal(net.round.result()?.outcome, "no-quorum");
    assert.deepEqual(verifyOffline(sealed(net.round)), { ok: true });
  });

  test("fewer than 4 replicas: no-quorum at once, with the reason", () => {
    const round = createPbftRound({ proposal: proposal(), replicas: REPLICAS.slice(0, 3), verify });
    assert.equal(round.result()?.outcome, "no-quorum");
    assert.match(round.result()?.reason ?? "", /at least 4 replicas/);
  });
});

describe("PBFT round: Byzantine evidence", () => {
  test("forged, equivocating, out-of-view, unknown and replayed messages are evidence; the honest three still decide", () => {
    const p = proposal();
    const digest = pbftDigest(p);
    const round = createPbftRound({ proposal: p, replicas: REPLICAS, verify });
    const wrong = "0".repeat(64);
    const first = sign("dave", PBFT_MESSAGE_TYPES.commit, { view: 0, seq: 1, digest: wrong });
    const messages: Envelope[] = [
      // dave's signature under carol's name
      { ...sign("dave", PBFT_MESSAGE_TYPES.commit, { view: 0, seq: 1, digest }), from: "carol" },
      first,
      sign("dave", PBFT_MESSAGE_TYPES.commit, { view: 0, seq: 1, digest }),
      sign("bob", PBFT_MESSAGE_TYPES.prePrepare, { view: 0, seq: 1, digest, proposal: p }),
      sign("mallory", PBFT_MESSAGE_TYPES.commit, { view: 0, seq: 1, digest }),
      first,
      sign("carol", PBFT_MESSAGE_TYPES.prePrepare, { view: 2, seq: 1, digest: wrong, proposal: p }),
    ];
    for (const message of messages) round.step(message, T0 + 1);
    assert.equal(round.result(), undefined);
    for (const id of ["alice", "bob"]) {
      round.step(sign(id, PBFT_MESSAGE_TYPES.commit, { view: 0, seq: 1, digest }), T0 + 2);
    }
    assert.equal(round.result(), undefined, "dave's second, conflicting commit does not count");
    round.step(sign("carol", PBFT_MESSAGE_TYPES.commit, { view: 0, seq: 1, digest }), T0 + 3);
    const result = round.result();
    assert.equal(result?.outcome, "approved");
    assert.deepEqual(
      result?.votes.map((v) => v.from),
      ["alice", "bob", "carol"],
    );
    assert.deepEqual(
      result?.evidence.map((e) => `${e.kind}:${e.agent}`),
      [
        "bad-signature:carol",
        "equivocation:dave",
        "out-of-view:bob",
        "unknown-voter:mallory",
        "replay:dave",
        "wrong-proposal:carol",
      ],
    );
    assert.deepEqual(verifyOffline(sealed(round)), { ok: true });
  });

  test("a commit certificate carried in a view-change decides, though its commits never arrived", () => {
    const p = proposal();
    const digest = pbftDigest(p);
    const commits = ["alice", "bob", "carol"].map((id) =>
      sign(id, PBFT_MESSAGE_TYPES.commit, { view: 0, seq: 1, digest }),
    );
    const round = createPbftRound({ proposal: p, replicas: REPLICAS, verify });
    round.step(
      sign("dave", PBFT_MESSAGE_TYPES.viewChange, {
        view: 1,
        committed: [{ proposal: p, commits }],
        prepared: [],
        prePrepared: [],
      }),
      T0 + 1,
    );
    assert.equal(round.result()?.outcome, "approved");
    assert.deepEqual(verifyOffline(sealed(round)), { ok: true });
  });
});

describe("PBFT record: offline verification catches tampering", () => {
  const p = proposal();
  const approved = sealed(network(p).round);
  const reseal = (change: (d: Decision) => Decision) => {
    const { seal: _s, prevSeal, ...parts } = change(JSON.parse(JSON.stringify(approved)));
    return sealDecision(parts, prevSeal);
  };
  const cases: [string, (d: Decision) => Decision, RegExp][] = [
    [
      "a commit dropped",
      (d) => ({ ...d, votes: d.votes.slice(1) }),
      /give no-quorum|still open|tally/,
    ],
    [
      "a commit's digest altered",
      (d) => ({
        ...d,
        votes: d.votes.map((v, i) =>
          i === 0 ? { ...v, body: { ...(v.body as object), digest: "1".repeat(64) } } : v,
        ),
      }),
      /signature|another proposal's digest/,
    ],
    [
      "a commit repeated",
      (d) => ({ ...d, votes: [...d.votes.slice(0, 2), d.votes[0] as Envelope] }),
      /appears twice/,
    ],
    ["the outcome", (d) => ({ ...d, outcome: "rejected" }), /give approved/],
    ["the tally", (d) => ({ ...d, tally: { ...d.tally, approve: 4 } }), /tally/],
    [
      "the data approved",
      (d) => ({ ...d, proposal: { ...d.proposal, data: { release: 666 } } }),
      /another proposal's digest/,
    ],
  ];
  for (const [what, change, reason] of cases) {
    test(`${what}`, () => {
      const verdict = verifyOffline(reseal(change));
      assert.equal(verdict.ok, false);
      assert.match(verdict.ok ? "" : verdict.reason, reason);
    });
  }
});
