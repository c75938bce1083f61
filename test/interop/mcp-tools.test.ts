/**
 * MCP servers' tools for LLM agents, end to end with real parts: a swarm
 * file with an `mcp:` section opened by `openSwarm`, a real MCP server (over
 * streamable HTTP in this process, or a child over stdio), and the local
 * OpenAI-compatible server scripting the model's tool calls.
 *
 * - The model is offered the server's tools (input schema and description
 *   as listed), its call reaches the server once, the result reaches the
 *   model, the tool's cost is charged once in the ledger.
 * - A task retried after the tool step (the final model call fails with a
 *   500) replays the tool from the journal: the server sees no second call,
 *   the budget is not charged twice.
 * - A tool error (`isError`) reaches the model as `{ error }`.
 * - A stdio server named by one tool (`mcp:files/read_file`) is started as
 *   a child, its tool called once; the child is gone when the swarm closes.
 * - A tool the server does not offer fails the start, naming what it offers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { FEES } from "../../src/ledger/index.js";
import { openSwarm, type SwarmModule } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { finish, start, summaryOf } from "../cli/run-cli.js";
import {
  answer,
  type ChatRequest,
  httpError,
  type OpenAiServer,
  startOpenAiServer,
  toolCalls,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { type SearchServer, startSearchServer } from "./fixtures/search-server.js";

const filesServer = join(import.meta.dirname, "fixtures", "files-server.mjs");
const leadAgents = join(import.meta.dirname, "fixtures", "lead-agents.mjs");

interface SwarmFileOptions {
  readonly tools: readonly string[];
  readonly mcp: string;
}

function swarmYaml(dir: string, model: OpenAiServer, options: SwarmFileOptions): string {
  return `swarm: mcp-tools
transport: memory
store: sqlite:${join(dir, "swarm.db")}
dataDir: ${dir}
defaults: { ackWaitMs: 10000, maxDeliver: 3, backoff: { baseMs: 10, maxMs: 50, jitter: none }, heartbeatMs: 200 }
models:
  fast:
    provider: openai-compatible
    baseURL: "${model.url}"
    apiKey: "\${NO_SUCH_KEY:-}"
    model: test-model
    maxRetries: 0
prices:
  version: t-1
  creditsPerUsd: 1000000
  models: { fast: { input: 1, output: 2 } }
roles:
  lead: {}
  researcher: { tasks: [ask] }
agents:
  - { id: lead, role: lead }
  - id: researcher-1
    role: researcher
    budget: { initial: 100000, minBalance: 0 }
    llm: { model: fast, tools: ${JSON.stringify(options.tools)}, maxOutputTokens: 50 }
mcp:
${options.mcp}
`;
}

/** Whether the model has seen a tool result in this request. */
function hasToolResult(request: ChatRequest): boolean {
  return (request.body.messages ?? []).some((m) => m.role === "tool");
}

function toolMessage(request: ChatRequest): string {
  return String((request.body.messages ?? []).find((m) => m.role === "tool")?.content ?? "");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function mcpFees(swarm: Swarm) {
  return (await swarm.store.ledgerOperations({ kind: "fee" })).filter(
    (op) => op.memo.kind === "mcp",
  );
}

describe("MCP tools for LLM agents", () => {
  let model: OpenAiServer;
  let search: SearchServer;
  const dirs: string[] = [];
  const swarms: Swarm[] = [];

  before(async () => {
    model = await startOpenAiServer();
    search = await startSearchServer();
  });
  after(async () => {
    for (const s of swarms) await s.close().catch(() => undefined);
    await model.close();
    await search.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function open(
    options: SwarmFileOptions,
    module: SwarmModule = { setup: () => {} },
  ): Promise<Swarm> {
    const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-"));
    dirs.push(dir);
    const config = parseSwarmConfig(swarmYaml(dir, model, options), {
      baseDir: dir,
      env: { SEARCH_TOKEN: "search-token-0123456789" },
    });
    const swarm = await openSwarm(config, { module });
    swarms.push(swarm);
    return swarm;
  }

  const searchSection = () =>
    `  search: { url: "${search.url}", token: "\${SEARCH_TOKEN}", costs: { search_web: 7 } }`;

  test("the model calls an MCP tool: offered as listed, called once, its result seen, its cost charged once", async () => {
    const swarm = await open({ tools: ["mcp:search"], mcp: searchSection() });
    const before = search.calls.length;
    const sent = model.requests.length;
    model.respond((request) =>
      hasToolResult(request)
        ? answer(`Found: ${toolMessage(request)}`)
        : toolCalls([{ name: "search_search_web", arguments: { query: "why is the sky blue" } }]),
    );
    await swarm.start();
    const result = await swarm.submitAndWait<string>("researcher", "ask", "Why is the sky blue?", {
      as: "lead",
      timeoutMs: 15_000,
    });

    assert.equal(search.calls.length - before, 1, "the MCP server saw one call");
    const call = search.calls.at(-1);
    assert.deepEqual(call?.args, { query: "why is the sky blue" });
    assert.equal(call?.headers.authorization, "Bearer search-token-0123456789");
    const first = model.requests[sent];
    const offered = first?.body.tools?.map((t) => t.function.name).sort();
    assert.deepEqual(offered, ["search_broken", "search_search_web"]);
    const described = first?.body.tools?.find((t) => t.function.name === "search_search_web") as
      | { function: { description?: string; parameters?: { properties?: object } } }
      | undefined;
    assert.equal(described?.function.description, "Searches the web.");
    assert.ok(
      described?.function.parameters?.properties &&
        "query" in described.function.parameters.properties,
    );
    assert.match(result, /Rayleigh scattering explains: why is the sky blue/);
    assert.match(toolMessage(model.requests.at(-1) as ChatRequest), /"hits"/, "structured content");

    const fees = await mcpFees(swarm);
    assert.equal(fees.length, 1, "the tool's cost charged once");
    assert.equal(fees[0]?.memo.tool, "search_web");
    assert.equal(fees[0]?.memo.server, "search");
    assert.ok(
      fees[0]?.entries.some((e) => e.account === FEES && e.delta === 7),
      "7 credits to the fees account",
    );
    const check = await swarm.store.ledgerCheck();
    assert.equal(check.sum, check.minted);
    await swarm.close();
  });

  test("a task retried after the tool step replays it: no second call, no second charge", async () => {
    const swarm = await open({ tools: ["mcp:search/search_web"], mcp: searchSection() });
    const before = search.calls.length;
    let failed = false;
    model.respond((request) => {
      if (!hasToolResult(request)) {
        return toolCalls([{ name: "search_search_web", arguments: { query: "replay" } }]);
      }
      if (!failed) {
        failed = true;
        return httpError(500);
      }
      return answer("done after a retry");
    });
    const events: string[] = [];
    swarm.on((e) => {
      if (e.type === "llm.call") {
        events.push(`${e.step}:${e.replayed}${e.failed === undefined ? "" : `:${e.failed}`}`);
      }
    });
    await swarm.start();
    const result = await swarm.submitAndWait<string>("researcher", "ask", "replay me", {
      as: "lead",
      timeoutMs: 15_000,
    });
    assert.equal(result, "done after a retry");
    assert.ok(failed, "the final model call failed once");
    assert.equal(search.calls.length - before, 1, "the MCP server saw one call over both attempts");
    // The failed call has its record too (llm.call with `failed`).
    assert.deepEqual(events, [
      "llm/0/model/0:false",
      "llm/0/model/1:false:E_MODEL_UNAVAILABLE",
      "llm/0/model/0:true",
      "llm/0/model/1:false",
    ]);
    assert.equal((await mcpFees(swarm)).length, 1, "charged once");
    const check = await swarm.store.ledgerCheck();
    assert.equal(check.sum, check.minted);
    assert.deepEqual(
      (await swarm.store.balances()).filter(
        (b) => b.account.startsWith("escrow:mcp:") && b.balance !== 0,
      ),
      [],
      "no hold left open",
    );
    await swarm.close();
  });

  test("a tool error reaches the model as { error }", async () => {
    const swarm = await open({ tools: ["mcp:search/broken"], mcp: searchSection() });
    model.respond((request) =>
      hasToolResult(request)
        ? answer(`tool said: ${toolMessage(request)}`)
        : toolCalls([{ name: "search_broken", arguments: {} }]),
    );
    await swarm.start();
    const result = await swarm.submitAndWait<string>("researcher", "ask", "try", {
      as: "lead",
      timeoutMs: 15_000,
    });
    assert.match(result, /"error":"the index is offline"/);
    assert.equal((await mcpFees(swarm)).length, 0, "a free tool charges nothing");
    await swarm.close();
  });

  test("a stdio server: started as a child, one tool named, called once, closed with the swarm", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-log-"));
    dirs.push(dir);
    const log = join(dir, "calls.log");
    const swarm = await open({
      tools: ["mcp:files/read_file"],
      mcp: `  files: { command: [node, ${JSON.stringify(filesServer)}], env: { MCP_CALLS_LOG: ${JSON.stringify(log)} }, costs: { read_file: 3 } }`,
    });
    const sent = model.requests.length;
    model.respond((request) =>
      hasToolResult(request)
        ? answer(`read: ${toolMessage(request)}`)
        : toolCalls([{ name: "files_read_file", arguments: { path: "notes.txt" } }]),
    );
    await swarm.start();
    const result = await swarm.submitAndWait<string>("researcher", "ask", "read notes", {
      as: "lead",
      timeoutMs: 15_000,
    });
    assert.match(result, /contents of notes\.txt: hello from MCP/);
    assert.deepEqual(
      model.requests[sent]?.body.tools?.map((t) => t.function.name),
      ["files_read_file"],
      "only the named tool is offered",
    );
    assert.equal(readFileSync(log, "utf8"), "notes.txt\n", "one call reached the child");
    const fees = await mcpFees(swarm);
    assert.equal(fees.length, 1);
    const pid = Number(readFileSync(`${log}.pid`, "utf8"));
    assert.ok(alive(pid), "the server runs while the swarm does");
    await swarm.close();
    await until(() => !alive(pid), 5000, "the stdio server to exit");
  });

  test("a stdio server that dies mid-call fails the step; the retried task starts it again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-log-"));
    dirs.push(dir);
    const log = join(dir, "calls.log");
    const swarm = await open({
      tools: ["mcp:files/flaky_read"],
      mcp: `  files: { command: [node, ${JSON.stringify(filesServer)}], env: { MCP_CALLS_LOG: ${JSON.stringify(log)} } }`,
    });
    model.respond((request) =>
      hasToolResult(request)
        ? answer(`read: ${toolMessage(request)}`)
        : toolCalls([{ name: "files_flaky_read", arguments: { path: "a.txt" } }]),
    );
    const failures: string[] = [];
    swarm.on((e) => {
      if (e.type === "task.failed") failures.push(e.error);
    });
    await swarm.start();
    const first = Number(readFileSync(`${log}.pid`, "utf8"));
    const result = await swarm.submitAndWait<string>("researcher", "ask", "read a", {
      as: "lead",
      timeoutMs: 15_000,
    });
    assert.match(result, /contents of a\.txt after a restart/);
    assert.equal(readFileSync(`${log}.crashed`, "utf8"), String(first), "the first server crashed");
    const second = Number(readFileSync(`${log}.pid`, "utf8"));
    assert.notEqual(second, first, "a new server was started");
    assert.equal(readFileSync(log, "utf8"), "a.txt\n", "the restarted server answered once");
    assert.ok(
      failures.some((f) => /E_MCP_CALL_FAILED|MCP server "files"/.test(f)),
      failures.join("; "),
    );
    await swarm.close();
    await until(() => !alive(second), 5000, "the restarted server to exit");
  });

  test("ctx.llm.generate({ tools }) takes mcp: entries too, within the agent's tools", async () => {
    const swarm = await open(
      { tools: ["mcp:search"], mcp: searchSection() },
      {
        setup(agent) {
          if (agent.role !== "researcher") return;
          agent.handle("ask", async (ctx) => {
            const answer = await ctx.llm.generate({
              prompt: String(ctx.body),
              tools: ["mcp:search/search_web"],
            });
            return answer.text;
          });
        },
      },
    );
    const sent = model.requests.length;
    model.respond(() => answer("no tool needed"));
    await swarm.start();
    const result = await swarm.submitAndWait<string>("researcher", "ask", "hello", {
      as: "lead",
      timeoutMs: 15_000,
    });
    assert.equal(result, "no tool needed");
    assert.deepEqual(
      model.requests[sent]?.body.tools?.map((t) => t.function.name),
      ["search_search_web"],
    );
    await swarm.close();
  });

  test("a tool the server does not offer fails the start, naming what it offers", async () => {
    const swarm = await open({ tools: ["mcp:search/serch_web"], mcp: searchSection() });
    await assert.rejects(swarm.start(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "E_MCP_TOOL_NOT_FOUND");
      assert.match(error.message, /offers: search_web, broken/);
      return true;
    });
    await swarm.close();
  });

  test("kill -9 of conclave up after the tool step, then up again: the MCP server is not called again, nothing is charged twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-mcp-crash-"));
    dirs.push(dir);
    const yaml = swarmYaml(dir, model, {
      tools: ["mcp:search"],
      mcp: `  search: { url: "${search.url}", costs: { search_web: 7 } }`,
    })
      .replace(/^store: .*\n/m, "")
      .replace("transport: memory\n", `transport: memory\nmodule: ${JSON.stringify(leadAgents)}\n`);
    writeFileSync(join(dir, "swarm.yaml"), yaml);
    let slow = true;
    model.respond((request) =>
      hasToolResult(request)
        ? answer(`Found: ${toolMessage(request)}`, { delayMs: slow ? 60_000 : 0 })
        : toolCalls([{ name: "search_search_web", arguments: { query: "crash" } }]),
    );
    const before = search.calls.length;
    const sent = model.requests.length;
    const up = () => start(["up", join(dir, "swarm.yaml"), "--json", "--timeout", "30"], dir);
    const first = up();
    const exited = finish(first);
    // The final model call is on its way: the tool step is journaled.
    await until(() => model.requests.length - sent === 2, 20_000, "the final model request");
    assert.equal(search.calls.length - before, 1);
    first.kill("SIGKILL");
    assert.equal((await exited).signal, "SIGKILL");
    slow = false;

    const second = await finish(up());
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      { ...summaryOf(second.stdout).tasks },
      { submitted: 1, completed: 1, deadLettered: 0, lost: 0, duplicateEffects: 0 },
    );
    assert.equal(search.calls.length - before, 1, "the MCP server saw one call over both runs");
    assert.equal(model.requests.length - sent, 3, "only the interrupted model call was sent again");
    const store = await openSqliteStore({ path: join(dir, "mcp-tools.db") });
    try {
      const fees = (await store.ledgerOperations({ kind: "fee" })).filter(
        (op) => op.memo.kind === "mcp",
      );
      assert.equal(fees.length, 1, "the tool charged once over both runs");
      const check = await store.ledgerCheck();
      assert.equal(check.sum, check.minted);
      assert.deepEqual(
        (await store.balances()).filter(
          (b) => b.account.startsWith("escrow:mcp:") && b.balance !== 0,
        ),
        [],
      );
    } finally {
      await store.close();
    }
  });

  test("a cost for a tool the server does not offer fails the start", async () => {
    const swarm = await open({
      tools: ["mcp:search"],
      mcp: `  search: { url: "${search.url}", costs: { search_webb: 5 } }`,
    });
    await assert.rejects(swarm.start(), /offers no tool "search_webb".*fix mcp\.search\.costs/);
    await swarm.close();
  });
});
