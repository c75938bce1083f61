/**
 * A handler's result and its effects' data must be plain JSON data. Before,
 * a submitted task whose handler returned a function completed with no
 * result, one returning `{ x: Symbol(), z: NaN }` was stored as
 * `{ z: null }`, and a bigint failed the store commit as a StoreError,
 * retried up to maxDeliver times; a request's result was committed (its
 * effects applied) and only then refused when the reply was encoded. Now the
 * value is checked as the handler hands it over: the task is dead-lettered
 * at its first attempt with `E_NOT_JSON` and the path of the offending
 * value, and nothing of it is committed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import type { TaskOutcome } from "../../src/store/ports/tasks.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";

const cases: readonly [string, () => unknown, RegExp][] = [
  ["a function", () => () => 1, /result is a function/],
  ["a bigint inside", () => ({ n: 10n }), /result\.n is a bigint/],
  ["a symbol and NaN inside", () => ({ x: Symbol("s"), z: Number.NaN }), /result\.x is a symbol/],
  ["a Date", () => new Date(0), /result is a Date, not plain JSON data/],
];

const reasonOf = (outcome: TaskOutcome | undefined) =>
  outcome?.status === "dead_lettered" ? outcome.reason : "";

test("a result or effect data that is not plain JSON: dead-lettered at once with E_NOT_JSON, nothing committed", async () => {
  const swarm = createSwarm({
    name: "nj",
    transport: createMemoryTransport(),
    store: openSqliteStore({ path: ":memory:" }),
    keys: () => generateAgentKeyPair(),
    roles: { lead: {}, w: { tasks: ["bad", "effect", "ask"] } },
    defaults: { maxDeliver: 5, backoff: { baseMs: 5, maxMs: 10, factor: 2, jitter: "none" } },
  });
  let runs = 0;
  let results: readonly (() => unknown)[] = [];
  swarm.agent({ id: "lead", role: "lead" });
  swarm
    .agent({ id: "w1", role: "w" })
    .handle("bad", (ctx) => {
      runs++;
      ctx.effect("touched", ctx.task.id);
      return (results[(ctx.task.body as { i: number }).i] ?? (() => null))() as never;
    })
    .handle("effect", (ctx) => {
      runs++;
      ctx.effect("saved", ctx.task.id, { when: new Date(0) });
    })
    .handle("ask", (ctx) => {
      ctx.effect("asked", ctx.task.id);
      return { n: 1n } as never;
    });
  try {
    await swarm.start();
    results = cases.map(([, make]) => make);
    const ids: string[] = [];
    for (let i = 0; i < cases.length; i++)
      ids.push(await swarm.submit("w", "bad", { i }, { as: "lead" }));
    ids.push(await swarm.submit("w", "effect", {}, { as: "lead" }));
    const dead = async () => (await swarm.store.deadLetters()).length;
    await until(async () => (await dead()) === ids.length, 5000, "every task dead-lettered");
    assert.equal(runs, ids.length, "each ran once: not retried");
    for (const [i, [what, , why]] of cases.entries()) {
      const outcome = await swarm.store.taskOutcome(ids[i] as string);
      assert.equal(outcome?.status, "dead_lettered", what);
      assert.match(reasonOf(outcome), /NotJsonError/, what);
      assert.match(reasonOf(outcome), why, what);
      assert.deepEqual(
        await swarm.store.taskEffects(ids[i] as string),
        [],
        `${what}: no effect applied`,
      );
    }
    const effect = await swarm.store.taskOutcome(ids[cases.length] as string);
    assert.match(
      reasonOf(effect),
      /ctx\.effect\("saved", .*\) must be plain JSON data: data\.when is a Date/,
    );

    // A request: refused to its caller, and nothing committed.
    const before = await swarm.store.completedCount();
    await assert.rejects(
      swarm.request("w", "ask", {}, { as: "lead", timeoutMs: 3000 }),
      /result\.n is a bigint/,
    );
    assert.equal(
      await swarm.store.completedCount(),
      before,
      "the request's result was not committed",
    );
  } finally {
    await swarm.close();
  }
});
