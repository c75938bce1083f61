/**
 * The research swarm spread over two OS processes on a broker: the planner,
 * librarian, reviewer, council and publisher in one (`conclave up --agents`),
 * the two LLM researchers in the other (`conclave agent`). The planner's
 * `ctx.call`s to the researchers and the researchers' `search.web` tool
 * calls to the librarian cross processes; the store is one SQLite file both
 * share. Every model call is made once and charged once.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { finish, root, start, summaryOf } from "../cli/run-cli.js";
import {
  answer,
  type ChatRequest,
  type OpenAiServer,
  startOpenAiServer,
  toolCalls,
} from "../helpers/openai-server.js";
import { amqpMissing, amqpUrl, assertAvailable, randomSwarmName } from "./fixtures/processes.js";

const QUESTIONS = 2;
const CALLS_PER_QUESTION = 6;

function model(request: ChatRequest) {
  const messages = request.body.messages ?? [];
  const system = String(messages.find((m) => m.role === "system")?.content ?? "");
  const user = String(messages.find((m) => m.role === "user")?.content ?? "");
  if (system.includes("You plan research")) {
    return answer(JSON.stringify({ subquestions: [`${user} (what)`, `${user} (why)`] }));
  }
  if (system.includes("You review research")) {
    return answer(JSON.stringify({ approved: true, answer: `Reviewed: ${user.slice(0, 40)}` }));
  }
  if (!messages.some((m) => m.role === "tool")) {
    return toolCalls([{ name: "search_web", arguments: { query: user } }]);
  }
  return answer(`Finding for: ${user}`);
}

function suite(
  kind: "nats" | "amqp",
  broker: () => Promise<string>,
  missing: () => Promise<string | undefined>,
) {
  describe(`research swarm over two processes (${kind})`, () => {
    const dir = mkdtempSync(join(tmpdir(), `conclave-research-${kind}-`));
    let server: OpenAiServer | undefined;
    after(async () => {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test("calls and tool calls cross processes; each model call made and charged once", async (t) => {
      const why = await missing();
      if (why && process.env["CI"] !== "true") {
        t.skip(`${kind}: ${why}`);
        return;
      }
      assertAvailable(kind, why);
      const url = await broker();
      server = await startOpenAiServer({ responder: model });
      cpSync(join(root, "examples", "research-swarm"), dir, { recursive: true });
      const file = join(dir, "swarm.yaml");
      const swarm = randomSwarmName(`research-${kind}`);
      writeFileSync(
        file,
        readFileSync(file, "utf8").replace("swarm: research-swarm", `swarm: ${swarm}`),
      );
      const env = { OPENAI_BASE_URL: server.url, CONCLAVE_MODEL: "test-model" };
      const common = ["--transport", url, "--store", `sqlite:${join(dir, "shared.db")}`];
      const researchers = start(
        ["agent", "--swarm", file, "--id", "researcher-1,researcher-2", ...common],
        dir,
        env,
      );
      const researchersDone = finish(researchers);
      try {
        const rest = "lead,planner,librarian-1,reviewer,council-1,council-2,council-3,publisher";
        const run = await finish(
          start(
            [
              "up",
              file,
              "--agents",
              rest,
              "--tasks",
              String(QUESTIONS),
              "--json",
              "--timeout",
              "60",
              ...common,
            ],
            dir,
            env,
          ),
        );
        assert.equal(run.code, 0, run.stderr.slice(-2000));
        const summary = summaryOf(run.stdout);
        assert.deepEqual(
          { ...summary.tasks },
          {
            submitted: QUESTIONS,
            completed: QUESTIONS,
            deadLettered: 0,
            lost: 0,
            duplicateEffects: 0,
          },
        );
        const llm = (summary as unknown as { llm: { calls: number } }).llm;
        assert.equal(llm.calls, QUESTIONS * CALLS_PER_QUESTION, "each call charged once");
        assert.equal(server.requests.length, QUESTIONS * CALLS_PER_QUESTION, "each call made once");
      } finally {
        researchers.kill("SIGTERM");
        await researchersDone;
      }
    });
  });
}

describe("research swarm with up --processes 3 (nats)", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-research-up-processes-"));
  let server: OpenAiServer | undefined;
  let broker: NatsServer | undefined;
  after(async () => {
    await server?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("any swarm file spreads over supervised processes; one summary for the whole swarm", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    broker = await startNatsServer();
    server = await startOpenAiServer({ responder: model });
    cpSync(join(root, "examples", "research-swarm"), dir, { recursive: true });
    const file = join(dir, "swarm.yaml");
    const env = { OPENAI_BASE_URL: server.url, CONCLAVE_MODEL: "test-model" };
    const run = await finish(
      start(
        [
          "up",
          file,
          "--processes",
          "3",
          "--transport",
          broker.url,
          "--tasks",
          String(QUESTIONS),
          "--json",
          "--timeout",
          "90",
        ],
        dir,
        env,
      ),
    );
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const summary = summaryOf(run.stdout);
    assert.equal(summary.tasks.completed, QUESTIONS);
    assert.equal(summary.tasks.lost, 0);
    const llm = (summary as unknown as { llm: { calls: number } }).llm;
    assert.equal(llm.calls, QUESTIONS * CALLS_PER_QUESTION);
    assert.equal(server.requests.length, QUESTIONS * CALLS_PER_QUESTION);
  });
});

let nats: NatsServer | undefined;
after(async () => {
  await nats?.stop();
});
suite(
  "nats",
  async () => {
    nats = await startNatsServer();
    return nats.url;
  },
  async () => (natsServerAvailable() ? undefined : "no nats-server binary on PATH"),
);
suite(
  "amqp",
  async () => amqpUrl,
  () => amqpMissing(),
);
