/**
 * A member whose handler returns nothing: `ctx.call` gives `undefined` on
 * the first run, but the step journal keeps it as JSON (`null`), so a
 * redelivered task reads `null`. The ensemble must see the same answers on
 * both runs: otherwise the judge's journaled choice ("B") names another
 * candidate on redelivery (the letters shifted) and the task is decided
 * with another answer than the one the judge chose.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import type { TaskContext } from "../../src/runtime/context.js";
import { ensembleHandler, ensembleSpec } from "../../src/runtime/ensemble.js";

const agents = [
  { id: "desk-1", role: "desk" },
  { id: "w-a", role: "role-a" },
  { id: "w-b", role: "role-b" },
  { id: "w-c", role: "role-c" },
  { id: "judge-1", role: "judges" },
];

type Candidate = { key: string; answer: unknown };

test("a member that answered nothing: a redelivered judged task is decided as its first run", async () => {
  const ensembles = buildEnsembles({
    summarise: { members: ["w-a", "w-b", "w-c"], judge: "judge-1", weights: "equal" },
  } as never);
  const spec = ensembleSpec("summarise", ensembles["summarise"] as never, agents);
  // The step journal, as the store keeps it: JSON, `undefined` as null.
  const journal = new Map<string, unknown>();
  const run = async () => {
    const decided: unknown[] = [];
    const ctx = {
      task: { id: "01JD3Q0Z6C2S3V7X8Y9Z0A1B2C", type: "summarise" },
      body: { text: "the incident" },
      step: async (name: string, fn: () => Promise<unknown>) => {
        if (journal.has(name)) return journal.get(name);
        const result = await fn();
        journal.set(name, result === undefined ? null : JSON.parse(JSON.stringify(result)));
        return result;
      },
      call: (role: string, _task: string, body: unknown, options: { step: string }) =>
        ctx.step(options.step, async () => {
          if (role === "role-a") return "disk full";
          if (role === "role-b") return undefined; // a handler that returns nothing
          if (role === "role-c") return "disk full after log rotation failed";
          // The judge picks the answer that names the root cause.
          const { candidates } = body as { candidates: Candidate[] };
          const best = candidates.find((c) => c.answer === "disk full after log rotation failed");
          return { choice: best?.key, reasons: "names the root cause" };
        }),
      effect: (_kind: string, _key: string, data: unknown) => decided.push(data),
      emit: () => undefined,
      finish: () => undefined,
    } as unknown as TaskContext;
    const answer = await ensembleHandler(spec, {} as never)(ctx);
    return { answer, decided: decided[0] as { record: { result: { member: string } } } };
  };
  const first = await run();
  assert.equal(first.answer, "disk full after log rotation failed");
  // Redelivered (a crash before the task committed): every step replays from the journal.
  const second = await run();
  assert.equal(second.answer, first.answer);
  assert.equal(second.decided.record.result.member, first.decided.record.result.member);
  assert.deepEqual(
    JSON.parse(JSON.stringify(second.decided)),
    JSON.parse(JSON.stringify(first.decided)),
  );
});
