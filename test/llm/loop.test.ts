// The durable loop over real HTTP: tool steps, replay from the journal,
// holds before sending, structured output, and the typed errors of bad
// answers and bad tools. The server's request count is the proof of what
// was really sent.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { AgentHaltedError, InsufficientCreditsError } from "../../src/ledger/errors.js";
import {
  createLlmClient,
  createMemoryBudget,
  createMemoryJournal,
  type LlmCallRecord,
  type LlmClientConfig,
  type LlmDelta,
  type MemoryBudget,
  type MemoryJournal,
  type ModelPool,
  ModelResponseError,
  NonDeterminismError,
  ToolResultTooLargeError,
  UnknownToolError,
} from "../../src/llm/index.js";
import {
  answer,
  type OpenAiServer,
  startOpenAiServer,
  toolCalls,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { localTools, model, pool } from "./fixtures.js";

let server: OpenAiServer;
let models: ModelPool;
before(async () => {
  server = await startOpenAiServer();
  models = pool([model("fast", server.url)]);
});
after(() => server.close());
beforeEach(() => {
  (server.requests as unknown[]).length = 0;
  server.respond(() => answer("ok"));
});

type LoopOverrides = Partial<Omit<LlmClientConfig, "journal" | "budget">> & {
  journal?: MemoryJournal;
  budget?: MemoryBudget;
};

function loop(overrides: LoopOverrides = {}) {
  const calls: LlmCallRecord[] = [];
  const journal = overrides.journal ?? createMemoryJournal();
  const budget = overrides.budget ?? createMemoryBudget(1_000_000);
  const tools = localTools({
    "search.web": (input) => ({ results: [`about ${JSON.stringify(input)}`] }),
    "notes.write": () => ({ saved: true }),
  });
  const config: LlmClientConfig = {
    pool: models,
    journal,
    budget,
    tools,
    settings: {
      model: "fast",
      tools: ["search.web", "notes.write"],
      maxSteps: 8,
      maxOutputTokens: 100,
    },
    onCall: (record) => calls.push(record),
    ...overrides,
  };
  return {
    llm: createLlmClient(config),
    calls,
    journal,
    budget,
    tools,
    config,
  };
}

/** A model that searches, then writes a note, then answers. */
function scriptThreeSteps() {
  server.reply(
    toolCalls([{ name: "search_web", arguments: { q: "bees" } }], {
      usage: { prompt: 20, completion: 8 },
    }),
    toolCalls([{ name: "notes_write", arguments: { text: "bees dance" } }], {
      usage: { prompt: 40, completion: 6, cached: 20 },
    }),
    answer("Bees communicate by dancing.", { usage: { prompt: 60, completion: 7, cached: 40 } }),
  );
}

describe("the tool loop", () => {
  test("model → tool → model → tool → answer, each a journaled step", async () => {
    const { llm, calls, journal, budget, tools } = loop();
    scriptThreeSteps();
    const result = await llm.generate({ prompt: "How do bees talk?" });

    assert.equal(result.text, "Bees communicate by dancing.");
    assert.equal(result.modelCalls, 3);
    assert.equal(result.toolCalls, 2);
    assert.equal(server.requests.length, 3);
    assert.deepEqual(journal.names, [
      "llm/0/model/0",
      "llm/0/tool/0/0",
      "llm/0/model/1",
      "llm/0/tool/1/0",
      "llm/0/model/2",
    ]);
    assert.deepEqual(
      tools.calls.map((c) => [c.name, c.step]),
      [
        ["search.web", "llm/0/tool/0/0"],
        ["notes.write", "llm/0/tool/1/0"],
      ],
    );
    // The tool's result went back to the model under the provider-safe name.
    const second = server.requests[1]?.body.messages ?? [];
    const toolMessage = second.find((m) => m.role === "tool");
    assert.match(String(toolMessage?.content), /about/);
    assert.deepEqual(
      server.requests[0]?.body.tools?.map((t) => t.function.name),
      ["search_web", "notes_write"],
    );
    // Usage as reported, cached tokens included; costs at 1 and 2 credits a token.
    assert.deepEqual(result.usage, { inputTokens: 120, outputTokens: 21, cachedInputTokens: 60 });
    assert.equal(result.cost, 120 + 42);
    assert.equal(budget.balance, 1_000_000 - 162);
    assert.equal(budget.held, 0);
    assert.deepEqual(
      calls.map((c) => [c.step, c.cost, c.cachedInputTokens, c.replayed]),
      [
        ["llm/0/model/0", 36, 0, false],
        ["llm/0/model/1", 52, 20, false],
        ["llm/0/model/2", 74, 40, false],
      ],
    );
    assert.equal(budget.charges[1]?.priceVersion, "test-1");
  });

  test("the last allowed step is asked to answer without tools", async () => {
    const { llm } = loop();
    server.reply(toolCalls([{ name: "search_web", arguments: {} }]), answer("done"));
    await llm.generate({ prompt: "go", maxSteps: 2 });
    assert.deepEqual(
      server.requests.map((r) => r.body.tool_choice),
      ["auto", "none"],
    );
  });

  test("tool calls at the last step, though told not to, are a typed error", async () => {
    const { llm } = loop();
    server.respond(() => toolCalls([{ name: "search_web", arguments: {} }]));
    await assert.rejects(llm.generate({ prompt: "go", maxSteps: 1 }), ModelResponseError);
  });

  test("also through @ai-sdk/openai pointed at the server", async () => {
    const openai = pool([model("gpt", server.url, { provider: "openai", apiKey: "test-key" })]);
    const { llm } = loop({
      pool: openai,
      settings: { model: "gpt", tools: ["search.web", "notes.write"] },
    });
    scriptThreeSteps();
    const result = await llm.generate({ prompt: "How do bees talk?" });
    assert.equal(result.modelCalls, 3);
    assert.equal(server.requests[0]?.headers.authorization, "Bearer test-key");
  });
});

describe("replay", () => {
  test("a redelivered task replays every step: no request sent, nothing charged", async () => {
    const first = loop();
    scriptThreeSteps();
    const original = await first.llm.generate({ prompt: "How do bees talk?" });
    const sent = server.requests.length;
    const balance = first.budget.balance;
    const holds = first.budget.holds;

    const second = loop({ journal: first.journal.replay(), budget: first.budget });
    const replayed = await second.llm.generate({ prompt: "How do bees talk?" });

    assert.equal(server.requests.length, sent, "the server saw nothing new");
    assert.equal(first.budget.balance, balance, "nothing charged again");
    assert.equal(first.budget.holds, holds, "nothing even held");
    assert.equal(second.tools.calls.length, 0, "no tool ran again");
    assert.deepEqual(replayed, original);
    assert.ok(second.calls.every((c) => c.replayed));
    assert.equal(second.calls.length, 3);
  });

  test("a crash mid-loop resumes at the first step that never completed", async () => {
    const journal = createMemoryJournal();
    const budget = createMemoryBudget(1_000_000);
    server.reply(
      toolCalls([{ name: "search_web", arguments: { q: "x" } }]),
      answer("never seen", { delayMs: 60_000 }),
    );
    // The process "dies" while its second model call is in flight.
    const dying = new AbortController();
    const inFlight = loop({ journal, budget }).llm.generate({ prompt: "q", signal: dying.signal });
    await until(() => server.requests.length === 2, 5000, "the second model call");
    dying.abort(new Error("killed"));
    await assert.rejects(inFlight);
    assert.deepEqual(journal.names, ["llm/0/model/0", "llm/0/tool/0/0"]);
    assert.equal(budget.held, 0);
    const charged = budget.charges.length;

    server.reply(answer("resumed"));
    const resumed = loop({ journal: journal.replay(), budget });
    const result = await resumed.llm.generate({ prompt: "q" });
    assert.equal(result.text, "resumed");
    assert.equal(server.requests.length, 3, "only the unfinished step was sent again");
    assert.equal(resumed.tools.calls.length, 0, "the tool did not run again");
    assert.deepEqual(
      resumed.calls.map((c) => [c.step, c.replayed]),
      [
        ["llm/0/model/0", true],
        ["llm/0/model/1", false],
      ],
    );
    assert.equal(budget.charges.length, charged + 1, "only the new call was charged");
  });

  test("a handler that takes another path on replay is stopped before sending", async () => {
    const first = loop();
    await first.journal.step("lookup", async () => "context");
    await first.llm.generate({ prompt: "a", tools: [] });
    const sent = server.requests.length;
    // The handler's code changed: it now calls the model before the lookup.
    const changed = loop({ journal: first.journal.replay() });
    await assert.rejects(
      changed.llm.generate({ prompt: "a", tools: [] }),
      (error: unknown) =>
        error instanceof NonDeterminismError &&
        error.expected === "lookup" &&
        error.actual === "llm/0/model/0",
    );
    assert.equal(server.requests.length, sent);
  });
});

describe("money", () => {
  test("a hold that cannot be made sends nothing", async () => {
    const { llm, budget } = loop({ budget: createMemoryBudget(50) });
    await assert.rejects(
      llm.generate({ prompt: "expensive" }),
      (error: unknown) => error instanceof InsufficientCreditsError && error.balance === 50,
    );
    assert.equal(server.requests.length, 0);
    assert.equal(budget.balance, 50);
    assert.equal(budget.held, 0);
  });

  test("a halted agent's loop stops before sending", async () => {
    const budget = createMemoryBudget(1_000_000);
    budget.setHalted(true);
    const { llm } = loop({ budget });
    await assert.rejects(llm.generate({ prompt: "hi" }), AgentHaltedError);
    assert.equal(server.requests.length, 0);
  });

  test("concurrent calls of one budget cannot overspend: holds, not checks", async () => {
    // Each call holds its most: 8 input tokens estimated (1 credit each) and
    // 100 output tokens (2 each), 208 credits; a budget of 500 admits two.
    const budget = createMemoryBudget(500);
    server.respond(() => answer("slow", { delayMs: 100 }));
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        loop({ budget }).llm.generate({ prompt: `q${i}`, tools: [] }),
      ),
    );
    const sent = results.filter((r) => r.status === "fulfilled").length;
    assert.equal(sent, 2);
    assert.equal(server.requests.length, 2);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof InsufficientCreditsError);
    }
    assert.equal(budget.balance, 500 - 2 * 20);
    assert.equal(budget.held, 0);
  });

  test("a failed call releases its hold and charges nothing", async () => {
    const budget = createMemoryBudget(10_000);
    const failing = pool([model("fast", server.url, { maxRetries: 0 })]);
    const { llm } = loop({ budget, pool: failing });
    server.respond(() => ({ kind: "error", status: 500 }));
    await assert.rejects(llm.generate({ prompt: "x", tools: [] }));
    assert.equal(budget.balance, 10_000);
    assert.equal(budget.held, 0);
  });
});

describe("structured output", () => {
  const finding = {
    type: "object",
    properties: {
      claim: { type: "string" },
      confidence: { type: "number", minimum: 0, maximum: 1 },
    },
    required: ["claim", "confidence"],
    additionalProperties: false,
  };

  test("a valid answer is parsed, and the schema is sent as response_format", async () => {
    const { llm } = loop();
    server.reply(answer('{"claim":"bees dance","confidence":0.9}'));
    const result = await llm.generate({ prompt: "q", tools: [], output: finding });
    assert.deepEqual(result.output, { claim: "bees dance", confidence: 0.9 });
    assert.match(JSON.stringify(server.requests[0]?.body.response_format), /json_schema/);
  });

  test("an invalid answer is sent back once for repair, and may then pass", async () => {
    const { llm, calls } = loop();
    server.reply(
      answer('{"claim":"bees dance","confidence":7}'),
      answer('{"claim":"bees dance","confidence":0.7}'),
    );
    const result = await llm.generate({ prompt: "q", tools: [], output: finding });
    assert.deepEqual(result.output, { claim: "bees dance", confidence: 0.7 });
    assert.equal(calls.length, 2, "both calls were paid for");
    const repair = server.requests[1]?.body.messages?.at(-1);
    assert.match(String(repair?.content), /confidence/);
  });

  test("invalid JSON twice: ModelResponseError, after exactly one repair request", async () => {
    const { llm, budget } = loop();
    server.respond(() => answer("Sure! Here is the finding: bees dance."));
    await assert.rejects(
      llm.generate({ prompt: "q", tools: [], output: finding }),
      (error: unknown) =>
        error instanceof ModelResponseError &&
        error.code === "E_MODEL_RESPONSE" &&
        /not valid JSON/.test(error.message),
    );
    assert.equal(server.requests.length, 2);
    assert.equal(budget.charges.length, 2, "the invalid answers were still charged");
  });
});

describe("bad tools", () => {
  test("the model calling a tool it was not offered is an UnknownToolError", async () => {
    const { llm } = loop();
    server.reply(toolCalls([{ name: "delete_everything", arguments: {} }]));
    await assert.rejects(
      llm.generate({ prompt: "q" }),
      (error: unknown) =>
        error instanceof UnknownToolError &&
        error.tool === "delete_everything" &&
        error.known.includes("search.web"),
    );
  });

  test("offering a tool nobody serves fails before any request", async () => {
    const { llm } = loop();
    await assert.rejects(
      llm.generate({ prompt: "q", tools: ["search.web", "ghost.tool"] }),
      UnknownToolError,
    );
    assert.equal(server.requests.length, 0);
  });

  test("a tool result over the limit is a ToolResultTooLargeError", async () => {
    const tools = localTools({ "search.web": () => ({ blob: "x".repeat(2000) }) });
    const { llm } = loop({
      tools,
      maxToolResultBytes: 1024,
      settings: { model: "fast", tools: ["search.web"] },
    });
    server.reply(toolCalls([{ name: "search_web", arguments: {} }]));
    await assert.rejects(
      llm.generate({ prompt: "q" }),
      (error: unknown) =>
        error instanceof ToolResultTooLargeError && error.limit === 1024 && error.size > 2000,
    );
  });

  test("tool arguments that are not JSON are a ModelResponseError", async () => {
    const { llm } = loop();
    server.reply(toolCalls([{ name: "search_web", arguments: "{not json" }]));
    await assert.rejects(llm.generate({ prompt: "q" }), ModelResponseError);
  });
});

describe("streaming", () => {
  test("yields deltas as they arrive, publishes them, and journals the step", async () => {
    const deltas: LlmDelta[] = [];
    const { llm, journal, calls } = loop({ onDelta: (d) => deltas.push(d) });
    server.reply(
      toolCalls([{ name: "search_web", arguments: { q: "bees" } }]),
      answer("Bees dance to talk.", { usage: { prompt: 30, completion: 6, cached: 10 } }),
    );
    const stream = llm.stream({ prompt: "How do bees talk?" });
    const pieces: string[] = [];
    for await (const piece of stream) pieces.push(piece);
    const result = await stream.result;
    assert.equal(pieces.join(""), "Bees dance to talk.");
    assert.ok(pieces.length >= 3, `streamed in pieces, got ${JSON.stringify(pieces)}`);
    assert.equal(result.text, "Bees dance to talk.");
    assert.equal(server.requests[0]?.body.stream, true);
    assert.deepEqual(server.requests[0]?.body.stream_options, { include_usage: true });
    assert.equal(calls[1]?.cachedInputTokens, 10, "usage from the stream's usage chunk");
    assert.equal(deltas.map((d) => d.text).join(""), "Bees dance to talk.");

    // Replayed: the recorded text comes out whole, nothing is sent.
    const sent = server.requests.length;
    const replay = loop({ journal: journal.replay() });
    const again: string[] = [];
    for await (const piece of replay.llm.stream({ prompt: "How do bees talk?" })) again.push(piece);
    assert.deepEqual(again, ["Bees dance to talk."]);
    assert.equal(server.requests.length, sent);
  });

  test("a failed stream rejects both the iterator and the result", async () => {
    const failing = pool([model("fast", server.url, { maxRetries: 0 })]);
    const { llm } = loop({ pool: failing });
    server.respond(() => ({ kind: "error", status: 500 }));
    const stream = llm.stream({ prompt: "q", tools: [] });
    await assert.rejects(async () => {
      for await (const _ of stream) {
        // drain
      }
    });
    await assert.rejects(stream.result);
  });
});
