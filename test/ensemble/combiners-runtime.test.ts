/**
 * best-of, judge and stacking run by the runtime: an ensemble's members are
 * asked as durable child tasks, then a reviewer (a code agent), a judge or a
 * combiner (an LLM agent calling the local OpenAI-compatible server, which
 * counts its requests) is asked as one more. A task redelivered after the
 * judge answered asks nobody again; a combiner whose replies stay unusable
 * dead-letters the task with a reason that says so.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { roiReport } from "../../src/cli/roi.js";
import type { EnsembleConfig } from "../../src/config/ensembles.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import {
  type CombinerQuestion,
  type EnsembleDecision,
  ensembleHandler,
  ensembleSpec,
} from "../../src/runtime/ensemble.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import {
  answer,
  type ChatRequest,
  type OpenAiServer,
  startOpenAiServer,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";

/** What each member answers, per task type. */
const ANSWERS: Record<string, Record<string, unknown>> = {
  classify: { "m-a": "billing", "m-b": "refund", "m-c": "billing" },
  triage: { "m-a": "billing", "m-b": "refund", "m-c": "billing" },
  estimate: { "m-a": 3, "m-b": 5, "m-c": 8 },
  guess: { "m-a": 1, "m-b": 2, "m-c": 4 },
  write: { "m-a": "short", "m-b": "a longer draft", "m-c": "another draft" },
};
const TASKS = Object.keys(ANSWERS);

/** The LLM judge and combiner: they read the question the runtime sent as JSON. */
function model(request: ChatRequest) {
  const user = request.body.messages?.find((m) => m.role === "user")?.content;
  const asked = JSON.parse(String(user)) as CombinerQuestion;
  if (asked.rule === "judge") {
    const refund = asked.candidates.find((c) => c.answer === "refund");
    return answer(
      JSON.stringify({ choice: refund?.key, reasons: ["refund is the more specific label"] }),
    );
  }
  // The combiner: prose first (unusable), JSON once told what was wrong; never usable for `guess`.
  if (asked.ensemble === "guess" || asked.previousError === undefined) {
    return answer("I would say about five.");
  }
  const numbers = asked.candidates.map((c) => c.answer as number).sort((x, y) => x - y);
  return answer(
    JSON.stringify({ answer: numbers[Math.floor(numbers.length / 2)], reason: "the median" }),
  );
}

function swarmFile(url: string): string {
  return `swarm: combiners
dataDir: ./data
defaults: { maxDeliver: 3, ackWaitMs: 10000, backoff: { baseMs: 5, maxMs: 20 } }
models:
  judge: { provider: openai-compatible, baseURL: "${url}", model: judge-model }
prices:
  models:
    judge-model: { input: 1, output: 1 }
roles:
  desk: { tasks: [${TASKS.join(", ")}] }
  m-a: { tasks: [${TASKS.join(", ")}] }
  m-b: { tasks: [${TASKS.join(", ")}] }
  m-c: { tasks: [${TASKS.join(", ")}] }
  judges: { tasks: [ensemble.judge, ensemble.combine] }
  reviewers: { tasks: [ensemble.review] }
agents:
  - { id: desk-1, role: desk }
  - { id: m-a, role: m-a }
  - { id: m-b, role: m-b }
  - { id: m-c, role: m-c }
  - { id: judge-1, role: judges, budget: { initial: 100000, minBalance: 0 }, llm: { model: judge } }
  - { id: reviewer-1, role: reviewers }
ensembles:
  classify: { members: [m-a, m-b, m-c], judge: judge-1, adaptive: { start: 2 }, instructions: "Prefer the most specific label." }
  triage: { members: [m-a, m-b, m-c], combine: judge, judge: judges }
  estimate: { members: [m-a, m-b, m-c], combine: stacking, combiner: judges }
  guess: { members: [m-a, m-b, m-c], combiner: judge-1 }
  write: { members: [m-a, m-b, m-c], reviewer: reviewers, weights: equal }
`;
}

describe("best-of, judge and stacking in the runtime", () => {
  let server: OpenAiServer;
  let swarm: Swarm;
  let config: SwarmConfig;
  const work = mkdtempSync(join(tmpdir(), "conclave-combiners-"));
  /** How often each member (and the reviewer) handled each task type: `<type>/<agent>`. */
  const handled = new Map<string, number>();
  const count = (key: string) => handled.set(key, (handled.get(key) ?? 0) + 1);
  const reviewed: CombinerQuestion[] = [];

  before(async () => {
    server = await startOpenAiServer({ responder: model });
    config = parseSwarmConfig(swarmFile(server.url), { baseDir: work });
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role.startsWith("m-")) {
            for (const task of TASKS) {
              agent.handle(task, () => {
                count(`${task}/${agent.id}`);
                return ANSWERS[task]?.[agent.id];
              });
            }
          }
          if (agent.role === "reviewers") {
            // A code reviewer: drafts score 9, anything else 2 (so two drafts tie).
            agent.handle<CombinerQuestion>("ensemble.review", (ctx) => {
              reviewed.push(ctx.body);
              return {
                scores: Object.fromEntries(
                  ctx.body.candidates.map((c) => [
                    c.key,
                    String(c.answer).includes("draft") ? 9 : 2,
                  ]),
                ),
              };
            });
          }
          if (agent.role === "desk") {
            // The triage ensemble's own handler fails once after every ask, so the task is redelivered.
            const inner = ensembleHandler(
              ensembleSpec("triage", config.ensembles["triage"] as EnsembleConfig, config.agents),
              {
                reputations: (keys) => swarm.store.reputations(keys),
                updateReputation: (key, update) => swarm.store.updateReputation(key, update),
                claimIdempotencyKey: (key) => swarm.store.claimIdempotencyKey(key),
              },
            );
            agent.handle("triage", async (ctx) => {
              count(`triage/${agent.id}`);
              const result = await inner(ctx);
              if (ctx.attempt === 1) throw new Error("the desk crashed after the judge answered");
              return result;
            });
          }
        },
      },
    });
    await swarm.start();
  });

  after(async () => {
    await swarm?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function decide(task: string): Promise<EnsembleDecision> {
    const id = await swarm.submit("desk", task, { text: `a ${task} question` }, { as: "desk-1" });
    await until(async () => (await swarm.result(id)) !== undefined, 30_000, `${task} to finish`);
    const effects = (await swarm.store.effects("ensemble.decided")).filter(
      (e) => (e.data as EnsembleDecision).taskId === id,
    );
    assert.equal(effects.length, 1, "one decision per task");
    return effects[0]?.data as EnsembleDecision;
  }

  test("judge: an LLM agent chooses among the answers and its reasons are recorded", async () => {
    const before = server.requests.length;
    const d = await decide("classify");
    assert.equal(d.answer, "refund", "the judge's choice, not the vote's billing");
    assert.equal(d.reason, "refund is the more specific label");
    assert.deepEqual(d.asked, ["m-a", "m-b", "m-c"], "m-c asked because the first two disagreed");
    assert.equal(d.record.rule, "judge");
    assert.equal((d.record.result as { member: string }).member, "m-b");
    assert.deepEqual(d.combinedBy, { role: "judges", steps: ["ensemble-judge/1"] });
    assert.equal(server.requests.length - before, 1, "the judge was asked once");
    const prompt = String(server.requests.at(-1)?.body.messages?.at(-1)?.content);
    assert.match(prompt, /Prefer the most specific label/, "the ensemble's instructions");
    assert.doesNotMatch(prompt, /m-[abc]/, "the judge sees letters, not members");
    // The ROI report counts the judge's model call as part of what the ensemble cost.
    const roi = await roiReport(swarm.store);
    assert.equal(roi.taskTypes["classify"]?.callsPerTask, 1);
    assert.ok((roi.models["judge"]?.credits ?? 0) > 0);
  });

  test("stacking: an LLM combiner writes the final answer, asked again when its reply is unusable", async () => {
    const before = server.requests.length;
    const d = await decide("estimate");
    assert.equal(d.answer, 5);
    assert.equal(d.reason, "the median");
    assert.equal(d.record.rule, "stacking");
    assert.deepEqual(d.combinedBy?.steps, ["ensemble-stacking/1", "ensemble-stacking/2"]);
    assert.equal(server.requests.length - before, 2);
    const second = JSON.parse(
      String(server.requests.at(-1)?.body.messages?.at(-1)?.content),
    ) as CombinerQuestion;
    assert.match(second.previousError ?? "", /no JSON object/);
    assert.deepEqual(
      second.candidates.map((c) => c.weight),
      [0.5, 0.5, 0.5],
      "the combiner is shown the learned weights (the prior before any audit)",
    );
  });

  test("best-of: a code reviewer scores the answers; equal scores go to the member id that sorts first", async () => {
    const d = await decide("write");
    assert.equal(d.record.rule, "best-of");
    assert.equal(d.answer, "a longer draft");
    assert.deepEqual(d.record.result, {
      member: "m-b",
      answer: "a longer draft",
      score: 9,
      tie: true,
      tiedMembers: ["m-b", "m-c"],
    });
    assert.equal(reviewed.length, 1);
    assert.deepEqual(
      reviewed[0]?.candidates.map((c) => c.answer),
      ["short", "a longer draft", "another draft"],
    );
  });

  test("a task redelivered after the judge answered asks no member and no judge again", async () => {
    const before = server.requests.length;
    const d = await decide("triage");
    assert.equal(d.answer, "refund");
    assert.equal(handled.get("triage/desk-1"), 2, "delivered twice");
    for (const member of ["m-a", "m-b", "m-c"]) {
      assert.equal(handled.get(`triage/${member}`), 1, `${member} asked once`);
    }
    assert.equal(server.requests.length - before, 1, "the judge asked once over two deliveries");
  });

  test("a combiner whose replies stay unusable dead-letters the task, saying why", async () => {
    const id = await swarm.submit("desk", "guess", { text: "guess" }, { as: "desk-1" });
    await until(
      async () => (await swarm.store.deadLetters()).some((d) => d.reason.includes("guess")),
      30_000,
      "the guess to be dead-lettered",
    );
    const dead = (await swarm.store.deadLetters()).find((d) => d.reason.includes("guess"));
    assert.match(
      dead?.reason ?? "",
      /ensemble guess: role "judges" was asked 2 times \(ensemble\.combine\) and no reply could be used/,
    );
    assert.equal(await swarm.result(id), undefined);
  });
});
