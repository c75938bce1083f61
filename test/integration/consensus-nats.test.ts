/**
 * Consensus across OS processes on a real NATS server.
 *
 * Four swarm-node processes (./fixtures/swarm-node.ts) each host one voter
 * (alice, bob, carol, dave) and share one store. Once every node trusts the
 * other three (handshake), three privileged actions are proposed from
 * different nodes:
 *
 * - `funds.transfer` by quorum (threshold 3/4 of the weight; dave rejects);
 * - `deploy.production` by PBFT (n = 4, f = 1), every replica approving;
 * - `backup.delete` by PBFT with alice, the primary of view 0, silent: the
 *   others change view over NATS and commit under bob.
 *
 * For each, the decision must be sealed in the audit log, read back the
 * same by all four processes, verify at each (against its configuration and
 * the agents' keys) and here offline; for PBFT, every replica that took
 * part must have committed the proposal's digest in the certificate's view.
 *
 * The NATS server: a private `nats-server` when one is on PATH, else the one
 * at CONCLAVE_TEST_NATS_URL (default nats://127.0.0.1:4222) if it answers.
 * Without either the test is skipped, except under CI=true, where it fails.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pbftDigest } from "../../src/consensus/pbft.js";
import type { PrivilegedAction } from "../../src/consensus/rule.js";
import type { Decision } from "../../src/consensus/seal.js";
import { encodePublicKey } from "../../src/identity/keys.js";
import { readAuditLog, verifyAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { queueNames } from "../../src/runtime/subjects.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport, deleteNatsQueue } from "../../src/transport/nats/index.js";
import { canonicalize } from "../../src/wire/canonical.js";
import { agentKeys } from "./fixtures/keys.js";
import {
  assertAvailable,
  killAll,
  type NodeLine,
  type NodeProcess,
  randomSwarmName,
  requirement,
  startNode,
} from "./fixtures/processes.js";
import type { NodeSpec } from "./fixtures/swarm-node.js";

const label = "consensus over NATS with 4 agent processes";
const sharedUrl = process.env["CONCLAVE_TEST_NATS_URL"] ?? "nats://127.0.0.1:4222";
const VOTERS = ["alice", "bob", "carol", "dave"] as const;

/** Whether something accepts TCP connections at a nats:// URL. */
function answers(url: string, timeoutMs = 2_000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 4222) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** A private server if nats-server is installed, else the shared one if it answers; else why not. */
async function natsFor(): Promise<{ url: string; server?: NatsServer } | string> {
  if (natsServerAvailable()) {
    const server = await startNatsServer();
    return { url: server.url, server };
  }
  if (await answers(sharedUrl)) return { url: sharedUrl };
  return `nats-server is not on PATH and nothing answers at ${sharedUrl}`;
}

const privileged: Record<string, PrivilegedAction> = {
  "funds.transfer": {
    protocol: "quorum",
    threshold: { fraction: 0.75 },
    voters: ["council"],
    deadlineMs: 10_000,
  },
  "deploy.production": { protocol: "pbft", voters: ["council"], deadlineMs: 10_000 },
  "backup.delete": { protocol: "pbft", voters: ["council"], deadlineMs: 10_000 },
};

describe(label, () => {
  const swarm = randomSwarmName("consensus");
  const work = mkdtempSync(join(tmpdir(), "conclave-consensus-nats-"));
  const storePath = join(work, "swarm.db");
  const nodes: NodeProcess[] = [];
  let server: NatsServer | undefined;
  let shared: string | undefined;

  after(async () => {
    await killAll(nodes);
    await server?.stop();
    if (shared !== undefined) {
      // Leave the shared server as found: this swarm's queues go.
      const probe = await createNatsTransport({ servers: shared });
      for (const queue of [queueNames.role(swarm, "council"), queueNames.deadLetters(swarm)]) {
        await deleteNatsQueue(probe, queue).catch(() => false);
      }
      await probe.close();
    }
    rmSync(work, { recursive: true, force: true });
  });

  test("quorum and PBFT rounds are decided across processes; every process reads the same sealed, verifiable decision", {
    timeout: 180_000,
  }, async (t) => {
    const nats = await natsFor();
    const unavailable = typeof nats === "string" ? nats : undefined;
    const skip = requirement(label, unavailable);
    if (skip) return t.skip(skip);
    assertAvailable(label, unavailable);
    if (typeof nats === "string") return;
    server = nats.server;
    if (server === undefined) shared = nats.url;

    const base = {
      swarm,
      transport: { kind: "nats", servers: [nats.url], storage: "memory" },
      store: `sqlite:${storePath}`,
      roles: { council: {} },
      defaults: { heartbeatMs: 200, suspectAfterMs: 5_000, leftAfterMs: 20_000 },
      privileged,
      quiet: true,
    } satisfies Omit<NodeSpec, "agents">;
    const votes: Record<string, NonNullable<NodeSpec["agents"][number]["votes"]>> = {
      alice: { "backup.delete": "silent" },
      dave: { "funds.transfer": "reject" },
    };
    const started = await Promise.all(
      VOTERS.map((id) =>
        startNode(
          {
            ...base,
            nodeId: `node-${id}`,
            agents: [{ id, role: "council", votes: votes[id] ?? {} }],
          },
          id,
          60_000,
        ),
      ),
    );
    nodes.push(...started);
    const node = (id: string) =>
      started[VOTERS.indexOf(id as (typeof VOTERS)[number])] as NodeProcess;
    for (const n of started) {
      for (const id of VOTERS) {
        if (id === n.label) continue;
        await n.waitFor(
          (l) => l.type === "agent.trusted" && l["agent"] === id,
          30_000,
          `${n.label} to trust ${id}`,
        );
      }
    }

    const propose = async (as: string, action: string, data: unknown) => {
      const ref = `${action}-${as}`;
      node(as).send({ cmd: "propose", action, data, as, ref });
      const line = await node(as).waitFor(
        (l) => (l.type === "proposed" || l.type === "propose.failed") && l["ref"] === ref,
        30_000,
        `the decision on ${action}`,
      );
      assert.equal(line.type, "proposed", String(line["error"]));
      return line;
    };

    /** The decision as every process reads it from its store; all the same, all verified. */
    const readEverywhere = async (seal: string): Promise<Decision> => {
      const lines: NodeLine[] = [];
      for (const n of started) {
        const ref = `read-${seal.slice(0, 8)}-${n.label}`;
        n.send({ cmd: "decision", seal, ref });
        lines.push(
          await n.waitFor(
            (l) => (l.type === "decision" || l.type === "decision.failed") && l["ref"] === ref,
            15_000,
            `${n.label} to read decision ${seal.slice(0, 8)}`,
          ),
        );
      }
      for (const line of lines) {
        assert.equal(line.type, "decision", String(line["error"]));
        assert.equal(
          line["problem"],
          undefined,
          `the decision verifies at ${JSON.stringify(line)}`,
        );
        assert.equal(line["log"], "ok");
      }
      const texts = new Set(lines.map((l) => canonicalize(l["decision"])));
      assert.equal(texts.size, 1, "every process reads the same decision");
      const decision = lines[0]?.["decision"] as Decision;
      assert.equal(decision.seal, seal);
      return decision;
    };

    // Quorum: dave rejects, three approvals reach 3/4 of the weight.
    const transfer = await propose("bob", "funds.transfer", { to: "carol", amount: 250 });
    assert.equal(transfer["protocol"], "quorum");
    assert.equal(transfer["outcome"], "approved");
    const quorumDecision = await readEverywhere(String(transfer["seal"]));
    assert.ok(quorumDecision.votes.length >= 3);
    assert.ok(quorumDecision.votes.every((v) => v.type === "consensus.vote"));

    /** Each replica that took part committed the proposal's digest in `view`. */
    const committedEverywhere = async (
      decision: Decision,
      replicas: readonly string[],
      view: number,
    ) => {
      const digest = pbftDigest(decision.proposal);
      for (const id of replicas) {
        const line = await node(id).waitFor(
          (l) =>
            l.type === "consensus.committed" &&
            l["proposal"] === decision.proposal.id &&
            l["agent"] === id,
          15_000,
          `${id} to commit ${decision.proposal.id}`,
        );
        assert.equal(line["digest"], digest, `${id} committed the same proposal`);
        assert.equal(line["view"], view);
      }
    };

    // PBFT, every replica honest.
    const deploy = await propose("carol", "deploy.production", { release: "v7" });
    assert.equal(deploy["protocol"], "pbft");
    assert.equal(deploy["outcome"], "approved");
    const deployDecision = await readEverywhere(String(deploy["seal"]));
    assert.equal(deployDecision.votes.length, 3, "a 2f + 1 commit certificate");
    assert.ok(deployDecision.votes.every((v) => v.type === "consensus.pbft.commit"));
    assert.deepEqual(deployDecision.evidence, []);
    await committedEverywhere(deployDecision, VOTERS, 0);

    // PBFT with the primary of view 0 silent: a view change over NATS.
    const backup = await propose("dave", "backup.delete", { backup: "nightly-41" });
    assert.equal(backup["outcome"], "approved");
    const backupDecision = await readEverywhere(String(backup["seal"]));
    assert.deepEqual(
      backupDecision.votes.map((v) => [v.from, (v.body as { view: number }).view]),
      [
        ["bob", 1],
        ["carol", 1],
        ["dave", 1],
      ],
    );
    await committedEverywhere(backupDecision, ["bob", "carol", "dave"], 1);

    // And offline, from the store alone, with the agents' keys as the registry.
    const store = openSqliteStore({ path: storePath });
    try {
      const log = await readAuditLog(store);
      const verdict = verifyAuditLog(log, {
        privileged,
        roles: ["council"],
        registry: new Map(
          VOTERS.map((id) => [id, encodePublicKey(agentKeys(swarm, id).publicKey)]),
        ),
      });
      assert.ok(verdict.ok, verdict.ok ? "" : `entry ${verdict.seq}: ${verdict.reason}`);
      assert.equal(verdict.decisions, 3);
      assert.equal(verdict.outcomes.approved, 3);
      assert.deepEqual(
        log.map((r) => r.hash),
        [transfer["seal"], deploy["seal"], backup["seal"]],
      );
    } finally {
      await store.close();
    }

    for (const n of started) {
      assert.equal(await n.drain(), 0, `${n.label} drained cleanly\n${n.stderr()}`);
      assert.equal(
        n.lines.find((l) => l.type === "fatal"),
        undefined,
      );
    }
  });
});
