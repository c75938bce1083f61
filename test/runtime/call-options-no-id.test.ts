/**
 * `ctx.call` takes `SubmitOptions`, but the child's id is always derived
 * from the calling task and the step (so a retry never submits it twice):
 * an `id` given in its options was accepted by the types and silently
 * replaced, and a caller waiting on that id (`swarm.wait(id)`) waited for
 * ever. `CallOptions` leaves `id` out, so such a call no longer type-checks
 * (this file is checked by `npm run typecheck`); name the step instead.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CallOptions } from "../../src/runtime/call-options.js";

test("CallOptions has no id: a child's id comes from its step", () => {
  // @ts-expect-error: a call's child id cannot be chosen (use `step`).
  const withId: CallOptions = { id: "01J0000000000000000000000" };
  const withStep: CallOptions = { step: "summarise-1", deadline: 1 };
  assert.ok(withId);
  assert.equal(withStep.step, "summarise-1");
});
