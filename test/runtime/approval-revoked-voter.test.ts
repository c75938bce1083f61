/**
 * An approval whose quorum counts the vote of an agent revoked since must
 * not run its privileged action, whatever the admission mode. The guard
 * (`unadmittedVoter` in src/runtime/consensus/approval.ts) skipped every
 * voter check under `admission: open` (the default), so the same decision
 * refused under `declared` ("voter rogue, refused here (E_REVOKED)") still
 * ran its transfer under `open`. Revocation is now checked for every
 * non-human voter in every mode; only the "was admitted as it voted" part
 * is skipped for `open`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePolicy } from "../../src/consensus/policy.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 1,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const operator = generateAgentKeyPair();

async function scenario(mode: "open" | "declared") {
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    defaults,
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 2 },
        voters: ["lead"],
        deadlineMs: 3000,
      },
    },
    admission: {
      mode,
      operatorKey: operator.publicKey,
      ...(mode === "declared"
        ? {
            declared: [
              { id: "architect", role: "lead", weight: 1 },
              { id: "sentinel", role: "lead", weight: 1 },
              { id: "rogue", role: "lead", weight: 1 },
              { id: "ops-1", role: "ops", weight: 1 },
            ],
          }
        : {}),
    },
  });
  const { swarm } = t;
  swarm.agent({ id: "architect", role: "lead", weight: 1 });
  // The honest second voter refuses; only the rogue's approval carries the threshold.
  swarm.agent({
    id: "sentinel",
    role: "lead",
    weight: 1,
    policy: compilePolicy({
      rules: [{ require: "data.amount <= 10", message: "too much" }],
      default: "approve",
    }),
  });
  swarm.agent({ id: "rogue", role: "lead", weight: 1 });
  const ran: unknown[] = [];
  swarm.agent({ id: "ops-1", role: "ops" }).handle("funds.transfer", (ctx) => {
    ran.push(ctx.body);
  });
  const events: SwarmEvent[] = [];
  swarm.on((e) => events.push(e));
  await swarm.start();
  const data = { to: "mallory", amount: 1_000_000 };
  const decision = await swarm.propose("funds.transfer", data, { as: "architect" });
  assert.equal(decision.outcome, "approved");
  assert.ok(
    decision.votes.some(
      (v) => v.from === "rogue" && (v.body as { choice: string }).choice === "approve",
    ),
  );
  // The operator revokes the rogue (compromised) before the approved transfer runs.
  await swarm.revoke(
    "rogue",
    { operatorKey: operator.privateKey },
    "compromised; its votes are not to be trusted",
  );
  await swarm.submit("ops", "funds.transfer", data, { as: "architect", approval: decision.seal });
  await until(
    () => ran.length > 0 || events.some((e) => e.type === "task.dead_lettered"),
    8000,
    "the task ran or died",
  );
  const letters = await swarm.store.deadLetters();
  await t.cleanup();
  return { ran: ran.length, reason: letters[0]?.reason };
}

for (const mode of ["declared", "open"] as const) {
  test(`${mode} admission: an approval carried by a since-revoked voter does not run its action`, async () => {
    const r = await scenario(mode);
    assert.equal(r.ran, 0, "the privileged action ran on a revoked agent's vote");
    assert.match(r.reason ?? "", /voter rogue, refused here \(E_REVOKED\)/);
  });
}
