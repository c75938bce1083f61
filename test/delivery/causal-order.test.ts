import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type CausalMessage,
  compare,
  createCausalOrderer,
  happenedBefore,
  increment,
  merge,
  type VectorClock,
} from "../../src/delivery/causal-order.js";
import { ConfigError, OrderingError } from "../../src/errors/index.js";

const runs = { numRuns: 300 };

const node = fc.constantFrom("a", "b", "c", "d", "__proto__", "toString");
const clock: fc.Arbitrary<VectorClock> = fc
  .array(fc.tuple(node, fc.nat(5)), { maxLength: 6 })
  .map((entries) => Object.fromEntries(entries));

describe("vector clocks", () => {
  it("merge is commutative, associative, idempotent and an upper bound", () => {
    fc.assert(
      fc.property(clock, clock, clock, (a, b, c) => {
        assert.equal(compare(merge(a, b), merge(b, a)), "equal");
        assert.equal(compare(merge(merge(a, b), c), merge(a, merge(b, c))), "equal");
        assert.equal(compare(merge(a, a), a), "equal");
        assert.notEqual(compare(a, merge(a, b)), "after");
        assert.notEqual(compare(a, merge(a, b)), "concurrent");
      }),
      runs,
    );
  });

  it("compare is antisymmetric and agrees with happenedBefore", () => {
    const flip = { before: "after", after: "before", equal: "equal", concurrent: "concurrent" };
    fc.assert(
      fc.property(clock, clock, (a, b) => {
        assert.equal(compare(b, a), flip[compare(a, b)]);
        assert.equal(happenedBefore(a, b), compare(a, b) === "before");
      }),
      runs,
    );
  });

  it("increment moves a clock strictly after itself", () => {
    fc.assert(
      fc.property(clock, node, (a, n) => {
        const next = increment(a, n);
        assert.equal(compare(next, a), "after");
        assert.ok(happenedBefore(a, next));
        assert.ok(Object.hasOwn(next, n));
      }),
      runs,
    );
  });

  it("treats missing entries as zero and keeps odd node names as data", () => {
    assert.equal(compare({}, { x: 0 }), "equal");
    assert.equal(compare({ a: 1 }, { a: 1, b: 1 }), "before");
    assert.equal(compare({ a: 2 }, { a: 1, b: 1 }), "concurrent");
    const odd = increment(increment({}, "__proto__"), "__proto__");
    assert.equal(Object.getPrototypeOf(odd), Object.prototype);
    assert.deepEqual(Object.entries(odd), [["__proto__", 2]]);
    assert.deepEqual(Object.entries(merge(odd, { constructor: 1 })), [
      ["__proto__", 2],
      ["constructor", 1],
    ]);
    assert.ok(Object.isFrozen(merge({}, {})));
  });
});

interface Sent {
  readonly id: number;
  readonly from: string;
  readonly clock: VectorClock;
  /** Ids of every message that happened before this one (ground truth, not from clocks). */
  readonly history: ReadonlySet<number>;
}

type Action = { readonly actor: number; readonly send: boolean; readonly pick: number };

/**
 * Plays a random history: each process sends (stamping its incremented clock)
 * or receives an arbitrary message of another process (merging its clock),
 * in any order, as happens on a real bus. Causality is tracked separately as
 * explicit sets so the clocks themselves are under test.
 */
function simulate(processes: number, actions: readonly Action[]): Sent[] {
  const names = ["p0", "p1", "p2", "p3", "p4"].slice(0, processes);
  const clocks: VectorClock[] = names.map(() => ({}));
  const known: Set<number>[] = names.map(() => new Set());
  const sent: Sent[] = [];
  for (const { actor, send, pick } of actions) {
    const p = actor % processes;
    const name = names[p]!;
    if (send || sent.length === 0) {
      clocks[p] = increment(clocks[p]!, name);
      const message = {
        id: sent.length,
        from: name,
        clock: clocks[p]!,
        history: new Set(known[p]),
      };
      sent.push(message);
      known[p]!.add(message.id);
    } else {
      const m = sent[pick % sent.length]!;
      clocks[p] = merge(clocks[p]!, m.clock);
      for (const id of m.history) known[p]!.add(id);
      known[p]!.add(m.id);
    }
  }
  return sent;
}

const history = fc
  .record({
    processes: fc.integer({ min: 1, max: 5 }),
    actions: fc.array(fc.record({ actor: fc.nat(4), send: fc.boolean(), pick: fc.nat(1_000) }), {
      maxLength: 60,
    }),
  })
  .map(({ processes, actions }) => simulate(processes, actions));

/** A history, and the order a receiver gets it in: shuffled, with repeats. */
const arrivals = history.chain((sent) =>
  fc.tuple(
    fc.constant(sent),
    fc
      .array(fc.nat(Math.max(0, sent.length - 1)), { maxLength: sent.length === 0 ? 0 : 15 })
      .chain((repeats) =>
        fc.shuffledSubarray([...sent.map((m) => m.id), ...repeats], {
          minLength: sent.length + repeats.length,
        }),
      ),
  ),
);

function toMessage(m: Sent): CausalMessage<Sent> {
  return { from: m.from, clock: m.clock, value: m };
}

function assertCausal(sent: readonly Sent[], order: readonly Sent[]): void {
  assert.deepEqual(
    order.map((m) => m.id).sort((x, y) => x - y),
    sent.map((m) => m.id),
    "every message delivered exactly once",
  );
  const position = new Map(order.map((m, i) => [m.id, i]));
  for (const m of order) {
    for (const before of m.history) {
      assert.ok(position.get(before)! < position.get(m.id)!, `${before} must precede ${m.id}`);
    }
  }
}

describe("causal ordering: properties", () => {
  it("vector clocks capture exactly the happened-before relation of a history", () => {
    fc.assert(
      fc.property(history, (sent) => {
        for (const x of sent) {
          for (const y of sent) {
            assert.equal(happenedBefore(x.clock, y.clock), y.history.has(x.id));
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it("delivers every message of a shuffled causal history once, respecting happened-before", () => {
    fc.assert(
      fc.property(arrivals, ([sent, order]) => {
        const orderer = createCausalOrderer<Sent>({ maxBuffered: 1_000 });
        const delivered: Sent[] = [];
        let duplicates = 0;
        for (const id of order) {
          const out = orderer.push(toMessage(sent[id]!));
          delivered.push(...out.deliver);
          duplicates += out.reports.filter((r) => r.kind === "duplicate").length;
          assert.ok(out.reports.every((r) => r.kind === "duplicate"));
        }
        assertCausal(sent, delivered);
        assert.equal(duplicates, order.length - sent.length);
        assert.equal(orderer.stats().buffered, 0);
        // The receiver has seen all of each sender's messages.
        const counts: Record<string, number> = {};
        for (const m of sent) counts[m.from] = (counts[m.from] ?? 0) + 1;
        assert.equal(compare(orderer.delivered(), counts), "equal");
      }),
      runs,
    );
  });

  it("with a small buffer, refuses what does not fit and still converges once redelivered", () => {
    fc.assert(
      fc.property(arrivals, fc.nat(3), ([sent, order], maxBuffered) => {
        const orderer = createCausalOrderer<Sent>({ maxBuffered });
        const delivered: Sent[] = [];
        // A transport that redelivers what is naked, at the back of the queue.
        const queue = [...order];
        let steps = 0;
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          steps++;
          assert.ok(steps < 20_000, "no progress: redelivery must eventually get through");
          const out = orderer.push(toMessage(sent[id]!));
          delivered.push(...out.deliver);
          if (out.reports.some((r) => r.kind === "overflow")) queue.push(id);
          assert.ok(orderer.stats().buffered <= maxBuffered);
        }
        assertCausal(sent, delivered);
      }),
      runs,
    );
  });
});

describe("causal ordering: behaviour", () => {
  it("follows the documented example", () => {
    const orderer = createCausalOrderer<string>({ self: "me", maxBuffered: 10_000 });
    assert.deepEqual(
      orderer.push({ from: "b", clock: { a: 1, b: 1 }, value: "answer" }).deliver,
      [],
    );
    assert.deepEqual(orderer.push({ from: "a", clock: { a: 1 }, value: "question" }).deliver, [
      "question",
      "answer",
    ]);
    assert.deepEqual(orderer.stampOutgoing(), { a: 1, b: 1, me: 1 });
  });

  it("lets nodes stamp, exchange and echo messages", () => {
    const a = createCausalOrderer<string>({ self: "a", maxBuffered: 10 });
    const b = createCausalOrderer<string>({ self: "b", maxBuffered: 10 });
    const observer = createCausalOrderer<string>({ maxBuffered: 10 });
    const m1 = { from: "a", clock: a.stampOutgoing(), value: "m1" };
    assert.deepEqual(b.push(m1).deliver, ["m1"]);
    const m2 = { from: "b", clock: b.stampOutgoing(), value: "m2" };
    assert.deepEqual(m2.clock, { a: 1, b: 1 });
    assert.deepEqual(observer.push(m2).deliver, []);
    assert.deepEqual(observer.push(m1).deliver, ["m1", "m2"]);
    assert.deepEqual(a.push(m1).reports, [{ kind: "duplicate", from: "a", seq: 1 }]);
    assert.deepEqual(a.push(m2).deliver, ["m2"]);
    assert.deepEqual(a.stampOutgoing(), { a: 2, b: 1 });
  });

  it("reports a message buffered twice as a duplicate", () => {
    const orderer = createCausalOrderer<string>({ maxBuffered: 10 });
    orderer.push({ from: "a", clock: { a: 2 }, value: "second" });
    assert.deepEqual(orderer.push({ from: "a", clock: { a: 2 }, value: "again" }), {
      deliver: [],
      reports: [{ kind: "duplicate", from: "a", seq: 2 }],
    });
    assert.deepEqual(orderer.push({ from: "a", clock: { a: 1 }, value: "first" }).deliver, [
      "first",
      "second",
    ]);
    assert.deepEqual(orderer.stats(), {
      buffered: 0,
      nodes: 1,
      delivered: 2,
      duplicates: 1,
      overflows: 0,
    });
  });

  it("delivers a deliverable message even with a full buffer", () => {
    const orderer = createCausalOrderer<string>({ maxBuffered: 1 });
    orderer.push({ from: "a", clock: { a: 2 }, value: "a2" });
    assert.deepEqual(orderer.push({ from: "b", clock: { b: 2 }, value: "b2" }).reports, [
      { kind: "overflow", from: "b", seq: 2 },
    ]);
    assert.deepEqual(orderer.push({ from: "a", clock: { a: 1 }, value: "a1" }).deliver, [
      "a1",
      "a2",
    ]);
  });

  it("resumes from a persisted delivered vector", () => {
    const first = createCausalOrderer<string>({ maxBuffered: 10 });
    first.push({ from: "a", clock: { a: 1 }, value: "a1" });
    const resumed = createCausalOrderer<string>({ maxBuffered: 10, initial: first.delivered() });
    assert.deepEqual(resumed.push({ from: "a", clock: { a: 1 }, value: "a1" }).reports, [
      { kind: "duplicate", from: "a", seq: 1 },
    ]);
    assert.deepEqual(resumed.push({ from: "b", clock: { a: 1, b: 1 }, value: "b1" }).deliver, [
      "b1",
    ]);
  });

  it("refuses to stamp when others already depend on a message this node never sent", () => {
    const orderer = createCausalOrderer<string>({ self: "me", maxBuffered: 10 });
    orderer.push({ from: "x", clock: { me: 1, x: 1 }, value: "x1" });
    assert.throws(() => orderer.stampOutgoing(), OrderingError);
    assert.deepEqual(orderer.delivered(), {});
    // The lost message itself arriving is the way out.
    assert.deepEqual(orderer.push({ from: "me", clock: { me: 1 }, value: "me1" }).deliver, [
      "me1",
      "x1",
    ]);
    assert.deepEqual(orderer.stampOutgoing(), { me: 2, x: 1 });
  });

  it("rejects malformed messages and configs with typed errors", () => {
    const orderer = createCausalOrderer<string>({ maxBuffered: 10 });
    const bad: CausalMessage<string>[] = [
      { from: "", clock: { a: 1 }, value: "no sender" },
      { from: "a", clock: { b: 1 }, value: "sender did not count itself" },
      { from: "a", clock: { a: 1, b: -1 }, value: "negative" },
      { from: "a", clock: { a: 1.5 }, value: "fraction" },
      { from: "a", clock: null as unknown as VectorClock, value: "no clock" },
    ];
    for (const message of bad) assert.throws(() => orderer.push(message), OrderingError);
    assert.deepEqual(orderer.stats().delivered, 0);
    assert.throws(() => createCausalOrderer({ maxBuffered: -1 }), ConfigError);
    assert.throws(() => createCausalOrderer({ maxBuffered: 1, initial: { a: -1 } }), ConfigError);
    assert.throws(() => createCausalOrderer({ maxBuffered: 1 }).stampOutgoing(), ConfigError);
  });
});
