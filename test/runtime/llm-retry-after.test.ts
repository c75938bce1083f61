/**
 * docs/LLM.md: "A Retry-After over 60 s gives up at once and reports the
 * wait (ModelUnavailableError.retryAfterMs) so the task can be retried
 * later." The task pipeline did not read `retryAfterMs`: the task was
 * nak'd with the role's ordinary backoff (milliseconds), so the provider
 * that asked for two minutes was asked again at once, every delivery was
 * spent within a second, and the task was dead-lettered. Now the retry
 * waits at least what the provider asked (at most an hour).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import { httpError, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { model, PRICES, pool } from "../llm/fixtures.js";

let server: OpenAiServer;
const swarms: TestSwarm[] = [];
before(async () => {
  server = await startOpenAiServer({ responder: () => httpError(429, { retryAfter: "120" }) });
});
after(async () => {
  for (const t of swarms) await t.cleanup();
  await server.close();
});

test("a task whose model asked to wait 120 s is not retried (and dead-lettered) within seconds", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, analyst: { tasks: ["analyse"] } },
    defaults: {
      heartbeatMs: 50,
      ackWaitMs: 5000,
      maxDeliver: 3,
      backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
    },
    prices: PRICES,
    models: pool([model("fast", server.url, { maxRetries: 2 })]),
  });
  swarms.push(t);
  const { swarm } = t;
  swarm.agent({ id: "lead", role: "lead" });
  const errors: string[] = [];
  swarm
    .agent({
      id: "analyst-r",
      role: "analyst",
      llm: { settings: { model: "fast", maxOutputTokens: 20 } },
    })
    .handle("analyse", async (ctx) => {
      try {
        await ctx.llm.generate({ prompt: "hi" });
      } catch (error) {
        errors.push(
          `${(error as { code?: string }).code} retryAfterMs=${(error as { retryAfterMs?: number }).retryAfterMs}`,
        );
        throw error;
      }
    });
  const dead: string[] = [];
  swarm.on((e) => {
    if (e.type === "task.dead_lettered") dead.push(e.reason);
  });
  await swarm.start();
  await swarm.submit("analyst", "analyse", {}, { as: "lead" });
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(dead, [], `dead-lettered within 3 s: ${dead.join(" | ")}`);
  assert.equal(
    server.requests.length,
    1,
    `requests in 3 s: ${server.requests.length}; handler errors: ${errors.join(", ")}`,
  );
});
