/**
 * `conclave approve` on a private nats-server: a swarm waits for alice on a
 * production deploy; alice, in another process, signs her vote with her key
 * file and sends it over the broker; the round counts it and seals the
 * approval. Votes that are not hers are refused with a reason (exit 1).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadSwarmConfig } from "../../src/config/load.js";
import { saveAgentKey } from "../../src/identity/key-file.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { run } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";

describe("conclave approve", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-approve-"));
  let broker: NatsServer | undefined;
  after(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a person's vote from another process decides a waiting proposal", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    broker = await startNatsServer();
    const alice = generateAgentKeyPair();
    const aliceKey = await saveAgentKey(join(dir, "people"), "alice", alice);
    const bobKey = await saveAgentKey(join(dir, "people"), "bob", generateAgentKeyPair());
    const file = join(dir, "swarm.yaml");
    writeFileSync(
      file,
      `swarm: release
transport: ${broker.url}
roles: { lead: {}, ops: { tasks: [deploy.production] } }
agents:
  - { id: lead, role: lead }
  - { id: ops-1, role: ops }
humans:
  alice: { publicKey: ${encodePublicKey(alice.publicKey)} }
privileged:
  deploy.production:
    threshold: { weight: 3 }
    voters: [lead, { human: alice, weight: 2 }]
    deadlineMs: 60000
`,
    );
    const config = await loadSwarmConfig(file);
    const swarm = await openSwarm(config, {
      module: { setup: (agent) => void agent.handle("deploy.production", () => ({ ok: true })) },
    });
    await swarm.start();
    try {
      const decided = swarm.propose("deploy.production", { version: "2.0.0" }, { as: "lead" });
      await until(() => swarm.awaitingHumans().length === 1, 10_000, "the proposal to wait");
      const id = swarm.awaitingHumans()[0]?.proposal.id ?? "";
      // Bob is not one of its voters: refused before anything is sent.
      const refused = await run(["approve", id, "--swarm", file, "--key", bobKey], dir);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /not a human voter|expected a consensus\.vote from one of alice/,
      );
      const voted = await run(["approve", id, "--swarm", file, "--key", aliceKey, "--json"], dir);
      assert.equal(voted.code, 0, voted.stderr);
      assert.deepEqual(JSON.parse(voted.stdout), {
        proposal: id,
        action: "deploy.production",
        voter: "alice",
        choice: "approve",
      });
      const decision = await decided;
      assert.equal(decision.outcome, "approved");
      assert.ok(decision.votes.some((v) => v.from === "alice"));
      // Decided: closed to people, a late vote is refused.
      await until(
        async () => (await swarm.store.getMeta(`consensus.awaiting.${id}`)) === "",
        5000,
        "the proposal to close",
      );
      const late = await run(["approve", id, "--swarm", file, "--key", aliceKey], dir);
      assert.equal(late.code, 1);
      assert.match(late.stderr, /decided, or never proposed/);
      const unknown = await run(
        ["approve", "01NOSUCHPROPOSAL", "--swarm", file, "--key", aliceKey],
        dir,
      );
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no proposal 01NOSUCHPROPOSAL waits/);
    } finally {
      await swarm.close();
    }
  });
});
