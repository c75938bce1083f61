/**
 * Results a caller can get back: `submitAndWait` (a handler's return value,
 * read durably from the store), `wait` on a kept id, `outcome`, and
 * `result` (what a root task was finished with).
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ChildTaskFailedError, PermanentError, TimeoutError } from "../../src/errors/index.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import { ulid } from "../../src/wire/ulid.js";

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
