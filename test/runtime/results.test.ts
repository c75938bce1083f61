/**
 * Results a caller can get back: `submitAndWait` (a handler's return value,
 * read durably from the store), `wait` on a kept id, `outcome`, and
 * `result` (what a root task was finished with).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { ChildTaskFailedError, PermanentError, TimeoutError } from "../../src/errors/index.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";
import { ulid } from "../../src/wire/ulid.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

describe("results", () => {
  const swarms: TestSwarm[] = [];
  after(async () => {
    for (const t of swarms) await t.cleanup();
  });

  test("submitAndWait returns the handler's value; a kept id is handled once and waited on again", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, writer: { tasks: ["summarise", "refuse"] } },
      defaults,
    });
    swarms.push(t);
    const { swarm } = t;
    let handled = 0;
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "writer-1", role: "writer" })
      .handle("summarise", (ctx) => {
        handled++;
        const { text } = ctx.body as { text: string };
        ctx.finish({ words: text.split(" ").length });
        return { summary: text.slice(0, 5) };
      })
      .handle("refuse", () => {
        throw new PermanentError("this cannot be summarised");
      });
    await swarm.start();
    const id = ulid();
    const first = await swarm.submitAndWait(
      "writer",
      "summarise",
      { text: "hello big world" },
      { as: "lead", id, timeoutMs: 5000 },
    );
    assert.deepEqual(first, { summary: "hello" });
    // The same id again (a caller restarted): not handled twice, same answer.
    const again = await swarm.submitAndWait(
      "writer",
      "summarise",
      { text: "hello big world" },
      { as: "lead", id, timeoutMs: 5000 },
    );
    assert.deepEqual(again, first);
    assert.deepEqual(await swarm.wait(id), first);
    assert.equal(handled, 1);
    assert.deepEqual((await swarm.result(id))?.data, { words: 3 });
    assert.equal((await swarm.outcome(id))?.status, "completed");

    await assert.rejects(
      swarm.submitAndWait("writer", "refuse", {}, { as: "lead", timeoutMs: 5000 }),
      (e: unknown) => e instanceof ChildTaskFailedError && /cannot be summarised/.test(e.message),
    );
    await assert.rejects(swarm.wait(ulid(), { timeoutMs: 50 }), TimeoutError);
    assert.equal(await swarm.result(ulid()), undefined);
  });
});

describe("clock skew", () => {
  test("a task stamped more than 5 minutes ahead is dead-lettered with E_CLOCK_SKEW, never run", async () => {
    const t = createTestSwarm({ roles: { lead: {}, writer: { tasks: ["summarise"] } }, defaults });
    try {
      const { swarm } = t;
      let ran = 0;
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "writer-1", role: "writer" }).handle("summarise", () => {
        ran++;
      });
      const dead: string[] = [];
      swarm.on((e) => {
        if (e.type === "task.dead_lettered") dead.push(e.reason);
      });
      await swarm.start();
      const lead = swarm.agents.find((a) => a.id === "lead");
      assert.ok(lead);
      const future = new ManualClock(Date.now() + 10 * 60_000);
      const envelope = signEnvelope(
        createEnvelope({ type: "task.summarise", from: "lead", body: {} }, { clock: future }),
        lead.signer.privateKey,
      );
      await swarm.transport.enqueue("test.task.writer.summarise", encodeEnvelope(envelope), {
        msgId: envelope.id,
      });
      await until(() => dead.length === 1, 5000, "the dead letter");
      assert.match(dead[0] ?? "", /E_CLOCK_SKEW|ahead of this node's clock/);
      assert.equal(ran, 0);
    } finally {
      await t.cleanup();
    }
  });
});
