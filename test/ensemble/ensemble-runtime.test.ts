/**
 * An ensemble declared in a swarm file, run by `conclave up` against a local
 * OpenAI-compatible server that counts its requests: three LLM members
 * classify tickets, asked adaptively (the two listed first, the third only
 * when they disagree), combined by weighted vote, with each member's weight
 * learned from the tickets' ground truth.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { finish, start, summaryOf } from "../cli/run-cli.js";
import {
  answer,
  type ChatRequest,
  type OpenAiServer,
  startOpenAiServer,
} from "../helpers/openai-server.js";

const TICKETS = [
  { text: "I was charged twice", truth: "billing" },
  { text: "Refund my invoice", truth: "billing" },
  { text: "Where is my receipt", truth: "billing" },
  { text: "ambiguous: the app crashes when I pay", truth: "tech" },
];

const SWARM = `swarm: tickets
module: ./agents.mjs
defaults: { ackWaitMs: 10000, maxDeliver: 3, backoff: { baseMs: 10, maxMs: 50 } }
models:
  small: { provider: openai-compatible, baseURL: "\${OPENAI_BASE_URL}", model: small-model }
  large: { provider: openai-compatible, baseURL: "\${OPENAI_BASE_URL}", model: large-model }
prices:
  models:
    small-model: { input: 0.1, output: 0.4 }
    large-model: { input: 2, output: 8 }
roles:
  lead: {}
  triage: { tasks: [classify.ticket] }
  clf-a: { tasks: [classify.ticket] }
  clf-b: { tasks: [classify.ticket] }
  clf-large: { tasks: [classify.ticket] }
agents:
  - { id: lead, role: lead }
  - { id: triage-1, role: triage }
  - { id: small-1, role: clf-a, budget: { initial: 100000, minBalance: 0 }, llm: { model: small, instructions: small-1.md } }
  - { id: small-2, role: clf-b, budget: { initial: 100000, minBalance: 0 }, llm: { model: small, instructions: small-2.md } }
  - { id: large-1, role: clf-large, budget: { initial: 100000, minBalance: 0 }, llm: { model: large, instructions: large-1.md } }
ensembles:
  classify.ticket:
    members: [small-1, small-2, large-1]
    combine: weighted-vote
    adaptive: { start: 2, addOnDisagreement: true }
workload:
  tickets: ${JSON.stringify(TICKETS)}
`;

const MODULE = `export function setup(agent, { workload }) {
  if (agent.role !== "lead") return;
  agent.onStart((ctx) =>
    ctx.once("tickets", (plan) => {
      for (const t of workload.tickets) plan.submit("triage", "classify.ticket", t);
    }),
  );
  // The ensemble's answer finishes the ticket.
}
`;

/** small-1 says billing; small-2 says tech on ambiguous tickets; large-1 says tech on those. */
function classifier(request: ChatRequest) {
  const messages = request.body.messages ?? [];
  const system = String(messages.find((m) => m.role === "system")?.content ?? "");
  const user = String(messages.find((m) => m.role === "user")?.content ?? "");
  const ambiguous = user.includes("ambiguous");
  if (system.includes("small-1")) return answer("billing");
  return answer(ambiguous ? "tech" : "billing");
}

describe("ensembles in the runtime", () => {
  let server: OpenAiServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), "conclave-ensemble-"));
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the third member is asked only on disagreement; weights are learned from the truth", async () => {
    server = await startOpenAiServer({ responder: classifier });
    writeFileSync(join(dir, "swarm.yaml"), SWARM);
    writeFileSync(join(dir, "agents.mjs"), MODULE);
    for (const member of ["small-1", "small-2", "large-1"]) {
      writeFileSync(
        join(dir, `${member}.md`),
        `You are ${member}. Answer with one label: billing or tech.`,
      );
    }
    const run = await finish(
      start(["up", join(dir, "swarm.yaml"), "--json", "--timeout", "60"], dir, {
        OPENAI_BASE_URL: server.url,
      }),
    );
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const summary = summaryOf(run.stdout);
    assert.equal(summary.tasks.submitted, 4);
    assert.equal(summary.tasks.lost, 0);
    // 3 agreed tickets × 2 members + 1 disputed ticket × 3 members.
    assert.equal(server.requests.length, 9, "the third member only on the disputed ticket");
    const store = await openSqliteStore({ path: join(dir, ".conclave", "tickets.db") });
    try {
      const decisions = (await store.effects("ensemble.decided")).map(
        (e) => e.data as { answer: string; asked: string[]; callsSaved: number; agreed: boolean },
      );
      assert.equal(decisions.length, 4);
      const disputed = decisions.filter((d) => d.asked.length === 3);
      assert.equal(disputed.length, 1);
      assert.equal(disputed[0]?.answer, "tech", "two votes of equal weight beat one");
      assert.equal(decisions.filter((d) => d.answer === "billing").length, 3);
      assert.equal(
        decisions.reduce((n, d) => n + d.callsSaved, 0),
        3,
      );
      const weights = new Map(
        (
          await store.reputations([
            "small-1@classify.ticket",
            "small-2@classify.ticket",
            "large-1@classify.ticket",
          ])
        ).map((r) => [r.agent, r]),
      );
      assert.equal(weights.get("small-1@classify.ticket")?.observations, 4);
      assert.equal(weights.get("large-1@classify.ticket")?.observations, 1);
      const small1 = weights.get("small-1@classify.ticket")?.score ?? 0;
      const small2 = weights.get("small-2@classify.ticket")?.score ?? 0;
      assert.ok(
        small2 > small1,
        `always right (${small2}) weighs more than once wrong (${small1})`,
      );
    } finally {
      await store.close();
    }
  });

  test("a member that is not declared, or shares its role, is refused when the file loads", async () => {
    const bad = SWARM.replace(
      "members: [small-1, small-2, large-1]",
      "members: [small-1, smal-2, large-1]",
    );
    writeFileSync(join(dir, "bad.yaml"), bad);
    const run = await finish(
      start(["up", join(dir, "bad.yaml"), "--json"], dir, {
        OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      }),
    );
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /ensembles\.classify\.ticket\.members\.1: no agent "smal-2" is declared \(did you mean "small-2"\?\)/,
    );
  });
});
