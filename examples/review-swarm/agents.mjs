// Handlers of the review swarm. Plain JavaScript with no imports, so it runs
// wherever conclave is installed. Each agent gets its handlers in setup().
import { createHash } from "node:crypto";

/** A stable number in [0, 1) from a string: the demo is deterministic. */
function draw(text) {
  return createHash("sha256").update(text).digest().readUInt32BE(0) / 2 ** 32;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const MODULES = ["auth", "billing", "search", "profile", "inbox", "reports", "admin", "export"];

export function setup(agent, { workload }) {
  const tasks = Number(workload.tasks ?? 200);
  const impossibleEvery = Number(workload.impossibleEvery ?? 40);
  const workMs = Number(workload.workMs ?? 4);

  switch (agent.role) {
    case "architect":
      // once(): after a crash and restart the plan is not made twice; only
      // what was not yet sent is sent.
      agent.onStart((ctx) =>
        ctx.once(`plan-${tasks}`, (plan) => {
          for (let n = 0; n < tasks; n++) {
            const module = MODULES[n % MODULES.length];
            const impossible = impossibleEvery > 0 && n % impossibleEvery === impossibleEvery - 1;
            plan.submit("developer", "code", {
              n,
              module,
              spec: impossible
                ? `make ${module} both synchronous and asynchronous`
                : `add input validation to ${module} endpoint #${n}`,
              impossible,
            });
          }
        }),
      );
      break;

    case "developer":
      agent.handle("code", async (ctx) => {
        const { n, module, spec, impossible } = ctx.body;
        await sleep(1 + Math.floor(draw(`${ctx.task.id}:work`) * workMs));
        if (impossible) throw new Error(`cannot implement "${spec}": contradictory requirements`);
        const flakiness = Number(ctx.options.flakiness ?? 0);
        if (draw(`${ctx.task.id}:${ctx.attempt}:${ctx.agentId}`) < flakiness) {
          throw new Error(`${ctx.agentId} lost its train of thought on task ${n}`);
        }
        const code = `export function validate${module}${n}(input) { return input != null; }`;
        ctx.effect("code.written", ctx.root, { by: ctx.agentId, bytes: code.length });
        ctx.submit("sentinel", "scan", { n, module, code, author: ctx.agentId });
      });
      break;

    case "sentinel":
      agent.handle("scan", (ctx) => {
        const { n, code, author } = ctx.body;
        const findings = /\beval\(|child_process/.test(code) ? ["dangerous call"] : [];
        ctx.submit("auditor", "audit", {
          n,
          author,
          findings,
          digest: createHash("sha256").update(code).digest("hex"),
        });
      });
      break;

    case "auditor":
      agent.handle("audit", (ctx) => {
        const { n, author, findings } = ctx.body;
        const verdict = findings.length === 0 ? "pass" : "fail";
        ctx.effect("review.audited", ctx.root, { n, author, verdict });
        ctx.finish({ verdict });
      });
      break;

    default:
      break;
  }
}
