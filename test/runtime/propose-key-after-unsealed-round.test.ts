/**
 * `propose({ key })` returns one decision per key, even after a round under
 * that key was never sealed. The key stayed bound to the dead round's id,
 * so every retry waited that round out again and started yet another round:
 * one request got several approved decisions with valid seals, and the
 * second retry did not get the decision the first one got. Now the key
 * moves to the round that replaced the dead one (a chain of atomic claims),
 * and every later retry gets that round's decision back.
 *
 * A dead round is simulated exactly as the engine leaves it: the key
 * claimed in the store with the id of a proposal never sealed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { readAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { ulid } from "../../src/wire/ulid.js";

function transferSwarm() {
  const t = createTestSwarm({
    roles: { lead: {}, security: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 2 },
        voters: ["lead", "security"],
        deadlineMs: 200,
      },
    },
  });
  t.swarm.agent({ id: "architect", role: "lead", weight: 1 });
  t.swarm.agent({ id: "sentinel", role: "security", weight: 1 });
  return t;
}

/** The id of a proposal started a minute ago by a node that then died. */
const deadRoundId = () => ulid({ now: () => Date.now() - 60_000 } as never);

async function sealedDecisions(t: ReturnType<typeof transferSwarm>): Promise<number> {
  return (await readAuditLog(t.swarm.store)).filter((r) => r.kind === DECISION_KIND).length;
}

test("retries under one key after an unsealed round share one new round and one decision", async () => {
  const t = transferSwarm();
  try {
    await t.swarm.start();
    const key = "task-42:architect:1";
    const claim = await t.swarm.store.claimIdempotencyKey(
      `consensus.propose:${key}`,
      deadRoundId(),
    );
    assert.equal(claim.first, true);
    const data = { to: "dev-1", amount: 300 };
    const retry1 = await t.swarm.propose("funds.transfer", data, { as: "architect", key });
    const retry2 = await t.swarm.propose("funds.transfer", data, { as: "architect", key });
    assert.equal(retry1.outcome, "approved");
    assert.equal(
      retry2.proposal.id,
      retry1.proposal.id,
      "the second retry gets the first retry's round",
    );
    assert.equal(retry2.seal, retry1.seal);
    assert.equal(await sealedDecisions(t), 1, "one request, one sealed decision");
  } finally {
    await t.cleanup();
  }
});

test("a key whose first two rounds both died still gets exactly one decision", async () => {
  const t = transferSwarm();
  try {
    await t.swarm.start();
    const key = "task-43:architect:1";
    const first = deadRoundId();
    await t.swarm.store.claimIdempotencyKey(`consensus.propose:${key}`, first);
    // The retry that replaced it died too, before its round was sealed.
    await t.swarm.store.claimIdempotencyKey(
      `consensus.propose:${key}:after:${first}`,
      deadRoundId(),
    );
    const data = { to: "dev-2", amount: 7 };
    const retries = await Promise.all([
      t.swarm.propose("funds.transfer", data, { as: "architect", key }),
      t.swarm.propose("funds.transfer", data, { as: "architect", key }),
    ]);
    const again = await t.swarm.propose("funds.transfer", data, { as: "architect", key });
    assert.equal(
      retries[1]!.proposal.id,
      retries[0]!.proposal.id,
      "concurrent retries share a round",
    );
    assert.equal(
      again.proposal.id,
      retries[0]!.proposal.id,
      "a later retry finds the newest round",
    );
    assert.equal(await sealedDecisions(t), 1);
  } finally {
    await t.cleanup();
  }
});
