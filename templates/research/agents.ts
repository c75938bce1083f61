/**
 * The research swarm's handlers. `conclave up swarm.yaml` imports this
 * module and calls `setup(agent, context)` once for each agent of the swarm
 * file. The researcher's model is the swarm file's `models.local`.
 */
import type { Agent, SetupContext } from "conclave";

/** The body of a `research` task. */
export interface Question {
  readonly question: string;
}

/** What an answer proposes to publish, and what its root task is finished with. */
export interface Answer {
  readonly question: string;
  readonly answer: string;
  readonly published: boolean;
}

/** The workload's questions (`workload.questions` in swarm.yaml). */
export function questionsOf(workload: Readonly<Record<string, unknown>>): string[] {
  const questions = workload["questions"];
  return Array.isArray(questions) ? questions.map(String) : [];
}

export function setup(agent: Agent, { workload }: SetupContext): void {
  const questions = questionsOf(workload);
  switch (agent.role) {
    case "lead":
      agent.onStart((ctx) =>
        ctx.once(`questions-${questions.length}`, (plan) => {
          for (const question of questions) {
            plan.submit<Question>("researcher", "research", { question });
          }
        }),
      );
      break;
    case "researcher":
      agent.handle<Question>("research", async (ctx) => {
        // A durable step: after a crash the recorded answer is replayed, not paid for again.
        const { text } = await ctx.llm.generate({ prompt: ctx.body.question });
        const data = { question: ctx.body.question, answer: text.trim() };
        // Publishing is privileged: the editor votes on it by policy first.
        const decision = await ctx.propose({ action: "answer.publish", data });
        if (decision.outcome === "approved") {
          ctx.submit("publisher", "answer.publish", data, { approval: decision.seal });
        } else {
          ctx.finish({ ...data, published: false } satisfies Answer);
        }
      });
      break;
    case "publisher":
      agent.handle<{ question: string; answer: string }>("answer.publish", async (ctx) => {
        ctx.effect("answer.published", ctx.body.question, ctx.body);
        ctx.finish({ ...ctx.body, published: true } satisfies Answer);
      });
      break;
  }
}
