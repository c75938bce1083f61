// Handlers of the review swarm. Plain JavaScript with no imports from
// conclave, so it runs wherever conclave is installed. Each agent gets its
// handlers in setup().
import { createHash } from "node:crypto";

/** A stable number in [0, 1) from a string: the demo is deterministic. */
function draw(text) {
  return createHash("sha256").update(text).digest().readUInt32BE(0) / 2 ** 32;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const MODULES = ["auth", "billing", "search", "profile", "inbox", "reports", "admin", "export"];

/**
 * Privileged actions after a passing review: a bonus transfer every 20
 * reviews, a production deploy every 50. Each is proposed and voted on; only
 * an approved one is handed to ops, with the decision's seal.
 */
async function proposeActions(ctx, privileged, n, author) {
  const actions = [];
  if (privileged["funds.transfer"] && n % 20 === 10) {
    const amount = 250 * (1 + (Math.floor(n / 20) % 6));
    actions.push({ action: "funds.transfer", data: { to: author, amount, reason: `task ${n}` } });
  }
  if (privileged["deploy.production"] && n % 50 === 25) {
    const window = n % 100 === 75 ? "friday-evening" : "tuesday-morning";
    actions.push({ action: "deploy.production", data: { release: n, window } });
  }
  for (const request of actions) {
    const decision = await ctx.propose(request);
    if (decision.outcome === "approved") {
      ctx.submit("ops", request.action, decision.proposal.data, { approval: decision.seal });
    }
  }
}

export function setup(agent, { config, workload }) {
  const privileged = config.privileged ?? {};
  const tasks = Number(workload.tasks ?? 200);
  const impossibleEvery = Number(workload.impossibleEvery ?? 40);
  const workMs = Number(workload.workMs ?? 4);
  const budget = Number(workload.budget ?? 100);

  switch (agent.role) {
    case "architect":
      // once(): after a crash and restart the plan is not made twice; only
      // what was not yet sent is sent. Each task's budget goes into escrow.
      agent.onStart((ctx) =>
        ctx.once(`plan-${tasks}`, async (plan) => {
          for (let n = 0; n < tasks; n++) {
            const module = MODULES[n % MODULES.length];
            const impossible = impossibleEvery > 0 && n % impossibleEvery === impossibleEvery - 1;
            const spec = impossible
              ? `make ${module} both synchronous and asynchronous`
              : `add input validation to ${module} endpoint #${n}`;
            await plan.delegate("developer", "code", { n, module, spec, impossible }, { budget });
          }
        }),
      );
      // A change failed its audit (its escrow came back): delegate it again.
      agent.handle("redo", async (ctx) => {
        await ctx.delegate("developer", "code", ctx.body, { budget });
      });
      break;

    case "developer":
      agent.handle("code", async (ctx) => {
        const { n, module, spec, impossible } = ctx.body;
        // Pay for the (simulated) model call before doing the work: an
        // agent that cannot pay fails closed, and one that drops below its
        // minimum balance is halted.
        await ctx.spend({ kind: "llm", model: "sim-small", inputTokens: 400, outputTokens: 100 });
        await sleep(1 + Math.floor(draw(`${ctx.task.id}:work`) * workMs));
        if (impossible) throw new Error(`cannot implement "${spec}": contradictory requirements`);
        // A flaky developer may fail a task's first two deliveries (so the
        // retries show) but never the last two of its four: which developer
        // takes a delivery is up to the queue, and the run's counts should
        // not depend on that luck.
        const flakiness = Number(ctx.options.flakiness ?? 0);
        if (ctx.attempt <= 2 && draw(`${ctx.task.id}:${ctx.attempt}:${ctx.agentId}`) < flakiness) {
          throw new Error(`${ctx.agentId} lost its train of thought on task ${n}`);
        }
        const body = ctx.options.hallucinates
          ? `return eval(input); // trust me`
          : `return input != null;`;
        const code = `export function validate${module}${n}(input) { ${body} }`;
        ctx.effect("code.written", `${ctx.root}:${ctx.task.id}`, {
          by: ctx.agentId,
          bytes: code.length,
        });
        ctx.submit("sentinel", "scan", { n, module, spec, code, author: ctx.agentId });
      });
      break;

    case "sentinel":
      agent.handle("scan", (ctx) => {
        const { code } = ctx.body;
        const findings = /\beval\(|child_process/.test(code) ? ["dangerous call"] : [];
        ctx.submit("auditor", "audit", {
          ...ctx.body,
          findings,
          digest: createHash("sha256").update(code).digest("hex"),
        });
      });
      break;

    case "auditor":
      agent.handle("audit", async (ctx) => {
        const { n, module, spec, author, findings } = ctx.body;
        const verdict = findings.length === 0 ? "pass" : "fail";
        // Settle the delegation's escrow: paid to the author, or refunded.
        if (ctx.escrow) await ctx.settle(verdict, author);
        ctx.effect("review.audited", `${ctx.root}:${ctx.task.id}`, { n, author, verdict });
        if (verdict === "pass") {
          ctx.finish({ verdict, author });
          await proposeActions(ctx, privileged, n, author);
          // Every fourth pass gets a second review, bought at auction (the
          // task type's settings are under tasks.review in swarm.yaml).
          if (config.tasks?.review && n % 4 === 0) {
            await ctx.auction("review", { n, module, author });
          }
        } else {
          ctx.submit("architect", "redo", { n, module, spec, impossible: false, failedBy: author });
        }
      });
      break;

    case "reviewer":
      // Asks its price (and states its quality) on every call for a review,
      // except every seventh change, which nobody wants.
      agent.bid((cfp) => {
        if (cfp.item?.body?.n % 7 === 0) return undefined;
        return {
          price: Number(agent.options.ask ?? 30),
          criteria: { quality: Number(agent.options.quality ?? 0.5) },
        };
      });
      agent.handle("review", (ctx) => {
        ctx.effect("review.second", ctx.task.id, { n: ctx.body.n, by: ctx.agentId });
      });
      break;

    case "ops":
      // Privileged: the runtime runs these only with the seal of an approval
      // of exactly this action and data (else dead-letters them).
      agent.handle("funds.transfer", (ctx) => {
        ctx.effect("funds.transferred", ctx.task.id, ctx.body);
      });
      agent.handle("deploy.production", (ctx) => {
        ctx.effect("release.deployed", `release-${ctx.body.release}`, ctx.body);
      });
      break;

    case "council":
      if (agent.options.byzantine) {
        // A Byzantine voter: it forges the auditor's vote (its own signature
        // under the auditor's name) and votes twice, differently. The rounds
        // refuse all of it and keep it as evidence in the sealed decision.
        agent.vote((proposal, vote) => {
          const victim = proposal.rule.voters.find((v) => v.role === "auditor")?.id ?? "auditor";
          vote.send({ ...vote.sign("reject", "forged"), from: victim });
          vote.send(vote.sign("approve", "first thoughts"));
          vote.send(vote.sign("reject", "second thoughts"));
          return null;
        });
      }
      break;

    default:
      break;
  }
}
