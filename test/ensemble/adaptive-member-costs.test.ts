/**
 * An adaptive plan asks its members cheapest first, "members without [a
 * cost] after every priced one". A member whose cost was NaN (a price
 * computed from a missing figure) compared as neither cheaper nor dearer and
 * was asked first, before the cheapest; one priced +∞ tied with the unpriced
 * members and went after them by id. A cost is an expected price: a NaN,
 * negative or infinite one is refused with a ConfigError that names the
 * member.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { createAdaptivePlan, labelsAgree } from "../../src/ensemble/index.js";
import { ConfigError } from "../../src/errors/index.js";

const plan = (members: { id: string; cost?: number }[]) =>
  createAdaptivePlan({ members, start: 1, addOnDisagreement: true, agree: labelsAgree });

it("refuses a member cost that is NaN, negative or infinite, naming the member", () => {
  for (const cost of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () =>
        plan([
          { id: "clf-large", cost },
          { id: "clf-small", cost: 1 },
        ]),
      (err: unknown) => err instanceof ConfigError && /clf-large/.test(err.message),
      `cost ${cost}`,
    );
  }
});

it("asks priced members cheapest first, then the unpriced ones by id", () => {
  assert.deepEqual(
    plan([{ id: "z" }, { id: "b", cost: 1e300 }, { id: "a" }, { id: "c", cost: 0 }]).order,
    ["c", "b", "a", "z"],
  );
});
