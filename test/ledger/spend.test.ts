import assert from "node:assert/strict";
import { test } from "node:test";
import { agentAccount, operations, summarizeSpend } from "../../src/ledger/index.js";

test("spend adds up fee operations per agent and per model, ignoring other kinds", () => {
  const llm = (model: string, units: number) => ({
    kind: "llm",
    model,
    units,
    priceVersion: "2026-11",
  });
  const report = summarizeSpend([
    operations.mint("m", agentAccount("dev-1"), 1000, 0),
    operations.fee("f1", "dev-1", 45, 1, llm("gpt-4o-mini", 1500)),
    operations.fee("f2", "dev-1", 5, 2, llm("llama3", 900)),
    operations.fee("f3", "dev-2", 30, 3, llm("gpt-4o-mini", 1000)),
    operations.fee("f4", "dev-2", 2, 4, { kind: "tool", units: 1 }),
    operations.transfer("t", agentAccount("dev-1"), agentAccount("dev-2"), 7, 5),
  ]);
  assert.equal(report.total, 82);
  assert.deepEqual(report.agents, {
    "dev-1": { credits: 50, operations: 2, units: 2400 },
    "dev-2": { credits: 32, operations: 2, units: 1001 },
  });
  assert.deepEqual(report.models, {
    "gpt-4o-mini": { credits: 75, operations: 2, units: 2500 },
    llama3: { credits: 5, operations: 1, units: 900 },
    "(tool)": { credits: 2, operations: 1, units: 1 },
  });
  assert.deepEqual(summarizeSpend([]), { total: 0, agents: {}, models: {} });
});
