import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  bestOf,
  type MemberAnswer,
  NoUsableAnswersError,
  sameAnswer,
  weightedMean,
  weightedVote,
} from "../../src/ensemble/index.js";
import { ConfigError } from "../../src/errors/index.js";

const near = (actual: number, expected: number, epsilon = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= epsilon, `${actual} is not ${expected}`);

describe("weighted vote", () => {
  it("lets a heavy member outvote two light ones, and records who counted how much", () => {
    const record = weightedVote(
      [
        { member: "clf-small-1", answer: "billing", cost: 2 },
        { member: "clf-small-2", answer: "billing", cost: 3 },
        { member: "clf-large", answer: "outage", cost: 40 },
      ],
      { weights: { "clf-small-1": 0.4, "clf-small-2": 0.4, "clf-large": 0.9 } },
    );
    assert.equal(record.rule, "weighted-vote");
    assert.equal(record.result.label, "outage");
    assert.equal(record.result.tie, false);
    assert.deepEqual(record.result.tiedLabels, ["outage"]);
    near(record.result.tally["billing"] as number, 0.8);
    near(record.agreement, 0.9 / 1.7);
    assert.deepEqual(record.asked, ["clf-small-1", "clf-small-2", "clf-large"]);
    assert.deepEqual(record.weights, { "clf-small-1": 0.4, "clf-small-2": 0.4, "clf-large": 0.9 });
    assert.equal(record.cost, 45);
  });

  it("reports a tie and breaks it by more votes, then by the first label in code-unit order", () => {
    // 0.1 + 0.2 (two votes) against 0.3 (one vote): equal up to rounding, more votes win.
    const byVotes = weightedVote(
      [
        { member: "a", answer: "yes" },
        { member: "b", answer: "yes" },
        { member: "c", answer: "no" },
      ],
      { weights: { a: 0.1, b: 0.2, c: 0.3 } },
    );
    assert.equal(byVotes.result.label, "yes");
    assert.equal(byVotes.result.tie, true);
    assert.deepEqual(byVotes.result.tiedLabels, ["no", "yes"]);
    // One vote each, equal weight: "Zeta" sorts before "alpha" by code units.
    const byLabel = weightedVote([
      { member: "a", answer: "alpha" },
      { member: "b", answer: "Zeta" },
    ]);
    assert.equal(byLabel.result.label, "Zeta");
    assert.equal(byLabel.result.tie, true);
    assert.equal(byLabel.agreement, 0.5);
  });

  it("gives the same winner whatever order the answers arrive in", () => {
    const answer = fc.record({
      member: fc.constantFrom("m1", "m2", "m3", "m4", "m5", "m6"),
      answer: fc.constantFrom("a", "b", "c"),
    });
    const members = fc.constantFrom("m1", "m2", "m3", "m4", "m5", "m6");
    const answersAndPermutation = fc
      .uniqueArray(answer, { selector: (a) => a.member, minLength: 1 })
      .chain((answers) =>
        fc.tuple(
          fc.constant(answers),
          fc.shuffledSubarray(answers, { minLength: answers.length, maxLength: answers.length }),
        ),
      );
    fc.assert(
      fc.property(
        answersAndPermutation,
        fc.dictionary(members, fc.constantFrom(0, 0.1, 0.2, 0.3, 0.5, 1)),
        ([answers, permuted], weights) => {
          const a = weightedVote(answers, { weights });
          const b = weightedVote(permuted, { weights });
          assert.equal(b.result.label, a.result.label);
          assert.equal(b.result.tie, a.result.tie);
          near(b.agreement, a.agreement, 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("leaves out answers that are not labels, and fails only when none is left", () => {
    const record = weightedVote([
      { member: "a", answer: 42 },
      { member: "b", answer: "" },
      { member: "c", answer: "ok" },
    ]);
    assert.equal(record.result.label, "ok");
    assert.deepEqual(
      record.rejected.map((r) => r.member),
      ["a", "b"],
    );
    assert.deepEqual(record.asked, ["a", "b", "c"]);
    assert.throws(
      () => weightedVote([{ member: "a", answer: null }]),
      (err: unknown) =>
        err instanceof NoUsableAnswersError &&
        err.code === "E_NO_USABLE_ANSWERS" &&
        /a: not a non-empty label/.test(err.message),
    );
    assert.throws(() => weightedVote([]), NoUsableAnswersError);
  });

  it("counts a member that answered twice once", () => {
    const record = weightedVote([
      { member: "a", answer: "x" },
      { member: "a", answer: "y" },
      { member: "b", answer: "y" },
      { member: "c", answer: "x" },
    ]);
    assert.equal(record.result.label, "x");
    assert.equal(record.result.tie, false);
    assert.equal(record.rejected[0]?.member, "a");
  });

  it("counts every member 1 when every weight is 0, and refuses a negative weight", () => {
    const record = weightedVote(
      [
        { member: "a", answer: "x" },
        { member: "b", answer: "x" },
        { member: "c", answer: "y" },
      ],
      {
        weights: new Map([
          ["a", 0],
          ["b", 0],
          ["c", 0],
        ]),
      },
    );
    assert.equal(record.result.label, "x");
    assert.deepEqual(record.weights, { a: 1, b: 1, c: 1 });
    assert.throws(
      () => weightedVote([{ member: "a", answer: "x" }], { weights: { a: -1 } }),
      ConfigError,
    );
    assert.throws(
      () => weightedVote([{ member: "a", answer: "x" }], { weights: { a: Number.NaN } }),
      ConfigError,
    );
  });

  it("leaves the cost undefined when no answer was metered", () => {
    assert.equal(weightedVote([{ member: "a", answer: "x" }]).cost, undefined);
  });
});

describe("weighted mean", () => {
  it("computes the textbook mean, weighted variance and effective sample size", () => {
    const record = weightedMean(
      [
        { member: "a", answer: 10 },
        { member: "b", answer: 20 },
      ],
      { weights: { a: 3, b: 1 } },
    );
    near(record.result.mean, 12.5);
    near(record.result.variance, 18.75);
    near(record.result.standardDeviation, Math.sqrt(18.75));
    near(record.result.effectiveSampleSize, 1.6);
    assert.equal(record.agreement, 0);
  });

  it("with equal weights gives the plain mean, the population variance and n", () => {
    const values = [2, 4, 4, 4, 5, 5, 7, 9];
    const record = weightedMean(values.map((answer, i) => ({ member: `m${i}`, answer })));
    near(record.result.mean, 5);
    near(record.result.variance, 4);
    near(record.result.standardDeviation, 2);
    near(record.result.effectiveSampleSize, 8);
  });

  it("measures agreement as the weight within the tolerance of the mean", () => {
    const answers = [
      { member: "a", answer: 10 },
      { member: "b", answer: 11 },
      { member: "c", answer: 30 },
    ];
    const record = weightedMean(answers, { weights: { a: 1, b: 1, c: 0.5 }, tolerance: 5 });
    // mean = (10 + 11 + 15) / 2.5 = 14.4: a and b are within 5, c is not.
    near(record.result.mean, 14.4);
    near(record.agreement, 2 / 2.5);
    assert.throws(() => weightedMean(answers, { tolerance: -1 }), ConfigError);
  });

  it("keeps the mean between the smallest and largest answer and the variance ≥ 0", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            answer: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
            weight: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        (entries) => {
          const answers = entries.map((e, i) => ({ member: `m${i}`, answer: e.answer }));
          const weights = Object.fromEntries(entries.map((e, i) => [`m${i}`, e.weight]));
          const { result } = weightedMean(answers, { weights });
          const xs = entries.map((e) => e.answer);
          const slack = 1e-9 * Math.max(1, ...xs.map(Math.abs));
          assert.ok(
            result.mean >= Math.min(...xs) - slack && result.mean <= Math.max(...xs) + slack,
          );
          assert.ok(result.variance >= 0);
          assert.ok(
            result.effectiveSampleSize >= 1 - 1e-9 &&
              result.effectiveSampleSize <= xs.length + 1e-9,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("leaves out answers that are not finite numbers", () => {
    const record = weightedMean([
      { member: "a", answer: Number.NaN },
      { member: "b", answer: "7" },
      { member: "c", answer: 7 },
    ]);
    assert.equal(record.result.mean, 7);
    assert.equal(record.result.effectiveSampleSize, 1);
    assert.deepEqual(
      record.rejected.map((r) => r.reason),
      ["not a finite number", "not a finite number"],
    );
  });
});

describe("best-of", () => {
  const drafts: MemberAnswer<string>[] = [
    { member: "writer-2", answer: "draft B", cost: 5 },
    { member: "writer-1", answer: "draft A", cost: 5 },
    { member: "writer-3", answer: "draft A", cost: 5 },
  ];

  it("takes the answer the reviewer scored highest", () => {
    const record = bestOf(drafts, { "writer-1": 7, "writer-2": 9, "writer-3": 7 });
    assert.equal(record.result.member, "writer-2");
    assert.equal(record.result.answer, "draft B");
    assert.equal(record.result.score, 9);
    assert.equal(record.result.tie, false);
    near(record.agreement, 1 / 3);
    assert.equal(record.cost, 15);
  });

  it("breaks equal scores by higher weight, then by member id, and says it was a tie", () => {
    const scores = new Map([
      ["writer-1", 8],
      ["writer-2", 8],
      ["writer-3", 8],
    ]);
    const byWeight = bestOf(drafts, scores, { weights: { "writer-3": 0.9 } });
    assert.equal(byWeight.result.member, "writer-3");
    assert.equal(byWeight.result.tie, true);
    assert.deepEqual(byWeight.result.tiedMembers, ["writer-3", "writer-1", "writer-2"]);
    const byId = bestOf(drafts, scores);
    assert.equal(byId.result.member, "writer-1");
    assert.equal(byId.result.answer, "draft A");
    // writer-1 and writer-3 wrote the same draft.
    near(byId.agreement, 2 / 3);
  });

  it("leaves out unscored answers and fails when the reviewer scored none", () => {
    const record = bestOf(drafts, { "writer-1": 3, "writer-2": Number.NaN });
    assert.equal(record.result.member, "writer-1");
    assert.deepEqual(
      record.rejected.map((r) => r.member),
      ["writer-2", "writer-3"],
    );
    assert.throws(() => bestOf(drafts, {}), NoUsableAnswersError);
  });
});

describe("sameAnswer", () => {
  it("compares objects by content whatever their key order", () => {
    assert.ok(sameAnswer({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 }));
    assert.ok(!sameAnswer({ a: 1 }, { a: 2 }));
    assert.ok(!sameAnswer([1, 2], [2, 1]));
    assert.ok(sameAnswer(Number.NaN, Number.NaN));
    assert.ok(!sameAnswer("1", 1));
  });
});
