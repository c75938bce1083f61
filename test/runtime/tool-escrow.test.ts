/**
 * A tool that is another role's task is delegated with escrow from the
 * calling agent's budget (`llm.toolBudget`): held when the call goes out,
 * released to the agent that answered, refunded when the tool task is
 * dead-lettered — and a replayed call neither holds nor pays again.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PermanentError } from "../../src/errors/index.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import {
  answer,
  type OpenAiServer,
  startOpenAiServer,
  toolCalls,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "../llm/fixtures.js";

describe("tool calls carry escrow from the caller's budget", () => {
  let server: OpenAiServer;
  let t: TestSwarm;
  let broken = false;
  const done: string[] = [];

  before(async () => {
    server = await startOpenAiServer();
    t = createTestSwarm({
      roles: { lead: {}, analyst: { tasks: ["analyse"] }, library: { tasks: ["search.web"] } },
      defaults: {
        heartbeatMs: 50,
        ackWaitMs: 5000,
        maxDeliver: 2,
        backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" },
      },
      prices: PRICES,
      models: pool([model("fast", server.url)]),
    });
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "librarian", role: "library", budget: { initial: 0, minBalance: 0 } })
      .handle("search.web", () => {
        if (broken) throw new PermanentError("the index is down");
        return { hits: ["a"] };
      });
    swarm
      .agent({
        id: "analyst-1",
        role: "analyst",
        budget: { initial: 100_000, minBalance: 0 },
        llm: {
          settings: { model: "fast", tools: ["search.web"], maxOutputTokens: 50 },
          toolBudget: 300,
        },
      })
      .handle("analyse", async (ctx) => {
        const result = await ctx.llm.generate({ prompt: "find it" });
        if (ctx.attempt === 1) throw new Error("lost after the calls");
        done.push(result.text);
      });
    await swarm.start();
  });
  after(async () => {
    await t.cleanup();
    await server.close();
  });

  /** What the analyst's model calls cost: every `llm` operation's credit to the fees account. */
  const modelFees = async () =>
    (await t.swarm.store.ledgerOperations({ limit: 100_000 }))
      .filter((op) => op.memo.kind === "llm")
      .reduce((sum, op) => sum + (op.entries.find((e) => e.account === "fees")?.delta ?? 0), 0);

  test("released to the agent that answered, once, though the caller's handler ran twice", async () => {
    server.reply(toolCalls([{ name: "search_web", arguments: { q: "x" } }]), answer("found a"));
    await t.swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => done.length === 1, 10_000, "the analysis");
    assert.equal(await t.swarm.budgets.balance("librarian"), 300);
    assert.equal(await t.swarm.budgets.balance("analyst-1"), 100_000 - 300 - (await modelFees()));
  });

  test("refunded when the tool's task is dead-lettered", async () => {
    broken = true;
    const before = await t.swarm.budgets.balance("analyst-1");
    const feesBefore = await modelFees();
    server.reply(
      toolCalls([{ name: "search_web", arguments: { q: "y" } }]),
      answer("nothing found"),
    );
    await t.swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => done.length === 2, 10_000, "the second analysis");
    await until(
      async () =>
        (await t.swarm.budgets.balance("analyst-1")) ===
        before - ((await modelFees()) - feesBefore),
      5000,
      "the refund",
    );
    assert.equal(await t.swarm.budgets.balance("librarian"), 300, "nothing more for a dead task");
  });
});
