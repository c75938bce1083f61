/**
 * A model step run again after its failed attempt released its hold (the
 * provider answered 500; the task was retried) is a new call: held anew
 * (refused when the agent can no longer cover it) and charged. Before, it
 * reused the ledger ids `hold:<key>` and `settle:<key>`: the second hold
 * was taken as a replay (nothing held) and the charge as a conflict with
 * the earlier release (swallowed), so the call the provider billed was
 * free, whatever the agent's budget.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { agentAccount } from "../../src/ledger/index.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import {
  answer,
  httpError,
  type OpenAiServer,
  startOpenAiServer,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "../llm/fixtures.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 5000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

let server: OpenAiServer;
const swarms: TestSwarm[] = [];
before(async () => {
  server = await startOpenAiServer();
});
after(async () => {
  for (const t of swarms) await t.cleanup();
  await server.close();
});

test("a model call retried by the task after a failed attempt is charged to the agent", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, analyst: { tasks: ["analyse"] } },
    defaults,
    prices: PRICES,
    models: pool([model("fast", server.url, { maxRetries: 0 })]),
  });
  swarms.push(t);
  const { swarm } = t;
  const sent = server.requests.length;
  // First task attempt: 500 (ModelUnavailableError, retryable; the hold is released).
  // Second task attempt: a paid answer, 100 prompt + 50 completion tokens = 200 credits.
  server.reply(httpError(500), answer("done", { usage: { prompt: 100, completion: 50 } }));
  swarm.agent({ id: "lead", role: "lead" });
  const done: string[] = [];
  swarm
    .agent({
      id: "analyst-x",
      role: "analyst",
      budget: { initial: 100_000, minBalance: 0 },
      llm: { settings: { model: "fast", maxOutputTokens: 100 } },
    })
    .handle("analyse", async (ctx) => {
      const r = await ctx.llm.generate({ prompt: "hello" });
      done.push(r.text);
      ctx.finish(r.text);
    });
  await swarm.start();
  await swarm.submit("analyst", "analyse", {}, { as: "lead" });
  await until(() => done.length === 1, 10_000, "the answer");
  assert.equal(server.requests.length - sent, 2, "one failed request, one paid answer");
  const fees = (await swarm.store.ledgerOperations({ kind: "fee" })).filter(
    (op) => op.memo.kind === "llm",
  );
  const balance = await swarm.store.balance(agentAccount("analyst-x"));
  assert.equal(
    100_000 - balance,
    200,
    `the paid call is charged (balance ${balance}, fees ${JSON.stringify(fees)})`,
  );
});

test("a zero-credit agent cannot get a model call through by failing it once first", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, analyst: { tasks: ["analyse"] } },
    defaults,
    prices: PRICES,
    models: pool([model("fast", server.url, { maxRetries: 0 })]),
  });
  swarms.push(t);
  const { swarm } = t;
  server.reply(httpError(500), answer("free lunch", { usage: { prompt: 100, completion: 50 } }));
  swarm.agent({ id: "lead", role: "lead" });
  const outcomes: string[] = [];
  let funded = false;
  swarm
    .agent({
      id: "analyst-y",
      role: "analyst",
      budget: { initial: 1_000, minBalance: 0 },
      llm: { settings: { model: "fast", maxOutputTokens: 100 } },
    })
    .handle("analyse", async (ctx) => {
      if (ctx.attempt > 1 && !funded) {
        // Spend everything the agent has elsewhere before the retry.
        funded = true;
        const left = await swarm.store.balance(agentAccount("analyst-y"));
        await t.swarm.store.applyLedgerOperation({
          id: "drain",
          kind: "fee",
          entries: [
            { account: agentAccount("analyst-y"), delta: -left },
            { account: "fees", delta: left },
          ],
          memo: { kind: "drain" },
          at: 0,
        } as never);
      }
      try {
        const r = await ctx.llm.generate({ prompt: "hello" });
        outcomes.push(`sent:${r.text}`);
      } catch (error) {
        if (ctx.attempt === 1) throw error;
        outcomes.push(String((error as { code?: string }).code));
      }
      ctx.finish();
    });
  await swarm.start();
  await swarm.submit("analyst", "analyse", {}, { as: "lead" });
  await until(() => outcomes.length === 1, 10_000, "the outcome");
  assert.deepEqual(outcomes, ["E_INSUFFICIENT_CREDITS"], "no credits, no call");
});
