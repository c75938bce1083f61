/**
 * The swarm's handlers. `conclave up swarm.yaml` imports this module and
 * calls `setup(agent, context)` once for each agent of the swarm file; an
 * agent registers what it does for its role.
 */
import type { Agent, SetupContext } from "conclave";

/** The body of a `greet` task. */
export interface Greeting {
  readonly name: string;
}

/** What a `greet` task returns (and finishes its root task with). */
export interface Greeted {
  readonly text: string;
}

export function setup(agent: Agent, { workload }: SetupContext): void {
  const tasks = Number(workload["tasks"] ?? 3);
  switch (agent.role) {
    case "lead":
      // once(): after a crash and a restart the work is not handed out twice.
      agent.onStart((ctx) =>
        ctx.once(`greetings-${tasks}`, (plan) => {
          for (let n = 1; n <= tasks; n++) {
            plan.submit<Greeting>("worker", "greet", { name: `world #${n}` });
          }
        }),
      );
      break;
    case "worker":
      agent.handle<Greeting, Greeted>("greet", async (ctx) => {
        const text = `hello, ${ctx.body.name}`;
        // An effect is committed with the task's completion: applied once.
        ctx.effect("greeting.written", ctx.task.id, { text });
        // The root task is done: `conclave results` shows what it was finished with.
        ctx.finish({ text });
        return { text };
      });
      break;
  }
}
