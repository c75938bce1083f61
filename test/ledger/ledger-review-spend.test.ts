/**
 * Spend reports key lines by agent id and model name, both chosen by users:
 * an agent called "constructor" (a valid agent id) or a model called
 * "toString" gets its own line, not Object.prototype's member read as one
 * (which made `conclave ledger` fail with a bogus overflow).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { operations, summarizeSpend } from "../../src/ledger/index.js";

describe("ledger review: spend lines named like Object members", () => {
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    test(`an agent and a model named ${name} are summed like any other`, () => {
      const report = summarizeSpend([
        operations.fee("f1", name, 5, 1, { kind: "llm", model: name, units: 100 }),
        operations.fee("f2", name, 7, 2, { kind: "llm", model: name, units: 50 }),
        operations.fee("f3", "dev-1", 1, 3, { kind: "tool" }),
      ]);
      assert.equal(report.total, 13);
      assert.ok(Object.hasOwn(report.agents, name));
      assert.deepEqual(report.agents[name], { credits: 12, operations: 2, units: 150 });
      assert.deepEqual(report.models[name], { credits: 12, operations: 2, units: 150 });
      assert.deepEqual(report.models["(tool)"], { credits: 1, operations: 1, units: 0 });
      assert.deepEqual(Object.keys(report.agents).sort(), [name, "dev-1"].sort());
    });
  }
});
