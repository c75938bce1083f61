/**
 * The stacking combiner's replies in the runtime:
 *
 * - The combiner's answer must be of the members' kind: a finite number when
 *   the members answered numbers. A member that returned nothing (replayed
 *   as `null`) is no candidate the combiner is shown, yet its `null` counted
 *   as a kind of its own ("object"), so beside it the numeric check was
 *   skipped and the combiner's prose ("about four") became the ensemble's
 *   answer to a numeric task.
 * - An answer the validator refuses is asked again with `previousError`; the
 *   validator's reason ("answer a finite number") was only in the error's
 *   `cause`, so the combiner was told "the validator refused the answer"
 *   and nothing it could fix.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import {
  CombinerRepliesUnusableError,
  CombinerReplyError,
  parseStackingAnswer,
} from "../../src/ensemble/index.js";
import { PermanentError } from "../../src/errors/index.js";
import type { TaskContext } from "../../src/runtime/context.js";
import {
  type CombinerQuestion,
  ensembleHandler,
  ensembleSpec,
} from "../../src/runtime/ensemble.js";

const agents = [
  { id: "desk-1", role: "desk" },
  { id: "a-1", role: "est-a" },
  { id: "b-1", role: "est-b" },
  { id: "c-1", role: "est-c" },
  { id: "comb-1", role: "combiners" },
];

/** One estimate task: members answer `memberAnswers`, the combiner `combinerReplies` in turn. */
async function stack(
  memberAnswers: Record<string, unknown>,
  combinerReplies: readonly unknown[],
): Promise<{ answer: unknown; asked: CombinerQuestion[] }> {
  const ensembles = buildEnsembles({
    estimate: { members: ["a-1", "b-1", "c-1"], combiner: "comb-1", weights: "equal" },
  } as never);
  const spec = ensembleSpec("estimate", ensembles["estimate"] as never, agents);
  const asked: CombinerQuestion[] = [];
  const ctx = {
    task: {
      id: "01JD3Q0Z6C2S3V7X8Y9Z0A1B2C",
      type: "estimate",
      corr: "01JD3Q0Z6C2S3V7X8Y9Z0A1B2X",
    },
    body: { text: "how many story points?" },
    step: (_name: string, fn: () => Promise<unknown>) => fn(),
    call: async (role: string, _task: string, body: unknown) => {
      if (role === "combiners") {
        asked.push(body as CombinerQuestion);
        return combinerReplies[asked.length - 1];
      }
      return memberAnswers[role];
    },
    effect: () => undefined,
    emit: () => undefined,
    finish: () => undefined,
  } as unknown as TaskContext;
  const answer = await ensembleHandler(spec, {} as never)(ctx);
  return { answer, asked };
}

test("stacking: a member that answered nothing does not lift the numeric check on the combiner's answer", async () => {
  const { answer, asked } = await stack({ "est-a": 3, "est-b": undefined, "est-c": 5 }, [
    { answer: "about four" },
    { answer: 4, reason: "between the two" },
  ]);
  assert.equal(asked.length, 2, "asked again: prose is no number");
  assert.deepEqual(
    asked[0]?.candidates.map((c) => c.answer),
    [3, 5],
    "the combiner was shown only numbers",
  );
  assert.match(asked[1]?.previousError ?? "", /finite number/);
  assert.equal(answer, 4);
});

test("stacking: members of mixed kinds still let the combiner answer any non-null value", async () => {
  const { answer, asked } = await stack({ "est-a": 3, "est-b": "three", "est-c": 5 }, [
    { answer: "three" },
  ]);
  assert.equal(asked.length, 1);
  assert.equal(answer, "three");
});

test("stacking: an answer the validator refuses is reported with the validator's reason", () => {
  assert.throws(
    () =>
      parseStackingAnswer({ answer: "about four" }, () => {
        throw new Error("answer a finite number");
      }),
    (err: unknown) =>
      err instanceof CombinerReplyError &&
      /refused the answer "about four": answer a finite number/.test(err.message),
  );
});

/**
 * A combiner whose replies all stay unusable failed the task with a bare
 * `PermanentError` (code `E_PERMANENT`), which a caller cannot tell from any
 * other permanent failure: it is its own class, with the role and the asks.
 */
test("stacking: replies that stay unusable fail the task with CombinerRepliesUnusableError", async () => {
  await assert.rejects(
    stack({ "est-a": 3, "est-b": 4, "est-c": 5 }, ["about four", "still about four"]),
    (err: unknown) =>
      err instanceof CombinerRepliesUnusableError &&
      err instanceof PermanentError &&
      err.code === "E_COMBINER_REPLIES_UNUSABLE" &&
      err.role === "combiners" &&
      err.asks === 2 &&
      err.cause instanceof CombinerReplyError &&
      /ensemble estimate: role "combiners" was asked 2 times \(ensemble\.combine\) and no reply could be used/.test(
        err.message,
      ),
  );
});
