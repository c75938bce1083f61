/**
 * An ensemble's task that a retry could not help is dead-lettered at once,
 * not run again up to `maxDeliver` times:
 *
 * - A judge whose own task is dead-lettered (`ChildTaskFailedError` is
 *   permanent: a retry would ask the same child task and find the same
 *   dead letter). ENSEMBLES.md said it was retried like a failing handler.
 * - Members that all answered something the rule cannot use (empty labels
 *   for a vote): `NoUsableAnswersError`, a retry replaying the same
 *   journaled answers. It was not permanent, so the task ran `maxDeliver`
 *   times for nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import { PermanentError } from "../../src/errors/index.js";
import type { Agent } from "../../src/runtime/agent.js";
import { ensembleHandler, ensembleSpec } from "../../src/runtime/ensemble.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

/**
 * A desk agent coordinating the ensemble of `task` over members `wa` and
 * `wb` (roles `w-a`, `w-b`), plus `extra` roles; `setup` adds the members'
 * handlers. Submits one task and waits for its dead letter: its reason,
 * and how often the desk's handler ran.
 */
async function deadLetteredOnce(
  task: string,
  ensemble: Record<string, unknown>,
  setup: (swarm: Swarm) => void,
  options: { readonly extra?: Record<string, { tasks: string[] }>; readonly maxDeliver: number },
): Promise<{ reason: string; runs: number; decided: number }> {
  const t = createTestSwarm({
    roles: {
      lead: {},
      desk: { tasks: [task] },
      "w-a": { tasks: [task] },
      "w-b": { tasks: [task] },
      ...options.extra,
    },
    defaults: {
      ackWaitMs: 5000,
      maxDeliver: options.maxDeliver,
      backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
    },
  });
  try {
    const { swarm } = t;
    const agents = [
      { id: "lead", role: "lead" },
      { id: "desk-1", role: "desk" },
      { id: "wa", role: "w-a" },
      { id: "wb", role: "w-b" },
      ...Object.keys(options.extra ?? {}).map((role) => ({ id: `${role}-1`, role })),
    ];
    const ensembles = buildEnsembles({ [task]: ensemble } as never);
    const spec = ensembleSpec(task, ensembles[task] as never, agents);
    swarm.agent({ id: "lead", role: "lead" });
    setup(swarm);
    const inner = ensembleHandler(spec, swarm.store);
    let runs = 0;
    swarm.agent({ id: "desk-1", role: "desk" }).handle(task, (ctx) => {
      runs++;
      return inner(ctx);
    });
    await swarm.start();
    const taskId = await swarm.submit("desk", task, { text: "?" }, { as: "lead" });
    await until(
      async () => (await swarm.store.deadLetters()).some((d) => d.id === taskId),
      10_000,
      "the desk's task dead-lettered",
    );
    const dead = (await swarm.store.deadLetters()).find((d) => d.id === taskId);
    const decided = (await swarm.store.effects("ensemble.decided")).length;
    return { reason: dead?.reason ?? "", runs, decided };
  } finally {
    await t.cleanup();
  }
}

const member = (swarm: Swarm, id: string, role: string): Agent => swarm.agent({ id, role });

test("a dead-lettered judge dead-letters the ensemble's task at once", async () => {
  const { reason, runs, decided } = await deadLetteredOnce(
    "extract",
    { members: ["wa", "wb"], judge: "judges-1", weights: "equal" },
    (swarm) => {
      member(swarm, "wa", "w-a").handle("extract", () => "billing");
      member(swarm, "wb", "w-b").handle("extract", () => "tech");
      member(swarm, "judges-1", "judges").handle("ensemble.judge", () => {
        throw new PermanentError("the judge's model is gone");
      });
    },
    { extra: { judges: { tasks: ["ensemble.judge"] } }, maxDeliver: 3 },
  );
  assert.match(reason, /dead-lettered/);
  assert.equal(runs, 1, "not retried");
  assert.equal(decided, 0);
});

test("members with no usable answer: the ensemble's task is dead-lettered at once", async () => {
  const { reason, runs } = await deadLetteredOnce(
    "classify",
    { members: ["wa", "wb"], combine: "weighted-vote", weights: "equal" },
    (swarm) => {
      member(swarm, "wa", "w-a").handle("classify", () => "");
      member(swarm, "wb", "w-b").handle("classify", () => "");
    },
    { maxDeliver: 4 },
  );
  assert.match(reason, /none of the 2 answer\(s\) could be used/);
  assert.equal(runs, 1, "not retried");
});

/**
 * Members whose tasks all died: the reason says why each gave nothing. It
 * used to read "no member answered; ask at least one member before
 * combining", which names neither the members nor their failures.
 */
test("members whose tasks all died: the reason names each member's failure", async () => {
  const { reason, runs } = await deadLetteredOnce(
    "classify",
    { members: ["wa", "wb"], combine: "weighted-vote", weights: "equal" },
    (swarm) => {
      member(swarm, "wa", "w-a").handle("classify", () => {
        throw new PermanentError("wa's model is gone");
      });
      member(swarm, "wb", "w-b").handle("classify", () => {
        throw new PermanentError("wb's key was revoked");
      });
    },
    { maxDeliver: 4 },
  );
  assert.match(reason, /every one asked failed/);
  assert.match(reason, /wa: .*wa's model is gone/);
  assert.match(reason, /wb: .*wb's key was revoked/);
  assert.equal(runs, 1, "not retried");
});
