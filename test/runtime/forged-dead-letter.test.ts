/**
 * A dead letter moves credits only when its envelope verifies. Before,
 * anyone on the bus could move a live delegation's escrow: a task
 * envelope that fails verification (here: signed with a key that is not
 * its sender's) was dead-lettered, and recording the dead letter refunded
 * the escrow named in its unverified headers to the unverified delegator
 * it named.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { escrowAccount } from "../../src/ledger/accounts.js";
import { agentAccount } from "../../src/ledger/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("a forged task's dead letter does not refund someone else's escrow", async () => {
  const t = createTestSwarm({
    roles: { lead: { tasks: ["plan"] }, dev: { tasks: ["code"] } },
    defaults,
  });
  let release: () => void = () => {};
  try {
    const { swarm } = t;
    swarm
      .agent({ id: "architect", role: "lead", budget: { initial: 1000, minBalance: 0 } })
      .handle("plan", async (ctx) => {
        await ctx.delegate("dev", "code", { spec: "x" }, { budget: 400 });
      });
    const gate = new Promise<void>((r) => (release = r));
    let escrowKey: string | undefined;
    swarm
      .agent({ id: "dev-1", role: "dev", concurrency: 4, budget: { initial: 0, minBalance: 0 } })
      .handle("code", async (ctx) => {
        escrowKey = ctx.escrow?.key;
        await gate;
      });
    swarm.agent({ id: "mallory", role: "dev", budget: { initial: 0, minBalance: 0 } });
    await swarm.start();
    await swarm.submit("lead", "plan", {}, { as: "architect" });
    await until(() => escrowKey !== undefined, 5000, "the delegated task running");
    const key = escrowKey as string;
    assert.equal(await swarm.store.balance(escrowAccount(key)), 400);

    // Forged: claims to be the architect, signed by some other key.
    const forged = createSignedEnvelope(
      {
        type: "task.code",
        from: "architect",
        body: {},
        headers: {
          "conclave-escrow": key,
          "conclave-escrow-amount": "400",
          "conclave-escrow-delegator": "mallory",
        },
      },
      generateAgentKeyPair().privateKey,
    );
    await swarm.transport.enqueue("test.task.dev.code", encodeEnvelope(forged), {
      msgId: forged.id,
    });
    await until(
      async () => (await swarm.store.deadLetter(forged.id)) !== undefined,
      5000,
      "the forged task dead-lettered",
    );
    await new Promise((r) => setTimeout(r, 200));
    release();
    assert.equal(await swarm.store.balance(agentAccount("mallory")), 0, "mallory got the escrow");
    assert.equal(await swarm.store.balance(escrowAccount(key)), 400, "the escrow was emptied");
  } finally {
    release();
    await t.cleanup();
  }
});
