/**
 * A model call's hold (its most: input estimate plus maxOutputTokens) may
 * take the balance below minBalance for the call's duration; it must not
 * halt the agent (agent.halted, paused, counted among the run's halted
 * agents) when what the call costs leaves it above: the agent (concurrency
 * 2) keeps taking work meanwhile. It used to halt on every such hold.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentAccount } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import { answer, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "./fixtures.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 5000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

let server: OpenAiServer;
let t: TestSwarm;
before(async () => {
  server = await startOpenAiServer();
});
after(async () => {
  await t?.cleanup();
  await server.close();
});

test("a hold that dips below minBalance neither halts nor pauses the agent; the charge decides", async () => {
  t = createTestSwarm({
    roles: { lead: {}, analyst: { tasks: ["big", "small"] } },
    defaults,
    prices: PRICES,
    models: pool([model("fast", server.url)]),
  });
  const { swarm } = t;
  const events: SwarmEvent[] = [];
  swarm.on((e: SwarmEvent) => events.push(e));
  // First call is slow (holding ~16k credits meanwhile), costs 10 + 5*2 = 20 credits.
  server.reply(answer("big answer", { delayMs: 800 }), answer("small answer"));
  swarm.agent({ id: "lead", role: "lead" });
  const outcomes: string[] = [];
  swarm
    .agent({
      id: "analyst-1",
      role: "analyst",
      budget: { initial: 20_000, minBalance: 10_000 },
      concurrency: 2,
      llm: { settings: { model: "fast" } },
    })
    .handle("big", async (ctx) => {
      const r = await ctx.llm.generate({ prompt: "hi", maxOutputTokens: 8000 });
      outcomes.push(`big:${r.text}`);
      ctx.finish();
    })
    .handle("small", async (ctx) => {
      outcomes.push(
        `small-start:${events.filter((e) => e.type === "agent.halted" || e.type === "agent.resumed").length}`,
      );
      // Already running when the big call's hold is taken.
      await until(() => server.requests.length >= 1, 5000, "the big call in flight");
      try {
        const r = await ctx.llm.generate({ prompt: "hi", maxOutputTokens: 50 });
        outcomes.push(`small:${r.text}`);
      } catch (e) {
        outcomes.push(`small:${(e as { code?: string }).code}`);
      }
      ctx.finish();
    });
  await swarm.start();
  await swarm.submit("analyst", "big", {}, { as: "lead" });
  await swarm.submit("analyst", "small", {}, { as: "lead" });
  await until(() => outcomes.length === 3, 10_000, "both tasks");
  const balance = await swarm.store.balance(agentAccount("analyst-1"));
  const halted = events.filter((e) => e.type === "agent.halted" || e.type === "agent.resumed");
  assert.ok(balance >= 19_900, `the agent spent little: balance ${balance}`);
  assert.ok(outcomes.includes("small:small answer"), `the cheap call is made: ${outcomes}`);
  assert.equal(
    halted.length,
    0,
    "an agent whose spend never took it below its minimum is never halted",
  );
});
