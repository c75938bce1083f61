/**
 * LLM agents inside the runtime (in one process, over real HTTP to the
 * local OpenAI-compatible server): `ctx.llm` with the agent's journal,
 * budget and tools; `llm.call` on the bus; and the bad inputs a user meets —
 * a tool nobody serves, an answer that breaks the output schema, a budget
 * that covers one call of two made at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { agentAccount } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import { decodeEnvelope } from "../../src/wire/codec.js";
import {
  answer,
  type OpenAiServer,
  startOpenAiServer,
  toolCalls,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "../llm/fixtures.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 5000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

describe("LLM agents in a swarm", () => {
  let server: OpenAiServer;
  const swarms: TestSwarm[] = [];
  before(async () => {
    server = await startOpenAiServer();
  });
  after(async () => {
    for (const t of swarms) await t.cleanup();
    await server.close();
  });

  function swarmWith(roles: Parameters<typeof createTestSwarm>[0]["roles"]): TestSwarm {
    const t = createTestSwarm({
      roles,
      defaults,
      prices: PRICES,
      models: pool([model("fast", server.url)]),
    });
    swarms.push(t);
    return t;
  }

  test("ctx.llm: a local tool and a swarm tool, a retried handler replays its calls, llm.call goes out on the bus", async () => {
    const t = swarmWith({
      lead: {},
      analyst: { tasks: ["analyse"] },
      math: { tasks: ["math.add"] },
    });
    const { swarm } = t;
    const sent = server.requests.length;
    server.reply(
      toolCalls([
        { name: "clock_now", arguments: {} },
        { name: "math_add", arguments: { a: 2, b: 3 } },
      ]),
      answer("2 + 3 = 5", { usage: { prompt: 40, completion: 8 } }),
    );
    let toolRuns = 0;
    let adds = 0;
    let attempts = 0;
    const answers: string[] = [];
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "adder", role: "math" }).handle("math.add", (ctx) => {
      adds++;
      const { a, b } = ctx.body as { a: number; b: number };
      return { sum: a + b };
    });
    swarm
      .agent({
        id: "analyst-1",
        role: "analyst",
        budget: { initial: 1_000_000, minBalance: 0 },
        llm: { settings: { model: "fast", tools: ["clock.now", "math.add"], maxOutputTokens: 50 } },
      })
      .tool("clock.now", {
        description: "the time",
        run: () => {
          toolRuns++;
          return { now: "noon" };
        },
      })
      .handle("analyse", async (ctx) => {
        attempts++;
        const result = await ctx.llm.generate({ prompt: "add 2 and 3" });
        // The first attempt fails after its model calls: the retry must replay them.
        if (ctx.attempt === 1) throw new Error("lost after the calls");
        answers.push(result.text);
        ctx.finish(result.text);
      });
    const onBus: unknown[] = [];
    swarm.transport.subscribe("test.event.llm.call", (m) => {
      onBus.push(decodeEnvelope(m.data).body);
    });
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    await swarm.start();
    await swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => answers.length === 1, 10_000, "the analysis");
    assert.deepEqual(answers, ["2 + 3 = 5"]);
    assert.equal(attempts, 2);
    assert.equal(server.requests.length - sent, 2, "two model calls, not repeated by the retry");
    assert.equal(toolRuns, 1, "the local tool ran once");
    assert.equal(adds, 1, "the swarm tool's task ran once");
    const calls = events.filter((e) => e.type === "llm.call");
    assert.deepEqual(
      calls.map((c) => (c.type === "llm.call" ? c.replayed : undefined)),
      [false, false, true, true],
    );
    await until(() => onBus.length === 4, 2000, "llm.call events on the bus");
    const fees = (await swarm.store.ledgerOperations({ kind: "fee" })).filter(
      (op) => op.memo.kind === "llm",
    );
    assert.equal(fees.length, 2, "charged once per call");
  });

  test("a model call slower than the ack wait keeps its lease: the task is not redelivered", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, analyst: { tasks: ["analyse"], ackWaitMs: 300 } },
      defaults,
      prices: PRICES,
      models: pool([model("fast", server.url)]),
    });
    swarms.push(t);
    const { swarm } = t;
    const sent = server.requests.length;
    server.reply(answer("slow but sure", { delayMs: 1200 }));
    let attempts = 0;
    const done: string[] = [];
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "analyst-5", role: "analyst", llm: { settings: { model: "fast" } } })
      .handle("analyse", async (ctx) => {
        attempts++;
        done.push((await ctx.llm.generate({ prompt: "take your time" })).text);
      });
    await swarm.start();
    await swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => done.length === 1, 10_000, "the slow answer");
    assert.equal(attempts, 1, "not redelivered while the call was in flight");
    assert.equal(server.requests.length - sent, 1);
  });

  test("ctx.step replays from the store; a handler that takes another path on replay is dead-lettered as non-deterministic", async () => {
    const t = swarmWith({ lead: {}, analyst: { tasks: ["steady", "fickle"] } });
    const { swarm } = t;
    let fetches = 0;
    const seen: unknown[] = [];
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "analyst-6", role: "analyst" })
      .handle("steady", async (ctx) => {
        const page = await ctx.step("fetch", async () => ({ n: ++fetches }));
        if (ctx.attempt === 1) throw new Error("crash after the step");
        seen.push(page);
      })
      .handle("fickle", async (ctx) => {
        // Another step name on the retry than the journal recorded first.
        await ctx.step(ctx.attempt === 1 ? "a" : "b", async () => 1);
        if (ctx.attempt === 1) throw new Error("crash after the step");
      });
    const dead: string[] = [];
    swarm.on((e) => {
      if (e.type === "task.dead_lettered") dead.push(e.reason);
    });
    await swarm.start();
    await swarm.submit("analyst", "steady", {}, { as: "lead" });
    await swarm.submit("analyst", "fickle", {}, { as: "lead" });
    await until(() => seen.length === 1 && dead.length === 1, 10_000, "both tasks settled");
    assert.deepEqual(seen, [{ n: 1 }], "the retry got the recorded result");
    assert.equal(fetches, 1, "the step ran once");
    assert.match(dead[0] ?? "", /NonDeterminismError|E_NON_DETERMINISM|"a".*"b"|position 0/);
  });

  test("a tool nobody serves: dead-lettered with the reason, no request sent", async () => {
    const t = swarmWith({ lead: {}, analyst: { tasks: ["analyse"] } });
    const { swarm } = t;
    const sent = server.requests.length;
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({
        id: "analyst-2",
        role: "analyst",
        llm: { settings: { model: "fast", tools: ["nobody.serves"] } },
      })
      .handle("analyse", async (ctx) => {
        await ctx.llm.generate({ prompt: "hi" });
      });
    const dead: string[] = [];
    swarm.on((e) => {
      if (e.type === "task.dead_lettered") dead.push(e.reason);
    });
    await swarm.start();
    await swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => dead.length === 1, 10_000, "the dead letter");
    assert.match(dead[0] ?? "", /nobody\.serves/);
    assert.equal(server.requests.length, sent);
  });

  test("an answer that breaks the output schema twice: dead-lettered as E_MODEL_RESPONSE after one repair", async () => {
    const t = swarmWith({ lead: {}, analyst: { tasks: ["analyse"] } });
    const { swarm } = t;
    const sent = server.requests.length;
    server.reply(answer("not json at all"), answer('{"still": "wrong"}'));
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({
        id: "analyst-3",
        role: "analyst",
        llm: {
          settings: {
            model: "fast",
            output: {
              type: "object",
              properties: { score: { type: "number" } },
              required: ["score"],
            },
          },
        },
      })
      .handle("analyse", async (ctx) => {
        await ctx.llm.generate({ prompt: "score it" });
      });
    const dead: string[] = [];
    swarm.on((e) => {
      if (e.type === "task.dead_lettered") dead.push(e.reason);
    });
    await swarm.start();
    await swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => dead.length === 1, 10_000, "the dead letter");
    assert.match(dead[0] ?? "", /ModelResponseError: .*does not satisfy the output schema/);
    assert.equal(server.requests.length - sent, 2, "the answer and one repair, not retried");
  });

  test("two calls at once on a budget that covers one: holds, not checks — one is sent, the other refused", async () => {
    const t = swarmWith({ lead: {}, analyst: { tasks: ["analyse"] } });
    const { swarm } = t;
    const sent = server.requests.length;
    // At 1 credit an input token and 2 an output token, one call holds its
    // estimated input (a few tokens) + 100 output tokens × 2: a little over 200.
    const oneHold = 200;
    server.respond(() => answer("ok", { delayMs: 100, usage: { prompt: 5, completion: 2 } }));
    swarm.agent({ id: "lead", role: "lead" });
    const results: string[] = [];
    swarm
      .agent({
        id: "analyst-4",
        role: "analyst",
        budget: { initial: oneHold + 50, minBalance: 0 },
        llm: { settings: { model: "fast", maxOutputTokens: 100 } },
      })
      .handle("analyse", async (ctx) => {
        const settled = await Promise.allSettled([
          ctx.llm.generate({ prompt: "first" }),
          ctx.llm.generate({ prompt: "second" }),
        ]);
        for (const s of settled)
          results.push(s.status === "fulfilled" ? "sent" : String(s.reason?.code));
        ctx.finish();
      });
    await swarm.start();
    await swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => results.length === 2, 10_000, "both calls settled");
    assert.deepEqual([...results].sort(), ["E_INSUFFICIENT_CREDITS", "sent"]);
    assert.equal(server.requests.length - sent, 1, "the refused call was never sent");
    assert.ok((await swarm.store.balance(agentAccount("analyst-4"))) >= 0);
    server.respond(() => answer("ok"));
  });
});
