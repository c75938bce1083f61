/**
 * A member's ask that fails because the coordinating task itself was stopped
 * (its deadline passed, the node stopped: `ctx.call` rejects with the
 * signal's error) is not that member's failure. The ensemble must stop with
 * the task, not ask a replacement member (a paid model call for nothing)
 * and commit a decision made from fewer answers. Only a member whose child
 * task was dead-lettered (`ChildTaskFailedError`) counts as failed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import { ChildTaskFailedError, ClosedError, TimeoutError } from "../../src/errors/index.js";
import type { TaskContext } from "../../src/runtime/context.js";
import { ensembleHandler, ensembleSpec } from "../../src/runtime/ensemble.js";

const agents = [
  { id: "triage-1", role: "triage" },
  { id: "a-1", role: "clf-a" },
  { id: "b-1", role: "clf-b" },
  { id: "c-1", role: "clf-c" },
];

function setUp(bFails: () => Error) {
  const ensembles = buildEnsembles({
    classify: {
      members: ["a-1", "b-1", "c-1"],
      adaptive: { start: 2, addOnDisagreement: true },
      weights: "equal",
    },
  } as never);
  const spec = ensembleSpec("classify", ensembles["classify"] as never, agents);
  const asked: string[] = [];
  const effects: unknown[] = [];
  const ctx = {
    task: { id: "01JD3Q0Z6C2S3V7X8Y9Z0A1B2C", type: "classify" },
    body: { text: "my card was charged twice" },
    step: (_name: string, fn: () => Promise<unknown>) => fn(),
    call: async (role: string) => {
      asked.push(role);
      if (role === "clf-b") throw bFails();
      return "billing";
    },
    effect: (...args: unknown[]) => effects.push(args),
    emit: () => undefined,
    finish: () => undefined,
  } as unknown as TaskContext;
  return { handler: ensembleHandler(spec, {} as never), ctx, asked, effects };
}

for (const [name, error] of [
  ["the task's deadline passed", () => new TimeoutError("task passed its deadline")],
  ["the node stopped", () => new ClosedError("stopped waiting for task x: its waiter was aborted")],
] as const) {
  test(`a member ask cut short because ${name} stops the ensemble, asks nobody else, decides nothing`, async () => {
    const { handler, ctx, asked, effects } = setUp(error);
    const thrown = error();
    await assert.rejects(
      async () => handler(ctx),
      (err: unknown) => err instanceof Error && err.constructor === thrown.constructor,
    );
    assert.deepEqual(asked, ["clf-a", "clf-b"], "no replacement member asked");
    assert.equal(effects.length, 0, "no ensemble.decided committed");
  });
}

test("a member whose child task was dead-lettered still counts as failed: a replacement is asked", async () => {
  const { handler, ctx, asked, effects } = setUp(
    () => new ChildTaskFailedError("01JD3Q0Z6C2S3V7X8Y9Z0A1B2D", "handler threw"),
  );
  assert.equal(await handler(ctx), "billing");
  assert.deepEqual(asked, ["clf-a", "clf-b", "clf-c"]);
  assert.equal(effects.length, 1);
});
