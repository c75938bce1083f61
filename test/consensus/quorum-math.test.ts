import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type QuorumCounts,
  type QuorumStatus,
  quorumStatus,
  resolveOutcome,
  thresholdUnits,
  toRational,
  toWeightUnits,
  WEIGHT_SCALE,
} from "../../src/consensus/quorum-math.js";
import type { Outcome, VoteChoice } from "../../src/consensus/types.js";
import { ConfigError } from "../../src/errors/index.js";

const u = toWeightUnits;

/** A small electorate: per voter its weight (micro-units), whether it holds a veto, and its vote so far. */
interface Scenario {
  readonly voters: readonly {
    readonly units: number;
    readonly veto: boolean;
    readonly vote: VoteChoice | undefined;
  }[];
  readonly threshold: number;
}

const scenario: fc.Arbitrary<Scenario> = fc
  .array(
    fc.record({
      // Decimal weights with up to one decimal place, as in the seed (2.5, 1.0, …), plus zero.
      units: fc.integer({ min: 0, max: 40 }).map((tenths) => u(tenths / 10)),
      veto: fc.boolean(),
      vote: fc.option(fc.constantFrom<VoteChoice>("approve", "reject", "abstain"), {
        nil: undefined,
      }),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .chain((voters) => {
    const total = voters.reduce((sum, v) => sum + v.units, 0);
    return fc
      .integer({ min: 1, max: Math.max(1, total + u(1)) })
      .map((threshold) => ({ voters, threshold }));
  });

function countsOf(s: Scenario): QuorumCounts {
  let approve = 0;
  let reject = 0;
  let abstain = 0;
  let pending = 0;
  let vetoed = false;
  let vetoPending = false;
  for (const v of s.voters) {
    if (v.vote === undefined) {
      pending += v.units;
      if (v.veto) vetoPending = true;
    } else if (v.vote === "approve") approve += v.units;
    else if (v.vote === "reject") {
      reject += v.units;
      if (v.veto) vetoed = true;
    } else abstain += v.units;
  }
  return { approve, reject, abstain, pending, threshold: s.threshold, vetoed, vetoPending };
}

/** The final outcome of a fully voted electorate. */
function finalOutcome(s: Scenario): "approved" | "rejected" | "vetoed" {
  const c = countsOf(s);
  if (c.vetoed) return "vetoed";
  return c.approve >= c.threshold ? "approved" : "rejected";
}

/** Every way the pending voters could still vote. */
function completions(s: Scenario): Scenario[] {
  let out: Scenario[] = [{ ...s, voters: [] }];
  for (const v of s.voters) {
    const choices: VoteChoice[] =
      v.vote === undefined ? ["approve", "reject", "abstain"] : [v.vote];
    out = out.flatMap((partial) =>
      choices.map((vote) => ({ ...partial, voters: [...partial.voters, { ...v, vote }] })),
    );
  }
  return out;
}

function bruteForce(s: Scenario): QuorumStatus {
  if (countsOf(s).vetoed) return "vetoed";
  const finals = new Set(completions(s).map(finalOutcome));
  if (finals.size === 1 && finals.has("approved")) return "approved";
  if (!finals.has("approved")) return "rejected";
  return "pending";
}

describe("quorum math: exact weights", () => {
  test("the seed's weights add up exactly: 2.5 + 1.5 reaches 4.0", () => {
    assert.equal(u(2.5) + u(1.5), u(4));
    assert.equal(
      quorumStatus({
        approve: u(2.5) + u(1.5),
        reject: 0,
        abstain: 0,
        pending: u(3),
        threshold: u(4),
      }),
      "approved",
    );
    // In floats 0.1 + 0.2 misses 0.3; in micro-units it does not.
    assert.notEqual(0.1 + 0.2, 0.3);
    assert.equal(u(0.1) + u(0.2), u(0.3));
  });

  test("sums of decimal weights do not depend on the order they are added in", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 30 }),
        fc.integer(),
        (millionths, shuffleSeed) => {
          const weights = millionths.map((m) => m / WEIGHT_SCALE);
          const forward = weights.reduce((sum, w) => sum + u(w), 0);
          const shuffled = [...weights].sort(
            (a, b) => ((a * 7919 + shuffleSeed) % 13) - ((b * 7919 + shuffleSeed) % 13),
          );
          const other = shuffled.reduce((sum, w) => sum + u(w), 0);
          assert.equal(forward, other);
          assert.equal(
            forward,
            millionths.reduce((a, b) => a + b, 0),
          );
        },
      ),
    );
  });

  test("invalid weights are configuration errors", () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 1e20]) {
      assert.throws(() => u(bad), ConfigError);
    }
    assert.throws(
      () => quorumStatus({ approve: 0.5, reject: 0, abstain: 0, pending: 0, threshold: 1 }),
      /micro-units/,
    );
  });
});

describe("quorum math: thresholds", () => {
  test("fractions are read as the simplest rational", () => {
    assert.deepEqual(toRational(2 / 3), [2, 3]);
    assert.deepEqual(toRational(0.7), [7, 10]);
    assert.deepEqual(toRational(0.5), [1, 2]);
    assert.deepEqual(toRational(1), [1, 1]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (a, b) => {
        const [n, d] = a <= b ? [a, b] : [b, a];
        const g = gcd(n, d);
        assert.deepEqual(toRational(n / d), [n / g, d / g]);
      }),
    );
  });

  test("a fractional threshold is the exact ceiling of fraction × total", () => {
    assert.equal(thresholdUnits({ fraction: 2 / 3 }, u(7)), 4_666_667);
    assert.equal(thresholdUnits({ fraction: 0.5 }, u(4)), u(2));
    assert.equal(thresholdUnits({ fraction: 0.5, strict: true }, u(4)), u(2) + 1);
    assert.equal(thresholdUnits({ weight: 4 }, u(100)), u(4));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.boolean(),
        (a, b, total, rawApprove, strict) => {
          const [n, d] = a <= b ? [a, b] : [b, a];
          const approve = rawApprove % (total + 1);
          const t = thresholdUnits({ fraction: n / d, strict }, total);
          const lhs = BigInt(approve) * BigInt(d);
          const rhs = BigInt(n) * BigInt(total);
          assert.equal(approve >= t, strict ? lhs > rhs : lhs >= rhs);
        },
      ),
    );
  });

  test("meaningless thresholds are refused", () => {
    assert.throws(() => thresholdUnits({ fraction: 0 }, 10), ConfigError);
    assert.throws(() => thresholdUnits({ fraction: 1.5 }, 10), ConfigError);
    assert.throws(() => thresholdUnits({ weight: 0 }, 10), ConfigError);
  });
});

describe("quorum math: the decision rule", () => {
  test("matches brute force over every completion of the pending votes", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        assert.equal(quorumStatus(countsOf(s)), bruteForce(s));
      }),
      { numRuns: 2000 },
    );
  });

  test("never decides early wrongly: a decided status holds in every completion", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const status = quorumStatus(countsOf(s));
        if (status === "pending") return;
        for (const done of completions(s)) {
          const final = finalOutcome(done);
          if (status === "approved") assert.equal(final, "approved");
          else assert.notEqual(final, "approved");
        }
      }),
      { numRuns: 1000 },
    );
  });

  test("is monotonic: once decided, more votes never change approval into non-approval or back", () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(fc.constantFrom<VoteChoice>("approve", "reject", "abstain"), {
          minLength: 6,
          maxLength: 6,
        }),
        (s, later) => {
          let current = s;
          let decided: QuorumStatus | undefined;
          let next = 0;
          for (;;) {
            const status = quorumStatus(countsOf(current));
            if (decided === undefined && status !== "pending") decided = status;
            if (decided !== undefined) {
              assert.notEqual(status, "pending");
              assert.equal(status === "approved", decided === "approved");
            }
            const index = current.voters.findIndex((v) => v.vote === undefined);
            if (index < 0) break;
            const vote = later[next++ % later.length] as VoteChoice;
            current = {
              ...current,
              voters: current.voters.map((v, i) => (i === index ? { ...v, vote } : v)),
            };
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("at the deadline an open round ends no-quorum, unless only a silent veto holder was missing", () => {
    const open = { approve: u(2), reject: 0, abstain: 0, pending: u(5), threshold: u(4) };
    assert.equal(resolveOutcome(open, false), undefined);
    assert.equal(resolveOutcome(open, true), "no-quorum");
    const waitingForVeto = { ...open, approve: u(4), pending: u(1), vetoPending: true };
    assert.equal(resolveOutcome(waitingForVeto, false), undefined);
    assert.equal(resolveOutcome(waitingForVeto, true), "approved");
    const outcomes: (Outcome | undefined)[] = [
      resolveOutcome({ ...open, vetoed: true }, true),
      resolveOutcome({ ...open, pending: u(1) }, true),
    ];
    assert.deepEqual(outcomes, ["vetoed", "rejected"]);
  });
});

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
