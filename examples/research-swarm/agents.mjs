// Handlers of the research swarm. Plain JavaScript with no imports from
// conclave. The lead hands out the questions; the planner's handler drives
// one question through the swarm with durable steps (its model, then the
// researchers and the reviewer as child tasks, then the council's vote);
// the librarian searches a small offline corpus; the publisher publishes.
// The researchers and the reviewer need no code: see the default case.

const CORPUS = [
  {
    title: "The waggle dance",
    text: "A forager honey bee that found food performs a waggle dance on the comb: the angle of the waggle run to vertical gives the direction relative to the sun, and its duration the distance.",
  },
  {
    title: "Rayleigh scattering",
    text: "Sunlight is scattered by air molecules in inverse proportion to the fourth power of its wavelength, so blue light is scattered far more than red and reaches the eye from every direction of the sky.",
  },
  {
    title: "Transactional outbox",
    text: "A service writes the messages it must send into an outbox table in the same database transaction as its state change; a relay sends them afterwards, and consumers deduplicate by message id, so a crash between the two loses nothing and sends nothing twice.",
  },
  {
    title: "Idempotency keys",
    text: "An operation carrying a unique key is applied once: a repeat with the same key returns the first result instead of applying it again.",
  },
];

const WORDS = /[a-z]+/g;

/** The corpus entries sharing the most words (of four letters or more) with the query. */
function search(query) {
  const wanted = new Set(
    (String(query).toLowerCase().match(WORDS) ?? []).filter((w) => w.length >= 4),
  );
  return CORPUS.map((doc) => ({
    doc,
    score: (`${doc.title} ${doc.text}`.toLowerCase().match(WORDS) ?? []).filter((w) =>
      wanted.has(w),
    ).length,
  }))
    .filter((hit) => hit.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, 2)
    .map(({ doc }) => doc);
}

export function setup(agent, { workload }) {
  const questions = Array.isArray(workload.questions) ? workload.questions.map(String) : [];
  const tasks = Math.min(Number(workload.tasks ?? questions.length), questions.length);

  switch (agent.role) {
    case "lead":
      // once(): after a restart the questions are not handed out twice.
      agent.onStart((ctx) =>
        ctx.once(`questions-${tasks}`, async (plan) => {
          for (let n = 0; n < tasks; n++)
            plan.submit("planner", "investigate", { question: questions[n] });
        }),
      );
      break;

    case "planner":
      // Each await below is a durable step: after a crash the handler runs
      // again and every finished step returns its recorded result.
      agent.handle("investigate", async (ctx) => {
        const { question } = ctx.body;
        const plan = await ctx.llm.generate({ prompt: question });
        const subquestions = plan.output.subquestions.slice(0, 4);
        // Child tasks of other roles, awaited durably (never submitted twice).
        const findings = await Promise.all(
          subquestions.map((sub) => ctx.call("researcher", "research", sub)),
        );
        const review = await ctx.call("reviewer", "review", {
          question,
          findings: subquestions.map((sub, i) => ({ subquestion: sub, finding: findings[i] })),
        });
        // Publishing is privileged: the council votes on it first.
        const decision = await ctx.propose({
          action: "answer.publish",
          data: {
            question,
            approved: review.approved === true,
            answer: String(review.answer ?? ""),
          },
        });
        if (decision.outcome === "approved") {
          ctx.submit("publisher", "answer.publish", decision.proposal.data, {
            approval: decision.seal,
          });
        } else {
          ctx.effect("answer.withheld", ctx.task.id, { question, issues: review.issues ?? [] });
          ctx.finish({ published: false });
        }
        return { subquestions, approved: decision.outcome === "approved" };
      });
      break;

    case "librarian":
      agent.handle("search.web", async (ctx) => {
        const results = search(ctx.body?.query ?? "");
        ctx.effect("search.answered", ctx.task.id, {
          query: ctx.body?.query ?? "",
          hits: results.length,
        });
        return { results };
      });
      break;

    case "publisher":
      // Privileged: runs only with the seal of an approval of exactly this answer.
      agent.handle("answer.publish", (ctx) => {
        ctx.effect("answer.published", ctx.root, ctx.body);
        ctx.finish({ published: true });
      });
      break;

    default:
      // researcher and reviewer: no handler here. An agent with llm:
      // settings answers each task of its role with its model: the task's
      // body is the prompt, the answer (the structured output when the
      // agent has an output schema) the task's result.
      break;
  }
}
