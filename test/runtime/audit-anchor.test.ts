/**
 * The audit chain anchored outside the store it protects (issue 11): each
 * seal signed by the agent that appended it, signed heads published on the
 * bus and witnessed by other nodes. An attacker with write access to the
 * store and no agent key deletes a `rejected` decision and recomputes every
 * later seal, link and the `consensus.head` row as docs/PROTOCOL.md
 * describes: the library verifier and `conclave audit verify` refuse it,
 * naming the first decision that differs.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { parseSignedHead, type SignedHead, signHead } from "../../src/consensus/audit-anchor.js";
import { compilePolicy } from "../../src/consensus/policy.js";
import type { PrivilegedAction, RuntimeProposal } from "../../src/consensus/rule.js";
import { computeSeal, type Decision } from "../../src/consensus/seal.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import {
  HEAD_EVENT,
  SIGNED_HEAD_META_KEY,
  storedHeads,
  WITNESS_META_KEY,
} from "../../src/runtime/consensus/audit-heads.js";
import {
  readAuditLog,
  verifyAuditLog,
  verifyStoredAuditLog,
} from "../../src/runtime/consensus/audit-log.js";
import { subjects } from "../../src/runtime/subjects.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { run } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";

const work = mkdtempSync(join(tmpdir(), "conclave-anchor-"));
after(() => rmSync(work, { recursive: true, force: true }));

const roles = { lead: {}, dev: {}, security: {}, finance: {} };
const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const transfer: PrivilegedAction = {
  protocol: "quorum",
  threshold: { weight: 4 },
  voters: ["lead", "dev", "security", "finance"],
  deadlineMs: 2000,
};

/** Seed 000's council (weights 2.5 / 1 / 2 / 1.5, threshold 4), on one node or split over two. */
function council(lead: Swarm, others: Swarm = lead): void {
  lead.agent({ id: "architect", role: "lead", weight: 2.5 });
  lead.agent({ id: "developer", role: "dev", weight: 1 });
  others.agent({
    id: "sentinel",
    role: "security",
    weight: 2,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 1000", message: "needs a human" }],
      default: "approve",
    }),
  });
  others.agent({
    id: "auditor",
    role: "finance",
    weight: 1.5,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 2000", message: "over the finance limit" }],
      default: "approve",
    }),
  });
}

const original = join(work, "original.db");
let exported: SignedHead;

/** Three decisions on one node: approved, rejected, approved. */
async function makeStore(): Promise<void> {
  const swarm = createSwarm({
    name: "anchored",
    transport: createMemoryTransport({ journalPath: join(work, "journal.db") }),
    store: openSqliteStore({ path: original }),
    keys: () => generateAgentKeyPair(),
    roles,
    defaults,
    privileged: { "funds.transfer": transfer },
  });
  council(swarm);
  await swarm.start();
  const outcomes: string[] = [];
  for (const amount of [100, 5000, 300]) {
    outcomes.push((await swarm.propose("funds.transfer", { amount }, { as: "architect" })).outcome);
  }
  assert.deepEqual(outcomes, ["approved", "rejected", "approved"]);
  await swarm.close();
  const store = openSqliteStore({ path: original });
  const text = await store.getMeta(SIGNED_HEAD_META_KEY);
  await store.close();
  const head = parseSignedHead(JSON.parse(text ?? "null"));
  assert.ok(typeof head === "object", `the node recorded a signed head: ${String(head)}`);
  exported = head;
}

function rows(db: Database.Database): { seq: number; kind: string; data: string }[] {
  return db.prepare("select seq, kind, data from conclave_audit_log order by seq").all() as {
    seq: number;
    kind: string;
    data: string;
  }[];
}

/**
 * The attack of issue 11: entry `seq` deleted, every later entry moved up
 * one, its seal and link recomputed as docs/PROTOCOL.md describes, and the
 * `consensus.head` row set to the new last seal. `strip` also drops the
 * seal signatures it cannot recompute (of every entry, with `all`), and the
 * signed head row the attacker cannot forge.
 */
function deleteAndReseal(db: Database.Database, seq: number, strip?: "later" | "all"): void {
  const kept = rows(db).filter((r) => r.seq !== seq);
  db.prepare("delete from conclave_audit_log").run();
  let prevSeal: string | null = null;
  kept.forEach((row, i) => {
    const decision = JSON.parse(row.data) as Decision;
    const { signature, ...unsigned } = decision;
    const dropSignature = strip === "all" || (strip === "later" && row.seq > seq);
    const resealed = { ...unsigned, prevSeal };
    const seal = computeSeal(resealed);
    const data = { ...resealed, seal, ...(dropSignature || !signature ? {} : { signature }) };
    db.prepare(
      "insert into conclave_audit_log (seq, kind, data, prev_hash, hash) values (?, ?, ?, ?, ?)",
    ).run(i + 1, row.kind, JSON.stringify(data), prevSeal, seal);
    prevSeal = seal;
  });
  db.prepare("update conclave_meta set value = ? where key = 'consensus.head'").run(prevSeal);
  if (strip !== undefined) {
    db.prepare(`delete from conclave_meta where key in (?, ?)`).run(
      SIGNED_HEAD_META_KEY,
      WITNESS_META_KEY,
    );
  }
}

/** A copy of the original store, changed through SQL. */
function tampered(name: string, tamper: (db: Database.Database) => void): string {
  const file = join(work, `${name}.db`);
  copyFileSync(original, file);
  const db = new Database(file);
  tamper(db);
  db.close();
  return file;
}

async function verifyFile(file: string, heads: readonly SignedHead[] = []) {
  const store = openSqliteStore({ path: file, create: false });
  try {
    return await verifyStoredAuditLog(store, undefined, { heads });
  } finally {
    await store.close();
  }
}

describe("a signed audit chain in a SQLite store", () => {
  before(makeStore);

  test("the legitimate log verifies: every seal signed, the node's own signed head agrees", async () => {
    const verdict = await verifyFile(original, [exported]);
    assert.ok(verdict.ok, JSON.stringify(verdict));
    assert.equal(verdict.decisions, 3);
    assert.equal(verdict.signed, 3);
    assert.equal(verdict.unsigned, 0);
    assert.equal(verdict.headsChecked, 2);
    assert.equal(exported.seq, 3);
    assert.equal(exported.signer, "architect");
  });

  test("the rejected decision deleted, later seals, links and head recomputed: refused at the first decision that differs", async () => {
    const db = new Database(original, { readonly: true });
    const third = JSON.parse(rows(db)[2]?.data ?? "{}") as Decision;
    db.close();
    // Signatures kept (they cannot be recomputed), or stripped from the re-sealed entries.
    for (const strip of [undefined, "later"] as const) {
      const file = tampered(`deleted-${strip ?? "kept"}`, (d) => deleteAndReseal(d, 2, strip));
      const verdict = await verifyFile(file);
      assert.equal(verdict.ok, false, `${strip}: ${JSON.stringify(verdict)}`);
      if (verdict.ok) continue;
      assert.equal(verdict.seq, 2, `${strip}: ${verdict.reason}`);
      assert.equal(verdict.proposal?.id, third.proposal.id, strip);
      assert.match(verdict.reason, strip ? /not signed, while an earlier/ : /does not verify/);
    }
    // Every signature and the store's heads gone: a head kept elsewhere still refuses it.
    const stripped = tampered("deleted-all", (d) => deleteAndReseal(d, 2, "all"));
    const against = await verifyFile(stripped, [exported]);
    assert.equal(against.ok, false);
    assert.match(against.ok ? "" : against.reason, /ends at entry 2.*vouches for entry 3/);
    // Without any anchor (every signature and head gone), only --require-signed refuses it.
    const bare = tampered("deleted-bare", (d) => deleteAndReseal(d, 2, "all"));
    const lax = await verifyFile(bare);
    assert.ok(lax.ok && lax.unsigned === 2, JSON.stringify(lax));
    const store = openSqliteStore({ path: bare, create: false });
    const strict = await verifyStoredAuditLog(store, undefined, { requireSigned: true });
    await store.close();
    assert.equal(strict.ok, false);
  });

  test("conclave audit verify exits 1 on the attack, naming the decision; audit head exports the head that catches a truncation", async () => {
    const deleted = tampered("cli-deleted", (d) => deleteAndReseal(d, 2));
    const db = new Database(original, { readonly: true });
    const third = JSON.parse(rows(db)[2]?.data ?? "{}") as Decision;
    db.close();
    const r = await run(["audit", "verify", "--store", `sqlite:${deleted}`], work);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /BROKEN at entry 2\b/);
    assert.match(r.stdout, new RegExp(`proposal ${third.proposal.id}`));
    assert.match(r.stdout, /seal signature by architect does not verify/);

    const head = await run(["audit", "head", "--store", `sqlite:${original}`, "--json"], work);
    assert.equal(head.code, 0, head.stderr);
    assert.deepEqual(JSON.parse(head.stdout), exported);
    const headFile = join(work, "head.json");
    writeFileSync(headFile, head.stdout);
    // The last decision removed, the head row recomputed, the signed head row dropped.
    const truncated = tampered("cli-truncated", (d) => {
      d.prepare("delete from conclave_audit_log where seq = 3").run();
      const seal = (
        d.prepare("select hash from conclave_audit_log where seq = 2").get() as {
          hash: string;
        }
      ).hash;
      d.prepare("update conclave_meta set value = ? where key = 'consensus.head'").run(seal);
      d.prepare("delete from conclave_meta where key = ?").run(SIGNED_HEAD_META_KEY);
    });
    assert.ok((await verifyFile(truncated)).ok, "without a head, a truncation is invisible");
    const t = await run(
      ["audit", "verify", "--store", `sqlite:${truncated}`, "--head", headFile, "--json"],
      work,
    );
    assert.equal(t.code, 1, `${t.stdout}\n${t.stderr}`);
    const verdict = JSON.parse(t.stdout) as { ok: boolean; seq: number; reason: string };
    assert.equal(verdict.seq, 3);
    assert.match(verdict.reason, /log ends at entry 2.*vouches for entry 3/);
  });

  test("a forged head (signature not the signer's) is refused", async () => {
    const forged = { ...exported, seq: 2 };
    const verdict = await verifyFile(original, [forged]);
    assert.equal(verdict.ok, false);
    assert.match(verdict.ok ? "" : verdict.reason, /does not verify/);
  });
});

describe("signed heads across nodes", () => {
  test("node B keeps node A's signed heads as witnesses in its own store; A's truncated log fails against them", async () => {
    const dir = mkdtempSync(join(work, "nodes-"));
    const broker = new MemoryBroker({ journalPath: join(dir, "journal.db") });
    const node = (name: string) =>
      createSwarm({
        name: "witnessed",
        nodeId: name,
        roles,
        defaults,
        privileged: { "funds.transfer": transfer },
        transport: createMemoryTransport({ broker }),
        store: openSqliteStore({ path: join(dir, `${name}.db`) }),
        keys: () => generateAgentKeyPair(),
      });
    const a = node("node-a");
    const b = node("node-b");
    try {
      council(a, b);
      const trusted = { a: new Set<string>(), b: new Set<string>() };
      a.on((e) => {
        if (e.type === "agent.trusted") trusted.a.add(e.agent);
      });
      b.on((e) => {
        if (e.type === "agent.trusted") trusted.b.add(e.agent);
      });
      await a.start();
      await b.start();
      await until(() => trusted.a.size >= 2 && trusted.b.size >= 2, 5000, "mutual trust");
      let decision: Decision | undefined;
      await until(
        async () => {
          decision = await a.propose("funds.transfer", { amount: 1 }, { as: "architect" });
          return (decision.proposal as RuntimeProposal).rule.voters.length === 4;
        },
        5000,
        "an electorate of 4",
      );
      assert.equal(decision?.outcome, "approved");
      const log = await readAuditLog(a.store);
      await until(
        async () => {
          const heads = await storedHeads(b.store);
          return typeof heads !== "string" && heads.some((h) => h.seq === log.length);
        },
        5000,
        "node B witnessing node A's last head",
      );
      const witnessed = (await storedHeads(b.store)) as SignedHead[];
      assert.ok(witnessed.every((h) => h.swarm === "witnessed" && h.signer === "architect"));
      assert.ok(verifyAuditLog(log, { heads: witnessed }).ok);
      const cut = verifyAuditLog(log.slice(0, -1), { heads: witnessed });
      assert.equal(cut.ok, false);
      assert.equal(cut.ok ? 0 : cut.seq, log.length);

      // A head claiming to be architect's, signed with another key, is refused and not kept.
      const errors: string[] = [];
      b.on((e) => {
        if (e.type === "error") errors.push(e.error);
      });
      const intruder = generateAgentKeyPair();
      const forged = signHead(
        {
          swarm: "witnessed",
          seq: 99,
          headHash: "00".repeat(32),
          ts: Date.now(),
          signer: "architect",
        },
        intruder.privateKey,
      );
      const raw = createMemoryTransport({ broker });
      raw.publish(
        subjects.event("witnessed", HEAD_EVENT),
        encodeEnvelope(
          createSignedEnvelope(
            { type: HEAD_EVENT, from: "architect", body: forged as never },
            intruder.privateKey,
          ),
        ),
      );
      await until(
        () => errors.some((e) => /refused an audit head from architect/.test(e)),
        5000,
        "node B refusing the forged head",
      );
      const after = (await storedHeads(b.store)) as SignedHead[];
      assert.ok(after.every((h) => h.seq < 99));
      await raw.close();
    } finally {
      await a.close();
      await b.close();
      broker.close();
    }
  });
});
