/**
 * The review pipeline's handlers. `conclave up swarm.yaml` imports this
 * module and calls `setup(agent, context)` once for each agent of the swarm
 * file.
 */
import type { Agent, SetupContext } from "conclave";

/** The body of a `review` task: one change. */
export interface Change {
  readonly id: number;
  readonly title: string;
  readonly lines: number;
  readonly diff: string;
}

/** What a root task (one change) is finished with. */
export interface Verdict {
  readonly change: number;
  readonly merged: boolean;
  readonly reason: string;
}

/** The change the lead submits as number `n` (deterministic). */
export function change(n: number): Change {
  return {
    id: n,
    title: `change #${n}`,
    lines: n % 4 === 0 ? 900 : 40 * n,
    diff: n % 5 === 0 ? "const x = eval(input);" : `export const answer${n} = ${n};`,
  };
}

/** What a reviewer finds wrong with a change; empty when it passes. */
export function findings(c: Change): string[] {
  return /\beval\(/.test(c.diff) ? ["calls eval()"] : [];
}

export function setup(agent: Agent, { workload }: SetupContext): void {
  const changes = Number(workload["changes"] ?? 6);
  switch (agent.role) {
    case "lead":
      agent.onStart((ctx) =>
        ctx.once(`changes-${changes}`, (plan) => {
          for (let n = 1; n <= changes; n++) plan.submit<Change>("reviewer", "review", change(n));
        }),
      );
      break;
    case "reviewer":
      agent.handle<Change>("review", async (ctx) => {
        const found = findings(ctx.body);
        ctx.effect("change.reviewed", String(ctx.body.id), { findings: found });
        if (found.length > 0) {
          ctx.finish({
            change: ctx.body.id,
            merged: false,
            reason: found.join(", "),
          } satisfies Verdict);
          return;
        }
        // Merging is privileged: it needs a sealed approval of exactly this data.
        const decision = await ctx.propose({
          action: "change.merge",
          data: { change: ctx.body.id, lines: ctx.body.lines },
        });
        if (decision.outcome === "approved") {
          ctx.submit("merger", "change.merge", decision.proposal.data, { approval: decision.seal });
        } else {
          ctx.finish({
            change: ctx.body.id,
            merged: false,
            reason: `merge ${decision.outcome}`,
          } satisfies Verdict);
        }
      });
      break;
    case "merger":
      // The runtime runs this only with the seal of an approval of this data.
      agent.handle<{ change: number; lines: number }>("change.merge", async (ctx) => {
        ctx.effect("change.merged", String(ctx.body.change), ctx.body);
        ctx.finish({ change: ctx.body.change, merged: true, reason: "approved" } satisfies Verdict);
      });
      break;
  }
}
