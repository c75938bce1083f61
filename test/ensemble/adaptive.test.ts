import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type AdaptiveConfig,
  type AdaptiveOutcome,
  createAdaptivePlan,
  labelsAgree,
  type MemberReply,
  numbersWithin,
} from "../../src/ensemble/index.js";
import { ConfigError } from "../../src/errors/index.js";

const members = [
  { id: "clf-large", cost: 40 },
  { id: "clf-small-2", cost: 3 },
  { id: "clf-small-1", cost: 2 },
];

/**
 * Runs a plan to the end, answering each asked member with `answerOf`, and
 * returns whom it asked, round by round, and the outcome.
 */
function drive<T>(
  config: AdaptiveConfig<T>,
  answerOf: (member: string) => T | Error,
): { rounds: string[][]; outcome: AdaptiveOutcome<T> } {
  const plan = createAdaptivePlan(config);
  const replies: MemberReply<T>[] = [];
  const rounds: string[][] = [];
  for (let guard = 0; guard < 100; guard++) {
    const step = plan.next(replies);
    if (step.kind === "done") return { rounds, outcome: step.outcome };
    assert.equal(step.kind, "ask", "every asked member has replied, so the plan must not wait");
    rounds.push([...step.members]);
    for (const member of step.members) {
      const answer = answerOf(member);
      replies.push(
        answer instanceof Error ? { member, error: answer.message } : { member, answer },
      );
    }
  }
  throw new Error("the plan never finished");
}

describe("adaptive asking", () => {
  it("asks the two cheapest, and nobody else when they agree", () => {
    const { rounds, outcome } = drive(
      { members, start: 2, addOnDisagreement: true, maxMembers: 3, agree: labelsAgree },
      () => "billing",
    );
    assert.deepEqual(rounds, [["clf-small-1", "clf-small-2"]]);
    assert.equal(outcome.agreed, true);
    assert.equal(outcome.callsSaved, 1);
    assert.equal(outcome.costSaved, 40);
    assert.deepEqual(outcome.asked, ["clf-small-1", "clf-small-2"]);
  });

  it("adds the next cheapest on disagreement, up to maxMembers", () => {
    const { rounds, outcome } = drive(
      { members, start: 2, addOnDisagreement: true, maxMembers: 3, agree: labelsAgree },
      (m) => (m === "clf-small-2" ? "outage" : "billing"),
    );
    assert.deepEqual(rounds, [["clf-small-1", "clf-small-2"], ["clf-large"]]);
    assert.equal(outcome.agreed, false);
    assert.equal(outcome.answers.length, 3);
    assert.equal(outcome.callsSaved, 0);
    assert.equal(outcome.costSaved, 0);
  });

  it("stops at the first round on disagreement without addOnDisagreement", () => {
    const { rounds, outcome } = drive(
      { members, start: 2, addOnDisagreement: false, agree: labelsAgree },
      (m) => m,
    );
    assert.deepEqual(rounds, [["clf-small-1", "clf-small-2"]]);
    assert.equal(outcome.agreed, false);
  });

  it("replaces a member that failed, so that agreement still needs `start` answers", () => {
    const { rounds, outcome } = drive(
      { members, start: 2, addOnDisagreement: false, agree: labelsAgree },
      (m) => (m === "clf-small-1" ? new Error("timeout") : "billing"),
    );
    assert.deepEqual(rounds, [["clf-small-1", "clf-small-2"], ["clf-large"]]);
    assert.equal(outcome.agreed, true);
    assert.deepEqual(outcome.failures, [{ member: "clf-small-1", error: "timeout" }]);
  });

  it("waits for members asked but not yet replied, and ignores replies from others", () => {
    const plan = createAdaptivePlan({
      members,
      start: 2,
      addOnDisagreement: true,
      agree: labelsAgree,
    });
    assert.deepEqual(plan.order, ["clf-small-1", "clf-small-2", "clf-large"]);
    assert.deepEqual(plan.next([{ member: "clf-small-1", answer: "x" }]), {
      kind: "wait",
      members: ["clf-small-2"],
    });
    assert.deepEqual(plan.next([{ member: "clf-large", answer: "x" }]), {
      kind: "ask",
      members: ["clf-small-1", "clf-small-2"],
    });
  });

  it("treats numbers within the tolerance as agreement", () => {
    const agree = numbersWithin(0.5);
    const estimates: Record<string, number> = {
      "clf-small-1": 3,
      "clf-small-2": 3.4,
      "clf-large": 9,
    };
    const { rounds } = drive(
      { members, start: 2, addOnDisagreement: true, agree },
      (m) => estimates[m] as number,
    );
    assert.equal(rounds.length, 1);
    assert.throws(() => numbersWithin(-1), ConfigError);
  });

  it("puts members without a cost last and refuses bad configurations", () => {
    const plan = createAdaptivePlan({
      members: [{ id: "b" }, { id: "a" }, { id: "c", cost: 9 }],
      start: 1,
      addOnDisagreement: true,
      agree: labelsAgree,
    });
    assert.deepEqual(plan.order, ["c", "a", "b"]);
    const bad = (config: Partial<AdaptiveConfig<string>>) =>
      assert.throws(
        () =>
          createAdaptivePlan({
            members,
            start: 2,
            addOnDisagreement: true,
            agree: labelsAgree,
            ...config,
          }),
        ConfigError,
      );
    bad({ members: [] });
    bad({ members: [{ id: "a" }, { id: "a" }] });
    bad({ start: 0 });
    bad({ start: 3, maxMembers: 2 });
    bad({ maxMembers: 4 });
    bad({ step: 0 });
    bad({ start: 1.5 });
  });

  const scenario = fc
    .record({
      costs: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 8 }),
      addOnDisagreement: fc.boolean(),
    })
    .chain(({ costs, addOnDisagreement }) =>
      fc.record({
        costs: fc.constant(costs),
        addOnDisagreement: fc.constant(addOnDisagreement),
        maxMembers: fc.integer({ min: 1, max: costs.length }),
        labels: fc.array(fc.constantFrom("a", "b", "c"), {
          minLength: costs.length,
          maxLength: costs.length,
        }),
        failing: fc.array(fc.boolean(), { minLength: costs.length, maxLength: costs.length }),
      }),
    )
    .chain((s) =>
      fc.record({
        s: fc.constant(s),
        start: fc.integer({ min: 1, max: s.maxMembers }),
        step: fc.integer({ min: 1, max: s.maxMembers }),
      }),
    );

  /** The plan configuration of a generated scenario: member `m<i>` costs `costs[i]`. */
  const configOf = (
    s: { costs: number[]; addOnDisagreement: boolean; maxMembers: number },
    start: number,
    step: number,
  ): AdaptiveConfig<string> => ({
    members: s.costs.map((cost, i) => ({ id: `m${i}`, cost })),
    start,
    step,
    addOnDisagreement: s.addOnDisagreement,
    maxMembers: s.maxMembers,
    agree: labelsAgree,
  });

  it("never asks anyone beyond `start` when the first `start` members agree (property)", () => {
    fc.assert(
      fc.property(scenario, ({ s, start, step }) => {
        const config = configOf(s, start, step);
        const order = createAdaptivePlan(config).order;
        const firstAsked = new Set(order.slice(0, start));
        const { rounds, outcome } = drive(config, (m) => (firstAsked.has(m) ? "same" : "other"));
        assert.deepEqual(rounds, [order.slice(0, start)]);
        assert.equal(outcome.agreed, true);
        assert.equal(outcome.callsSaved, s.maxMembers - start);
      }),
      { numRuns: 500 },
    );
  });

  it("asks a prefix of the members by cost, each once, never more than maxMembers (property)", () => {
    fc.assert(
      fc.property(scenario, ({ s, start, step }) => {
        const config = configOf(s, start, step);
        const { rounds, outcome } = drive(config, (m) => {
          const i = Number(m.slice(1));
          return s.failing[i] ? new Error("down") : (s.labels[i] as string);
        });
        const asked = rounds.flat();
        assert.equal(new Set(asked).size, asked.length);
        assert.ok(asked.length <= s.maxMembers);
        assert.deepEqual(outcome.asked, asked);
        const costs = asked.map((m) => s.costs[Number(m.slice(1))] as number);
        assert.deepEqual(
          costs,
          [...costs].sort((a, b) => a - b),
        );
        const cheapestUnasked = Math.min(...s.costs.filter((_, i) => !asked.includes(`m${i}`)));
        assert.ok(Math.max(...costs) <= cheapestUnasked);
        assert.equal(outcome.answers.length + outcome.failures.length, asked.length);
        if (outcome.agreed) assert.ok(outcome.answers.length >= start);
      }),
      { numRuns: 500 },
    );
  });

  it("asks about 2.1 members per task at a 90 % agreement rate with start 2 of 3", () => {
    let calls = 0;
    const tasks = 1000;
    for (let t = 0; t < tasks; t++) {
      const disagree = t % 10 === 0;
      const { outcome } = drive(
        { members, start: 2, addOnDisagreement: true, maxMembers: 3, agree: labelsAgree },
        (m) => (disagree && m === "clf-small-2" ? "outage" : "billing"),
      );
      calls += outcome.asked.length;
    }
    assert.equal(calls / tasks, 2.1);
  });
});
