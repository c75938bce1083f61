import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DeadlineQueue } from "../../src/delivery/deadline-queue.js";

function plain(entry: { at: number; key: number } | undefined) {
  return entry === undefined ? undefined : { at: entry.at, key: entry.key };
}

describe("deadline queue", () => {
  it("pops by deadline, ties in insertion order, and retain keeps exactly what it is told", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("push" as const), at: fc.nat(20) }),
      fc.record({ kind: fc.constant("pop" as const) }),
      fc.record({ kind: fc.constant("retain" as const), modulo: fc.integer({ min: 1, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const queue = new DeadlineQueue<number>();
        let model: { at: number; key: number }[] = [];
        let key = 0;
        for (const o of ops) {
          if (o.kind === "push") {
            queue.push(o.at, key);
            model.push({ at: o.at, key: key++ });
            // Stable sort keeps insertion order among equal deadlines.
            model.sort((x, y) => x.at - y.at);
          } else if (o.kind === "pop") {
            assert.deepEqual(plain(queue.peek()), model[0]);
            assert.deepEqual(plain(queue.pop()), model.shift());
          } else {
            queue.retain((k) => k % o.modulo === 0);
            model = model.filter((e) => e.key % o.modulo === 0);
          }
          assert.equal(queue.size, model.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
