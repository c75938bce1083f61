/**
 * The research swarm (examples/research-swarm) end to end, against a local
 * OpenAI-compatible server that counts the requests it receives:
 *
 * - `conclave up` answers every question: the model calls the librarian's
 *   `search.web` task as a tool, then answers; each call is held for and
 *   charged in the ledger, and `llm.call` events are emitted.
 * - `kill -9` of the process while the model is thinking about its final
 *   answer, then `conclave up` again: the first model call and the search
 *   are replayed from the step journal (no request sent again, the search
 *   task not run again), the interrupted call is sent once more, and
 *   exactly the calls that answered are charged.
 * - A researcher whose budget cannot cover a call's hold sends nothing.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { LedgerCheck, Store } from "../../src/store/port.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { finish, jsonLines, root, start, summaryOf } from "../cli/run-cli.js";
import {
  answer,
  type ChatRequest,
  type OpenAiServer,
  startOpenAiServer,
  toolCalls,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";

/** Every credit accounted for: nothing created or lost, nothing negative, every operation balanced. */
function assertLedgerSound(check: LedgerCheck): void {
  assert.equal(check.sum, check.minted);
  assert.deepEqual([check.negative, check.mismatched, check.unbalanced], [[], [], []]);
}

const example = join(root, "examples", "research-swarm");

/** A copy of the example in a fresh folder (its state goes under `.conclave/` there). */
function copyExample(): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-research-"));
  cpSync(example, dir, { recursive: true });
  return dir;
}

/**
 * Scripted answers by who asks (their system prompts differ): the planner
 * gets two sub-questions, a researcher first searches and then answers once
 * the tool answered, the reviewer approves. `slow` delays the reviewer.
 */
function swarmModel(reviewDelayMs: () => number) {
  return (request: ChatRequest) => {
    const messages = request.body.messages ?? [];
    const system = String(messages.find((m) => m.role === "system")?.content ?? "");
    const user = String(messages.find((m) => m.role === "user")?.content ?? "");
    if (system.includes("You plan research")) {
      return answer(JSON.stringify({ subquestions: [`${user} (what)`, `${user} (why)`] }), {
        usage: { prompt: 120, completion: 30 },
      });
    }
    if (system.includes("You review research")) {
      return answer(JSON.stringify({ approved: true, answer: `Reviewed: ${user.slice(0, 40)}` }), {
        usage: { prompt: 400, completion: 80 },
        delayMs: reviewDelayMs(),
      });
    }
    if (!messages.some((m) => m.role === "tool")) {
      return toolCalls([{ name: "search_web", arguments: { query: user } }], {
        usage: { prompt: 300, completion: 20 },
      });
    }
    return answer(`Finding for: ${user} (Rayleigh scattering)`, {
      usage: { prompt: 500, completion: 60 },
    });
  };
}

/** Model calls per question: the planner, two researchers twice each, the reviewer. */
const CALLS_PER_QUESTION = 6;

function up(dir: string, server: OpenAiServer, ...args: string[]) {
  return start(["up", join(dir, "swarm.yaml"), "--json", "--timeout", "60", ...args], dir, {
    OPENAI_BASE_URL: server.url,
    CONCLAVE_MODEL: "test-model",
  });
}

describe("research swarm against a local OpenAI-compatible server", () => {
  const dirs: string[] = [];
  const servers: OpenAiServer[] = [];
  /** A fresh server per test, all closed at the end. */
  async function serve(responder: Parameters<typeof startOpenAiServer>[0]): Promise<OpenAiServer> {
    const server = await startOpenAiServer(responder);
    servers.push(server);
    return server;
  }
  after(async () => {
    for (const s of servers) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("plans, researches with the librarian as a tool, reviews, votes and publishes; each call held and charged once", async () => {
    const server = await serve({ responder: swarmModel(() => 0) });
    const dir = copyExample();
    dirs.push(dir);
    const run = await finish(up(dir, server, "--tasks", "3"));
    assert.equal(run.code, 0, run.stderr);
    const summary = summaryOf(run.stdout);
    assert.deepEqual(
      { ...summary.tasks },
      { submitted: 3, completed: 3, deadLettered: 0, lost: 0, duplicateEffects: 0 },
    );
    assert.equal(server.requests.length, 3 * CALLS_PER_QUESTION, "no model call repeated");
    const llm = (summary as unknown as { llm: Record<string, unknown> }).llm;
    assert.equal(llm.calls, 3 * CALLS_PER_QUESTION);
    assert.equal(llm.replayed, 0);
    assert.equal(llm.inputTokens, 3 * (120 + 2 * (300 + 500) + 400));
    assert.equal(llm.outputTokens, 3 * (30 + 2 * (20 + 60) + 80));
    const calls = jsonLines(run.stdout).filter((e) => e.type === "llm.call");
    assert.equal(calls.length, 3 * CALLS_PER_QUESTION);
    for (const call of calls) {
      assert.equal(call.replayed, false);
      assert.ok(Number(call.cost) > 0);
    }
    const store = await openSqliteStore({ path: join(dir, ".conclave", "research-swarm.db") });
    try {
      const fees = await llmFees(store);
      assert.equal(fees.length, 3 * CALLS_PER_QUESTION, "each model call charged once");
      assert.equal((await store.effects("search.answered")).length, 3 * 2);
      assert.equal((await store.effects("answer.published")).length, 3, "the council approved");
      assertLedgerSound(await store.ledgerCheck());
      assert.deepEqual(await openHolds(store), [], "no hold is left open");
    } finally {
      await store.close();
    }
  });

  test("kill -9 mid-loop, then up again: finished steps are replayed, nothing is sent, run or charged twice", async () => {
    let slow = true;
    const server = await serve({ responder: swarmModel(() => (slow ? 60_000 : 0)) });
    const dir = copyExample();
    dirs.push(dir);
    const first = up(dir, server, "--tasks", "1");
    const exited = finish(first);
    // The reviewer's call is on its way: the plan, both searches and both findings are journaled.
    await until(
      () => server.requests.length === CALLS_PER_QUESTION,
      30_000,
      "the reviewer's model request",
    );
    first.kill("SIGKILL");
    assert.equal((await exited).signal, "SIGKILL");
    slow = false;

    const second = await finish(up(dir, server, "--tasks", "1"));
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      { ...summaryOf(second.stdout).tasks },
      { submitted: 1, completed: 1, deadLettered: 0, lost: 0, duplicateEffects: 0 },
    );
    assert.equal(
      server.requests.length,
      CALLS_PER_QUESTION + 1,
      "only the interrupted call was sent again",
    );
    const llm = (summaryOf(second.stdout) as unknown as { llm: Record<string, unknown> }).llm;
    assert.equal(llm.calls, CALLS_PER_QUESTION, "each answered call charged once over both runs");
    const calls = jsonLines(second.stdout).filter((e) => e.type === "llm.call");
    assert.deepEqual(
      calls.map((c) => [c.agent, c.replayed]),
      [
        ["planner", true],
        ["reviewer", false],
      ],
      "the planner's call is replayed from the journal, the reviewer's made",
    );
    const store = await openSqliteStore({ path: join(dir, ".conclave", "research-swarm.db") });
    try {
      assert.equal((await store.effects("search.answered")).length, 2, "each search ran once");
      assert.equal((await llmFees(store)).length, CALLS_PER_QUESTION);
      assert.deepEqual(await openHolds(store), [], "the interrupted call's hold was settled");
      assertLedgerSound(await store.ledgerCheck());
    } finally {
      await store.close();
    }
  });

  test("a researcher whose budget cannot cover the hold sends no request", async () => {
    const server = await serve({ responder: swarmModel(() => 0) });
    const dir = copyExample();
    dirs.push(dir);
    const yaml = readFileSync(join(dir, "swarm.yaml"), "utf8");
    writeFileSync(
      join(dir, "swarm.yaml"),
      yaml.replaceAll(
        "budget: { initial: 100000, minBalance: 0 }",
        "budget: { initial: 5, minBalance: 0 }",
      ),
    );
    const run = await finish(up(dir, server, "--tasks", "1", "--timeout", "20"));
    assert.equal(server.requests.length, 0, "no request was sent");
    assert.equal(summaryOf(run.stdout).tasks.completed, 0);
    assert.match(run.stdout, /InsufficientCreditsError|insufficient credits/i);
  });

  test("without a configured model it exits 2 naming the variable to set", async () => {
    const dir = copyExample();
    dirs.push(dir);
    const run = await finish(
      start(["up", join(dir, "swarm.yaml"), "--json"], dir, { OPENAI_BASE_URL: "" }),
    );
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /OPENAI_BASE_URL/);
  });
});

async function llmFees(store: Store) {
  return (await store.ledgerOperations({ kind: "fee" })).filter((op) => op.memo.kind === "llm");
}

async function openHolds(store: Store) {
  return (await store.balances()).filter(
    (b) => b.account.startsWith("escrow:llm:") && b.balance !== 0,
  );
}
