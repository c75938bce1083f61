import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ProtocolRequirements,
  SELECTION_MATRIX,
  selectProtocol,
} from "../../src/consensus/auto.js";
import type { ProtocolName } from "../../src/consensus/types.js";
import { ConfigError } from "../../src/errors/index.js";

/** [requirements, expected protocol, expected rule, a phrase the reason must contain] */
const CASES: readonly [ProtocolRequirements, ProtocolName, string, RegExp][] = [
  [{ participants: 3, faultTolerance: "byzantine" }, "quorum", "byzantine-too-few", /3f\+1/],
  [{ participants: 4, faultTolerance: "byzantine" }, "pbft", "byzantine-pbft", /survives 1 /],
  [{ participants: 7, faultTolerance: "byzantine" }, "pbft", "byzantine-pbft", /survives 2 /],
  [{ participants: 20, faultTolerance: "byzantine" }, "pbft", "byzantine-pbft", /survives 6 /],
  [
    { participants: 21, faultTolerance: "byzantine" },
    "hierarchical",
    "byzantine-large",
    /beyond PBFT/,
  ],
  [
    { participants: 500, faultTolerance: "byzantine", coordination: "flat" },
    "pbft",
    "byzantine-flat",
    /O\(n²\)/,
  ],
  [
    { participants: 10, faultTolerance: "byzantine", coordination: "hierarchical" },
    "hierarchical",
    "byzantine-large",
    /asked for/,
  ],
  [
    { participants: 3, faultTolerance: "crash", coordination: "hierarchical" },
    "hierarchical",
    "asked-hierarchical",
    /asked for/,
  ],
  [
    { participants: 300, faultTolerance: "crash", coordination: "flat" },
    "quorum",
    "asked-flat",
    /flat/,
  ],
  [{ participants: 2, faultTolerance: "none" }, "quorum", "small", /small team/],
  [{ participants: 5, faultTolerance: "crash" }, "quorum", "small", /one round trip/],
  [
    { participants: 30, faultTolerance: "crash", latencySensitive: true },
    "quorum",
    "latency",
    /latency/,
  ],
  [
    { participants: 6, faultTolerance: "crash" },
    "hierarchical",
    "crash-medium",
    /backup representatives/,
  ],
  [{ participants: 50, faultTolerance: "crash" }, "hierarchical", "crash-medium", /6–50/],
  [{ participants: 51, faultTolerance: "crash" }, "hierarchical", "large", /too many/],
  [{ participants: 80, faultTolerance: "none" }, "quorum", "none-medium", /simplest/],
  [{ participants: 10_000, faultTolerance: "none" }, "hierarchical", "large", /fan-in/],
  [
    { participants: 10_000, faultTolerance: "crash", latencySensitive: true },
    "hierarchical",
    "large",
    /too many/,
  ],
  [
    { participants: 7, faultTolerance: "byzantine", override: "quorum" },
    "quorum",
    "override",
    /explicitly/,
  ],
];

describe("auto protocol selection (seed 002's matrix)", () => {
  for (const [requirements, protocol, rule, reason] of CASES) {
    test(`${JSON.stringify(requirements)} → ${protocol} (${rule})`, () => {
      const choice = selectProtocol(requirements);
      assert.equal(choice.protocol, protocol);
      assert.equal(choice.rule, rule);
      assert.match(choice.reason, reason);
    });
  }

  test("every rule of the matrix fires for some case", () => {
    const fired = new Set(CASES.map(([r]) => selectProtocol(r).rule));
    assert.deepEqual([...fired].sort(), SELECTION_MATRIX.map((r) => r.id).sort());
  });

  test("a custom table can replace the matrix", () => {
    const choice = selectProtocol({ participants: 9, faultTolerance: "crash" }, [
      { id: "always-pbft", when: () => true, protocol: () => "pbft", reason: () => "house rule" },
    ]);
    assert.deepEqual(choice, { protocol: "pbft", rule: "always-pbft", reason: "house rule" });
    assert.throws(
      () => selectProtocol({ participants: 9, faultTolerance: "crash" }, []),
      ConfigError,
    );
  });

  test("participants must be a positive integer", () => {
    for (const participants of [0, -3, 2.5, Number.NaN]) {
      assert.throws(() => selectProtocol({ participants, faultTolerance: "none" }), ConfigError);
    }
  });
});
