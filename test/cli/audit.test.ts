import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { pbftDigest } from "../../src/consensus/pbft.js";
import { compilePolicy } from "../../src/consensus/policy.js";
import { computeSeal, type Decision } from "../../src/consensus/seal.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Envelope } from "../../src/wire/envelope.js";

const root = resolve(import.meta.dirname, "..", "..");
const bin = join(root, "src", "cli", "bin.ts");
const tsx = import.meta.resolve("tsx");
const work = mkdtempSync(join(tmpdir(), "conclave-audit-"));
after(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ["--import", tsx, bin, ...args], {
    cwd: work,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((done) => child.on("close", (code) => done({ code, stdout, stderr })));
}

const original = join(work, "original.db");

/** A store with five decisions: approved, rejected, approved with Byzantine evidence, vetoed, approved. */
async function makeStore(): Promise<void> {
  const swarm = createSwarm({
    name: "audited",
    transport: createMemoryTransport({ journalPath: join(work, "journal.db") }),
    store: openSqliteStore({ path: original }),
    keys: () => generateAgentKeyPair(),
    roles: { lead: {}, security: {}, finance: {}, council: {} },
    defaults: { heartbeatMs: 100 },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 4 },
        vetoRoles: ["security"],
        deadlineMs: 2000,
      },
    },
  });
  swarm.agent({
    id: "architect",
    role: "lead",
    weight: 2.5,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 1500", message: "needs the board" }],
      default: "approve",
    }),
  });
  swarm.agent({
    id: "sentinel",
    role: "security",
    weight: 2,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 1100", message: "too large to allow at all" }],
      default: "approve",
    }),
  });
  swarm.agent({
    id: "auditor",
    role: "finance",
    weight: 1.5,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 1000", message: "over the limit" }],
      default: "approve",
    }),
  });
  swarm.agent({ id: "mole", role: "council", weight: 1 }).vote((proposal, ctx) => {
    if ((proposal.data as { byzantine?: boolean }).byzantine) {
      ctx.send({ ...ctx.sign("approve"), from: "auditor" });
      ctx.send(ctx.sign("approve"));
      ctx.send(ctx.sign("reject"));
      return null;
    }
    return { choice: "reject", reasons: ["never"] };
  });
  await swarm.start();
  const outcomes: string[] = [];
  for (const data of [
    { amount: 100 },
    { amount: 2000 },
    { amount: 300, byzantine: true },
    { amount: 1200 },
    { amount: 500 },
  ]) {
    outcomes.push((await swarm.propose("funds.transfer", data, { as: "architect" })).outcome);
  }
  assert.deepEqual(outcomes, ["approved", "rejected", "approved", "vetoed", "approved"]);
  await swarm.close();
}

/** A copy of the store, changed by `tamper` through SQL. */
function tampered(name: string, tamper: (db: Database.Database) => void): string {
  const file = join(work, `${name}.db`);
  copyFileSync(original, file);
  const db = new Database(file);
  tamper(db);
  db.close();
  return `sqlite:${file}`;
}

function rowData(db: Database.Database, seq: number): Decision {
  const row = db.prepare("select data from conclave_audit_log where seq = ?").get(seq) as {
    data: string;
  };
  return JSON.parse(row.data) as Decision;
}

describe("conclave audit verify", () => {
  before(makeStore);

  test("an intact log verifies: exit 0 and the count", async () => {
    const r = await run(["audit", "verify", "--store", `sqlite:${original}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /5 entries, 5 decisions \(3 approved, 1 rejected, 1 vetoed, 0 no-quorum\)/,
    );
    assert.match(r.stdout, /2 pieces of Byzantine evidence/);
    const json = await run(["audit", "verify", "--store", `sqlite:${original}`, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const verdict = JSON.parse(json.stdout) as { ok: boolean; decisions: number; evidence: number };
    assert.equal(verdict.ok, true);
    assert.equal(verdict.decisions, 5);
  });

  const cases: [string, (db: Database.Database) => void, number, RegExp][] = [
    [
      "an altered outcome",
      (db) =>
        db
          .prepare(
            `update conclave_audit_log set data = json_set(data, '$.outcome', 'approved') where seq = 2`,
          )
          .run(),
      2,
      /altered/,
    ],
    [
      "altered proposal data",
      (db) =>
        db
          .prepare(
            `update conclave_audit_log set data = json_set(data, '$.proposal.data.amount', 99999) where seq = 3`,
          )
          .run(),
      3,
      /altered/,
    ],
    [
      "a removed entry",
      (db) => db.prepare("delete from conclave_audit_log where seq = 2").run(),
      3,
      /removed or reordered/,
    ],
    [
      "two entries swapped",
      (db) => {
        db.prepare("update conclave_audit_log set seq = -1 where seq = 2").run();
        db.prepare("update conclave_audit_log set seq = 2 where seq = 3").run();
        db.prepare("update conclave_audit_log set seq = 3 where seq = -1").run();
      },
      2,
      /link/,
    ],
    [
      "the last entry removed",
      (db) => db.prepare("delete from conclave_audit_log where seq = 5").run(),
      5,
      /removed from its end/,
    ],
    [
      "a changed vote, resealed down the whole chain",
      (db) => {
        // A forger with write access recomputes every seal: only the signatures hold.
        let prevSeal: string | null = null;
        for (let seq = 1; seq <= 5; seq++) {
          const decision = rowData(db, seq) as Decision & { votes: { body: { choice: string } }[] };
          if (seq === 1) {
            const vote = decision.votes[0];
            if (vote) vote.body.choice = vote.body.choice === "approve" ? "reject" : "approve";
          }
          const resealed = { ...decision, prevSeal };
          const seal = computeSeal(resealed);
          db.prepare(
            "update conclave_audit_log set data = ?, prev_hash = ?, hash = ? where seq = ?",
          ).run(JSON.stringify({ ...resealed, seal }), prevSeal, seal, seq);
          prevSeal = seal;
        }
        db.prepare("update conclave_meta set value = ? where key = 'consensus.head'").run(prevSeal);
      },
      1,
      /signature/,
    ],
  ];

  for (const [what, tamper, seq, reason] of cases) {
    test(`${what} is detected: exit 1, the first bad entry named`, async () => {
      const store = tampered(what.replace(/\W+/g, "-"), tamper);
      const r = await run(["audit", "verify", "--store", store]);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`BROKEN at entry ${seq}\\b`));
      assert.match(r.stdout, reason);
      const json = await run(["audit", "verify", "--store", store, "--json"]);
      assert.equal(json.code, 1);
      const verdict = JSON.parse(json.stdout) as { ok: boolean; seq: number };
      assert.equal(verdict.ok, false);
      assert.equal(verdict.seq, seq);
    });
  }

  test("the demo's privileged proposals: summary counts from the audit log, which verifies", async () => {
    const dataDir = join(work, "demo");
    const r = await run(["demo", "--json", "--tasks", "200", "--data-dir", dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as {
      tasks: { submitted: number; lost: number };
      consensus: {
        proposals: number;
        approved: number;
        rejected: number;
        byzantineDetected: number;
      };
    };
    assert.equal(summary.tasks.submitted, 200);
    assert.equal(summary.tasks.lost, 0);
    // A transfer every 20 reviews (amounts 250 … 1500), a deploy every 50.
    assert.deepEqual(summary.consensus, {
      proposals: 14,
      approved: 10,
      rejected: 4,
      // The mole forges the auditor's vote and votes twice on every proposal.
      byzantineDetected: 28,
    });
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      events.some((e) => e["type"] === "consensus.byzantine" && e["kind"] === "bad-signature"),
    );
    assert.ok(
      events.some((e) => e["type"] === "consensus.byzantine" && e["kind"] === "equivocation"),
    );
    const verified = await run([
      "audit",
      "verify",
      "--swarm",
      join(root, "examples", "review-swarm", "swarm.yaml"),
      "--store",
      `sqlite:${join(dataDir, "review-swarm.db")}`,
    ]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(
      verified.stdout,
      /14 decisions \(10 approved, 2 rejected, 2 vetoed, 0 no-quorum\)/,
    );
  });

  test("without a store it is a usage error (exit 2)", async () => {
    const r = await run(["audit", "verify"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--store/);
    const missing = await run(["audit", "verify", "--store", `sqlite:${join(work, "nope.db")}`]);
    assert.equal(missing.code, 2);
  });
});

describe("conclave audit verify: PBFT decisions", () => {
  const pbftStore = join(work, "pbft.db");

  /** Three PBFT decisions: approved despite a Byzantine replica, approved after a view change, rejected. */
  before(async () => {
    const swarm = createSwarm({
      name: "audited-pbft",
      transport: createMemoryTransport({ journalPath: join(work, "pbft-journal.db") }),
      store: openSqliteStore({ path: pbftStore }),
      keys: () => generateAgentKeyPair(),
      roles: { council: {}, ops: {} },
      defaults: { heartbeatMs: 100 },
      privileged: {
        "deploy.production": { protocol: "pbft", voters: ["council"], deadlineMs: 3000 },
      },
    });
    swarm.agent({ id: "operator", role: "ops" });
    const mode = { value: "byzantine" };
    for (const id of ["alice", "bob", "carol", "mallory"]) {
      swarm.agent({ id, role: "council" }).vote((proposal, ctx) => {
        if (mode.value === "reject" && id !== "alice") {
          return { choice: "reject", reasons: ["not today"] };
        }
        if (mode.value === "view-change" && id === "alice") return null;
        if (mode.value === "byzantine" && id === "mallory") {
          const digest = pbftDigest(proposal);
          ctx.send({
            ...ctx.signMessage("consensus.pbft.commit", { view: 0, seq: 1, digest }),
            from: "bob",
          });
          return null;
        }
        return { choice: "approve", reasons: [] };
      });
    }
    await swarm.start();
    const outcomes: string[] = [];
    for (const next of ["byzantine", "view-change", "reject"]) {
      mode.value = next;
      const decision = await swarm.propose("deploy.production", { step: next }, { as: "operator" });
      outcomes.push(decision.outcome);
    }
    assert.deepEqual(outcomes, ["approved", "approved", "rejected"]);
    await swarm.close();
  });

  test("every certificate and refusal verifies offline: exit 0 and the count", async () => {
    const r = await run(["audit", "verify", "--store", `sqlite:${pbftStore}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 decisions \(2 approved, 1 rejected, 0 vetoed, 0 no-quorum\)/);
    assert.match(r.stdout, /1 pieces of Byzantine evidence/);
  });

  const resealed = (change: (decision: Decision) => void) => (db: Database.Database) => {
    // A forger with write access recomputes every seal: only the signatures and the certificate rule hold.
    let prevSeal: string | null = null;
    for (let seq = 1; seq <= 3; seq++) {
      const decision = rowData(db, seq);
      if (seq === 1) change(decision);
      const sealed = { ...decision, prevSeal };
      const seal = computeSeal(sealed);
      db.prepare(
        "update conclave_audit_log set data = ?, prev_hash = ?, hash = ? where seq = ?",
      ).run(JSON.stringify({ ...sealed, seal }), prevSeal, seal, seq);
      prevSeal = seal;
    }
    db.prepare("update conclave_meta set value = ? where key = 'consensus.head'").run(prevSeal);
  };
  const cases: [string, (db: Database.Database) => void, RegExp][] = [
    [
      "a certificate one commit short, tally and all resealed",
      resealed((d) => {
        const record = d as unknown as { votes: unknown[]; tally: { approve: number } };
        record.votes = record.votes.slice(1);
        record.tally.approve = 2;
      }),
      /give no-quorum|still open/,
    ],
    [
      "a commit moved to another digest, resealed",
      resealed((d) => {
        ((d.votes[0] as Envelope).body as { digest: string }).digest = "0".repeat(64);
      }),
      /signature|another proposal's digest/,
    ],
    [
      "the approved data changed, resealed",
      resealed((d) => {
        (d.proposal as { data: unknown }).data = { step: "rm -rf" };
      }),
      /another proposal's digest/,
    ],
  ];
  for (const [what, tamper, reason] of cases) {
    test(`${what} is detected: exit 1 at entry 1`, async () => {
      const file = join(work, `pbft-${what.replace(/\W+/g, "-")}.db`);
      copyFileSync(pbftStore, file);
      const db = new Database(file);
      tamper(db);
      db.close();
      const r = await run(["audit", "verify", "--store", `sqlite:${file}`]);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /BROKEN at entry 1\b/);
      assert.match(r.stdout, reason);
    });
  }
});
