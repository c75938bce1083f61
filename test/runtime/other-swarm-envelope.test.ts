/**
 * An envelope was bound to its swarm only by the subject it travelled on:
 * with the same agent keys in two swarms on one broker (a staging and a
 * production swarm, say), a task signed in swarm X and enqueued to swarm
 * Y's subject ran in Y, spending Y's budgets. Every message a node signs
 * now names its swarm in the signed header `conclave-swarm`, and a node
 * refuses (dead-letters) a signed envelope naming another swarm.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { OtherSwarmError } from "../../src/errors/index.js";
import { SWARM_HEADER, subjects } from "../../src/runtime/subjects.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

test("a task signed for another swarm is dead-lettered, never run", async () => {
  const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["work"] } } });
  try {
    const { swarm } = t;
    const ran: string[] = [];
    const lead = swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("work", (ctx) => {
      ran.push(ctx.task.id);
      return "done";
    });
    await swarm.start();
    // What swarm "staging" would have sent, with the same key, to its own subject.
    const foreign = signEnvelope(
      createEnvelope({
        type: "task.work",
        from: "lead",
        body: {},
        headers: { [SWARM_HEADER]: "staging" },
      }),
      lead.signer.privateKey,
    );
    await swarm.transport.enqueue(
      subjects.task(swarm.name, "dev", "work"),
      encodeEnvelope(foreign),
      { msgId: foreign.id },
    );
    await until(async () => (await swarm.store.deadLetters()).length === 1, 10_000, "dead letter");
    const [dead] = await swarm.store.deadLetters();
    assert.equal(new OtherSwarmError("staging", "test").code, "E_SIGNATURE");
    assert.match(dead?.reason ?? "", /swarm "staging".*"test"/);
    // Its own tasks carry its name and run.
    const own = await swarm.submit("dev", "work", {}, { as: "lead" });
    assert.equal(await swarm.wait(own, { timeoutMs: 10_000 }), "done");
    assert.deepEqual(ran, [own]);
  } finally {
    await t.cleanup();
  }
});

test("a node's own messages name its swarm in the signed header", async () => {
  const t = createTestSwarm({ roles: { dev: { tasks: ["work"] } } });
  try {
    const { swarm } = t;
    const seen: Array<Record<string, string> | undefined> = [];
    swarm.agent({ id: "dev-1", role: "dev" }).handle("work", (ctx) => {
      seen.push(ctx.task.headers);
      return 1;
    });
    await swarm.start();
    await swarm.wait(await swarm.submit("dev", "work", {}, { as: "dev-1" }), { timeoutMs: 10_000 });
    // A caller's headers cannot rename it.
    const renamed = await swarm.submit(
      "dev",
      "work",
      {},
      { as: "dev-1", headers: { [SWARM_HEADER]: "staging" } },
    );
    await swarm.wait(renamed, { timeoutMs: 10_000 });
    assert.deepEqual(
      seen.map((h) => h?.[SWARM_HEADER]),
      ["test", "test"],
    );
  } finally {
    await t.cleanup();
  }
});
