// Handlers of the ensemble swarm. Plain JavaScript with no imports from
// conclave. The lead hands out every ticket three times (once per way of
// answering); each member asks its model and keeps one of the three labels.
// triage-1 needs no code: the swarm file's `ensembles:` makes it ask the
// members and combine their answers.

const LABELS = ["billing", "tech", "account"];
const TYPES = ["classify.large", "classify.small", "classify.adaptive"];

/** The first label the model's answer names, or "unknown" (counted as a wrong answer). */
function label(text) {
  const words =
    String(text)
      .toLowerCase()
      .match(/[a-z]+/g) ?? [];
  return words.find((w) => LABELS.includes(w)) ?? "unknown";
}

export function setup(agent, { config, workload }) {
  const tickets = Array.isArray(workload.tickets) ? workload.tickets : [];
  const count = Math.min(Number(workload.tasks ?? tickets.length), tickets.length);

  if (agent.role === "lead") {
    agent.onStart((ctx) =>
      ctx.once(`tickets-${count}`, (plan) => {
        for (let n = 0; n < count; n++) {
          const { text, truth } = tickets[n];
          // The truth rides along for the report and the learned weights; members never see it.
          for (const type of TYPES) plan.submit("triage", type, { ticket: text, truth });
        }
      }),
    );
    return;
  }
  if (agent.role === "triage") return;
  // A member: one model call, its answer reduced to a label.
  for (const type of config.roles[agent.role]?.tasks ?? []) {
    agent.handle(type, async (ctx) =>
      label((await ctx.llm.generate({ prompt: ctx.body.ticket })).text),
    );
  }
}
