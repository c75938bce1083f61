/**
 * A privileged task sent to a team by someone other than its lead is
 * refused (`E_NOT_TEAM_LEAD`) before its approval is looked at. Before, the
 * approval was checked, and so used up, first: the refused task spent the
 * approval, and the lead's own task carrying it was then dead-lettered as
 * "already used", the approved action never run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PrivilegedAction } from "../../src/consensus/rule.js";
import { type AgentKeyPair, generateAgentKeyPair } from "../../src/identity/keys.js";
import { APPROVAL_HEADER, subjects } from "../../src/runtime/subjects.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

const transfer: PrivilegedAction = {
  protocol: "quorum",
  threshold: { fraction: 0.5 },
  voters: ["boss"],
  deadlineMs: 2000,
};

test("a team task from a non-lead is refused without using up the approval it carries", async () => {
  const keys = new Map<string, AgentKeyPair>();
  const t = createTestSwarm({
    roles: { boss: {}, lead: {}, ops: { tasks: ["funds.transfer"] } },
    keys: (id) => {
      const pair = generateAgentKeyPair();
      keys.set(id, pair);
      return pair;
    },
    defaults: {
      heartbeatMs: 100,
      ackWaitMs: 2000,
      maxDeliver: 3,
      backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
    },
    privileged: { "funds.transfer": transfer },
    teams: { treasury: { lead: "lead-1", members: ["ops-1"] } },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "boss", role: "boss" });
    swarm.agent({ id: "lead-1", role: "lead" });
    const ran: unknown[] = [];
    swarm.agent({ id: "ops-1", role: "ops" }).handle("funds.transfer", (ctx) => {
      ran.push(ctx.body);
    });
    await swarm.start();
    const body = { to: "acme", amount: 10 };
    const decision = await swarm.propose("funds.transfer", body, { as: "boss" });
    assert.equal(decision.outcome, "approved");

    // The boss, who leads no team, sends the approved action to the team's queue.
    const forged = signEnvelope(
      createEnvelope({
        type: "task.funds.transfer",
        from: "boss",
        body,
        headers: { [APPROVAL_HEADER]: decision.seal },
      }),
      (keys.get("boss") as AgentKeyPair).privateKey,
    );
    await swarm.transport.enqueue(
      subjects.teamTask(swarm.name, "treasury", "ops", "funds.transfer"),
      encodeEnvelope(forged),
      { msgId: forged.id },
    );
    await until(
      async () => (await swarm.store.deadLetters()).some((d) => d.id === forged.id),
      10_000,
      "the non-lead's task refused",
    );
    const refused = (await swarm.store.deadLetters()).find((d) => d.id === forged.id);
    assert.match(refused?.reason ?? "", /E_NOT_TEAM_LEAD|cannot delegate to team "treasury"/);

    // The lead's own task with the same approval runs.
    const id = await swarm.submit("ops", "funds.transfer", body, {
      as: "lead-1",
      team: "treasury",
      approval: decision.seal,
    });
    await until(async () => (await swarm.outcome(id)) !== undefined, 10_000, "the lead's task");
    const outcome = await swarm.outcome(id);
    assert.equal(outcome?.status, "completed", JSON.stringify(outcome));
    assert.deepEqual(ran, [body]);
  } finally {
    await t.cleanup();
  }
});
