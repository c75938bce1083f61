/**
 * `ctx.effect` with a missing kind or key is a handler bug retrying cannot
 * fix: the task is dead-lettered at once with a message saying what to
 * pass (it used to fail the commit with a raw SQLite error, retried up to
 * `maxDeliver` times).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("ctx.effect without a key dead-letters the task at once, saying what to pass", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["code"] } },
    defaults: { maxDeliver: 5, backoff: { baseMs: 5, maxMs: 10, factor: 2, jitter: "none" } },
  });
  try {
    const { swarm } = t;
    let attempts = 0;
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("code", (ctx) => {
      attempts++;
      ctx.effect("file.written", undefined as unknown as string);
    });
    await swarm.start();
    const id = await swarm.submit("dev", "code", {}, { as: "lead" });
    await until(async () => (await swarm.store.deadLetter(id)) !== undefined, 5000, "dead letter");
    assert.equal(attempts, 1);
    assert.match(
      (await swarm.store.deadLetter(id))?.reason ?? "",
      /ctx\.effect\("file\.written", undefined\): kind and key must be non-empty strings/,
    );
  } finally {
    await t.cleanup();
  }
});
