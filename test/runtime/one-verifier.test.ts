/**
 * One verifier (issue 11): the library's `verifyChain` and the engine's and
 * CLI's `verifyAuditLog` reach the same verdict, at the same entry, on the
 * same tampered logs. The log is made by a real swarm (memory transport,
 * SQLite store): three decisions with signed seals, each carrying its rule.
 * The library is given what an auditor configures (the voters, their keys,
 * the threshold); the runtime reads the rule each decision carries.
 */
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { approvalProblem, requireApproval } from "../../src/consensus/approval.js";
import { DECISION_KIND, verifyChain } from "../../src/consensus/audit-verify.js";
import { compilePolicy } from "../../src/consensus/policy.js";
import type { PrivilegedAction, RuntimeProposal } from "../../src/consensus/rule.js";
import { computeSeal, type Decision } from "../../src/consensus/seal.js";
import { QuorumNotReachedError, UnapprovedActionError } from "../../src/errors/index.js";
import { decodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { readAuditLog, verifyAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Envelope } from "../../src/wire/envelope.js";

const work = mkdtempSync(join(tmpdir(), "conclave-one-verifier-"));
after(() => rmSync(work, { recursive: true, force: true }));

const transfer: PrivilegedAction = {
  protocol: "quorum",
  threshold: { weight: 4 },
  voters: ["lead", "dev", "security", "finance"],
  deadlineMs: 2000,
};

let LOG: readonly Decision[] = [];

/** Approved, rejected, approved, by seed 000's council on one node. */
async function makeLog(): Promise<void> {
  const path = join(work, "log.db");
  const swarm = createSwarm({
    name: "one-verifier",
    transport: createMemoryTransport({ journalPath: join(work, "journal.db") }),
    store: openSqliteStore({ path }),
    keys: () => generateAgentKeyPair(),
    roles: { lead: {}, dev: {}, security: {}, finance: {} },
    defaults: {
      heartbeatMs: 100,
      ackWaitMs: 2000,
      maxDeliver: 3,
      backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" },
    },
    privileged: { "funds.transfer": transfer },
  });
  swarm.agent({ id: "architect", role: "lead", weight: 2.5 });
  swarm.agent({ id: "developer", role: "dev", weight: 1 });
  swarm.agent({
    id: "sentinel",
    role: "security",
    weight: 2,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 1000", message: "needs a human" }],
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
  await swarm.start();
  const outcomes: string[] = [];
  for (const amount of [100, 5000, 300]) {
    outcomes.push((await swarm.propose("funds.transfer", { amount }, { as: "architect" })).outcome);
  }
  await swarm.close();
  assert.deepEqual(outcomes, ["approved", "rejected", "approved"]);
  const store = openSqliteStore({ path, create: false });
  const records = await readAuditLog(store);
  await store.close();
  assert.ok(records.every((r) => r.kind === DECISION_KIND));
  LOG = records.map((r) => r.data as Decision);
  assert.ok(
    LOG.every((d) => d.signature !== undefined),
    "every seal is signed",
  );
}

const clone = <T>(value: T): T => structuredClone(value);

/** A decision changed and sealed again, as an attacker with store access can; its seal signature is kept. */
function reseal(decision: Decision, prevSeal: string | null = decision.prevSeal): Decision {
  const { seal: _seal, signature, ...rest } = decision;
  const unsealed = { ...rest, prevSeal };
  const seal = computeSeal(unsealed as Decision);
  return { ...unsealed, seal, ...(signature ? { signature } : {}) } as Decision;
}

/** Entries re-linked and re-sealed from `from` on (the attack of PROTOCOL.md); `strip` drops their seal signatures. */
function relink(log: Decision[], from: number, strip = false): Decision[] {
  const out: Decision[] = [];
  for (const [i, d] of log.entries()) {
    if (i < from) {
      out.push(d);
      continue;
    }
    let next = reseal(d, i === 0 ? null : (out[i - 1] as Decision).seal);
    if (strip) {
      const { signature: _signature, ...unsigned } = next;
      next = unsigned as Decision;
    }
    out.push(next);
  }
  return out;
}

/** What the auditor configures for the library: the voters, their keys, the threshold. */
function auditorConfig() {
  const rule = ((LOG[0] as Decision).proposal as RuntimeProposal).rule;
  const publicKeys = new Map<string, KeyObject>(
    rule.voters.map((v) => [v.id, decodePublicKey(v.publicKey)]),
  );
  return { publicKeys, voters: rule.voters, threshold: rule.threshold };
}

/** Both entry points on one log: the first bad entry (0-based), or "ok". */
function verdicts(log: readonly Decision[], head?: string) {
  const library = verifyChain(log, {
    decisions: auditorConfig(),
    ...(head === undefined ? {} : { head }),
  });
  const records = log.map((d, i) => ({
    seq: i + 1,
    kind: DECISION_KIND,
    data: d,
    prevHash: d.prevSeal,
    hash: d.seal,
  }));
  const runtime = verifyAuditLog(records, head === undefined ? {} : { head });
  return {
    library: library.ok ? "ok" : library.index,
    runtime: runtime.ok ? "ok" : runtime.seq - 1,
    reasons: `library: ${library.ok ? "ok" : library.reason}\nruntime: ${runtime.ok ? "ok" : runtime.reason}`,
  };
}

describe("the library and the engine/CLI verify a log the same way", () => {
  before(makeLog);

  test("a table of tampered logs: same verdict, same first bad entry", () => {
    const [a, b, c] = LOG as [Decision, Decision, Decision];
    const lastSeal = c.seal;
    const cases: [string, () => Decision[], number | "ok", string?][] = [
      ["the log as written", () => [a, b, c], "ok", lastSeal],
      ["an outcome altered", () => [a, { ...clone(b), outcome: "approved" }, c], 1],
      ["a decision deleted", () => [a, c], 1],
      ["two decisions swapped", () => [a, c, b], 1],
      ["the last decision cut off, with the recorded head", () => [a, b], 2, lastSeal],
      ["the last decision cut off, without a head", () => [a, b], "ok"],
      [
        "a tally altered and re-sealed",
        () => [reseal({ ...clone(a), tally: { ...a.tally, approve: 9 } }), b, c],
        0,
      ],
      [
        "a vote flipped and re-sealed",
        () => {
          const votes = clone(b.votes) as Envelope[];
          const body = (votes[0] as { body: { choice: string } }).body;
          body.choice = body.choice === "approve" ? "reject" : "approve";
          return relink([a, { ...clone(b), votes }, c], 1);
        },
        1,
      ],
      [
        "the rejected decision deleted, later entries re-sealed (signatures kept)",
        () => relink([a, c], 1),
        1,
      ],
      [
        "the rejected decision deleted, later entries re-sealed, their signatures stripped",
        () => relink([a, c], 1, true),
        1,
      ],
      [
        "the rejected decision deleted, every entry re-sealed unsigned, with the recorded head",
        () => relink([a, c], 0, true),
        2,
        lastSeal,
      ],
      // What neither can catch without an anchor: a consistent, wholly unsigned rewrite.
      [
        "the rejected decision deleted, every entry re-sealed unsigned, no head",
        () => relink([a, c], 0, true),
        "ok",
      ],
      [
        "a seal signer changed",
        () => [
          a,
          b,
          { ...clone(c), signature: { ...c.signature, signer: "developer" } } as Decision,
        ],
        2,
      ],
    ];
    for (const [what, make, expected, head] of cases) {
      const seen = verdicts(make(), head);
      assert.equal(seen.library, expected, `${what} (library)\n${seen.reasons}`);
      assert.equal(seen.runtime, expected, `${what} (engine/CLI)\n${seen.reasons}`);
    }
  });

  test("the library's guard and the engine's refuse the same decisions for the same reason", () => {
    const [a, b] = LOG as [Decision, Decision];
    const action = "funds.transfer";
    const noQuorum = reseal({ ...clone(a), outcome: "no-quorum" });
    const cases: [string, Decision, string, RegExp | undefined][] = [
      ["an approval", a, action, undefined],
      ["another action", a, "backup.delete", /approves "funds.transfer", not this action/],
      ["a rejection", b, action, /was rejected/],
      ["no quorum (re-sealed)", noQuorum, action, /reached no quorum/],
      [
        "a tally altered and re-sealed",
        reseal({ ...clone(a), tally: { ...a.tally, approve: 9 } }),
        action,
        /does not verify/,
      ],
    ];
    for (const [what, decision, asked, reason] of cases) {
      // The engine's guard: the rule the decision carries, against the swarm's configuration.
      const engine = approvalProblem(decision, {
        action: asked,
        data: decision.proposal.data,
        trust: {
          privileged: { [action]: transfer },
          roles: ["lead", "dev", "security", "finance"],
        },
      });
      let library: unknown;
      try {
        requireApproval(decision, { ...auditorConfig(), action: asked });
      } catch (err) {
        library = err;
      }
      if (reason === undefined) {
        assert.equal(engine, undefined, what);
        assert.equal(library, undefined, what);
        continue;
      }
      assert.match(engine?.reason ?? "", reason, `${what} (engine)`);
      assert.ok(library instanceof UnapprovedActionError, `${what} (library): ${String(library)}`);
      assert.match(library.message, reason, `${what} (library)`);
      if (decision.outcome === "no-quorum") {
        assert.ok(engine?.cause instanceof QuorumNotReachedError, what);
        assert.ok(library.cause instanceof QuorumNotReachedError, what);
      }
    }
  });
});
