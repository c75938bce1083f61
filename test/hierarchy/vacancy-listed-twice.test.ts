/**
 * `planVacancyFill` staffs each vacant slot once. A slot listed twice in
 * `vacant` (a caller that appends the slots a re-assignment left unfilled
 * each time it plans) was solved as two slots, and two agents were handed
 * the same slot: both resumed, the role ran one agent more than its slots.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { planVacancyFill } from "../../src/hierarchy/reassignment.js";

it("a vacant slot listed twice is filled by one agent", () => {
  const plan = planVacancyFill(
    [],
    [
      { role: "reviewer", slot: 0 },
      { role: "reviewer", slot: 0 },
    ],
    [
      { id: "rev-1", capabilities: [] },
      { id: "rev-2", capabilities: [] },
    ],
    [{ name: "reviewer", slots: 1 }],
  );
  assert.deepEqual(
    plan.filled.map((f) => [f.role, f.slot]),
    [["reviewer", 0]],
  );
  assert.equal(plan.assignments.length, 1);
  assert.deepEqual(plan.vacant, []);
});
