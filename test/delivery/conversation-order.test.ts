import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type ConversationOrderer,
  type ConversationOrdererConfig,
  createConversationOrderer,
  type OrderOutput,
  type OrderReport,
} from "../../src/delivery/conversation-order.js";
import { ConfigError, OrderingError } from "../../src/errors/index.js";

const runs = { numRuns: 300 };

interface Msg {
  readonly conv: string;
  readonly seq: number;
  readonly id: number;
}

function seqsOf(out: OrderOutput<Msg>): number[] {
  return out.deliver.map((m) => m.seq);
}

function kinds(reports: readonly OrderReport[]): string[] {
  return reports.map((r) => r.kind);
}

/** Seqs 0..n-1, each once, plus `extra` repeats, in the order `order` picks. */
const permutationWithDuplicates = fc
  .integer({ min: 0, max: 40 })
  .chain((n) =>
    fc.tuple(fc.constant(n), fc.array(fc.nat(Math.max(0, n - 1)), { maxLength: n === 0 ? 0 : 20 })),
  )
  .chain(([n, extra]) => {
    const all = [...Array.from({ length: n }, (_, i) => i), ...extra];
    return fc.tuple(
      fc.constant(n),
      fc.constant(extra.length),
      fc.shuffledSubarray(all, { minLength: all.length }),
    );
  });

describe("conversation ordering: properties", () => {
  it("delivers any permutation with duplicates, inside the gap timeout, as 0..n-1 once each", () => {
    fc.assert(
      fc.property(permutationWithDuplicates, ([n, duplicates, order]) => {
        const orderer = createConversationOrderer<Msg>({
          gapTimeoutMs: 1_000,
          maxBufferedPerConversation: 64,
        });
        const delivered: number[] = [];
        const reports: OrderReport[] = [];
        order.forEach((seq, i) => {
          const out = orderer.push({ conv: "c", seq, value: { conv: "c", seq, id: i } }, i);
          delivered.push(...seqsOf(out));
          reports.push(...out.reports);
          // Nothing is due yet, so a tick now must not give up on anything.
          const idle = orderer.tick(i);
          assert.deepEqual(idle.deliver, []);
          assert.deepEqual(idle.reports, []);
        });
        assert.deepEqual(
          delivered,
          Array.from({ length: n }, (_, i) => i),
        );
        assert.equal(reports.length, duplicates);
        assert.ok(reports.every((r) => r.kind === "duplicate" && r.conv === "c"));
        assert.equal(orderer.stats().buffered, 0);
        assert.equal(orderer.stats().duplicates, duplicates);
        assert.equal(orderer.nextDeadline(), undefined);
      }),
      runs,
    );
  });

  it("gives up on missing seqs after the gap timeout and delivers the rest in order", () => {
    const scenario = fc
      .integer({ min: 1, max: 40 })
      .chain((n) =>
        fc.subarray(
          Array.from({ length: n }, (_, i) => i),
          { minLength: 1 },
        ),
      )
      .chain((kept) =>
        fc.tuple(
          fc.constant(kept),
          fc.array(fc.constantFrom(...kept), { maxLength: 10 }),
          fc.integer({ min: 0, max: 500 }),
        ),
      )
      .chain(([kept, extra, gapTimeoutMs]) =>
        fc.tuple(
          fc.constant(kept),
          fc.constant(extra.length),
          fc.constant(gapTimeoutMs),
          fc.shuffledSubarray([...kept, ...extra], { minLength: kept.length + extra.length }),
        ),
      );
    fc.assert(
      fc.property(scenario, ([kept, duplicates, gapTimeoutMs, order]) => {
        const orderer = createConversationOrderer<Msg>({
          gapTimeoutMs,
          maxBufferedPerConversation: 64,
        });
        const delivered: number[] = [];
        const reports: OrderReport[] = [];
        const collect = (out: OrderOutput<Msg>) => {
          delivered.push(...seqsOf(out));
          reports.push(...out.reports);
        };
        order.forEach((seq, i) => {
          collect(orderer.push({ conv: "c", seq, value: { conv: "c", seq, id: i } }, 0));
        });
        const deadline = orderer.nextDeadline();
        if (deadline !== undefined) {
          assert.equal(deadline, gapTimeoutMs);
          collect(orderer.tick(deadline - 1));
        }
        collect(orderer.tick(gapTimeoutMs));

        assert.deepEqual(delivered, kept);
        assert.equal(kinds(reports).filter((k) => k === "duplicate").length, duplicates);
        const skipped: number[] = [];
        for (const r of reports) {
          if (r.kind !== "gap-skipped") continue;
          assert.equal(r.reason, "timeout");
          for (let s = r.from; s <= r.to; s++) skipped.push(s);
        }
        const top = kept[kept.length - 1]!;
        const missing = Array.from({ length: top }, (_, i) => i).filter((s) => !kept.includes(s));
        assert.deepEqual(skipped, missing);
        assert.equal(orderer.stats().buffered, 0);
        assert.equal(orderer.nextDeadline(), undefined);
      }),
      runs,
    );
  });

  type Step =
    | {
        readonly op: "push";
        readonly conv: string | undefined;
        readonly seq: number;
        readonly dt: number;
      }
    | { readonly op: "tick"; readonly dt: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant("push" as const),
        conv: fc.constantFrom("a", "b", "c", "d", undefined),
        seq: fc.nat(9),
        dt: fc.nat(40),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("tick" as const), dt: fc.nat(120) }) },
  );

  const config: fc.Arbitrary<ConversationOrdererConfig> = fc.record({
    gapTimeoutMs: fc.nat(100),
    maxBufferedPerConversation: fc.nat(4),
    maxConversations: fc.integer({ min: 1, max: 5 }),
    firstSeq: fc.constantFrom(0 as const, "first-seen" as const),
  });

  /** What the test knows about one incarnation of a conversation (reset on eviction). */
  interface Epoch {
    readonly start: number;
    last: number;
    readonly delivered: Set<number>;
    readonly skipped: Set<number>;
    /** Pushed, neither delivered nor refused yet: what the orderer must be holding. */
    readonly pending: Map<number, { id: number; arrivedAt: number }>;
  }

  it("in any interleaving: order, exactly once, nothing silently dropped, bounded, on time", () => {
    fc.assert(
      fc.property(config, fc.array(step, { minLength: 10, maxLength: 150 }), (cfg, steps) => {
        const orderer: ConversationOrderer<Msg> = createConversationOrderer<Msg>(cfg);
        const epochs = new Map<string, Epoch>();
        const deliveredIds = new Set<number>();
        const refusedIds = new Set<number>();
        let pushed = 0;
        let now = 0;

        const absorb = (out: OrderOutput<Msg>) => {
          for (const m of out.deliver) {
            assert.ok(!deliveredIds.has(m.id), `id ${m.id} delivered twice`);
            assert.ok(!refusedIds.has(m.id), `id ${m.id} delivered after being refused`);
            deliveredIds.add(m.id);
            if (m.conv === "") continue;
            const epoch = epochs.get(m.conv)!;
            assert.ok(m.seq > epoch.last, `${m.conv}: ${m.seq} delivered after ${epoch.last}`);
            assert.ok(!epoch.skipped.has(m.seq));
            assert.equal(epoch.pending.get(m.seq)?.id, m.id);
            epoch.pending.delete(m.seq);
            epoch.delivered.add(m.seq);
            epoch.last = m.seq;
          }
          for (const r of out.reports) {
            if (r.kind === "gap-skipped") {
              const epoch = epochs.get(r.conv)!;
              assert.ok(r.from <= r.to);
              for (let s = r.from; s <= r.to; s++) {
                assert.ok(
                  !epoch.delivered.has(s) && !epoch.skipped.has(s) && !epoch.pending.has(s),
                );
                epoch.skipped.add(s);
              }
            } else if (r.kind === "evicted") {
              const epoch = epochs.get(r.conv)!;
              assert.equal(epoch.pending.size, 0, "eviction must flush, not drop");
              assert.equal(r.next, Math.max(epoch.start, epoch.last + 1));
              epochs.delete(r.conv);
            }
          }
        };

        for (const s of steps) {
          now += s.dt;
          if (s.op === "tick") {
            const deadline = orderer.nextDeadline();
            const out = orderer.tick(now);
            if (deadline === undefined || deadline > now) {
              assert.deepEqual(out, { deliver: [], reports: [] }, "tick before the deadline");
            }
            absorb(out);
          } else if (s.conv === undefined) {
            const id = pushed++;
            const out = orderer.push({ seq: s.seq, value: { conv: "", seq: s.seq, id } }, now);
            assert.deepEqual(
              out.deliver.map((m) => m.id),
              [id],
            );
            assert.deepEqual(out.reports, []);
            absorb(out);
          } else {
            const id = pushed++;
            const known = epochs.get(s.conv);
            const wasKnown = known?.delivered.has(s.seq) || known?.pending.has(s.seq);
            const out = orderer.push(
              { conv: s.conv, seq: s.seq, value: { conv: s.conv, seq: s.seq, id } },
              now,
            );
            // A new epoch starts once eviction reports (inside `out`) are applied.
            const evictedFirst = out.reports.some((r) => r.kind === "evicted" && r.conv === s.conv);
            assert.ok(!evictedFirst, "the conversation being pushed is never the one evicted");
            let epoch = epochs.get(s.conv);
            if (epoch === undefined) {
              const start = cfg.firstSeq === "first-seen" ? s.seq : 0;
              epoch = {
                start,
                last: start - 1,
                delivered: new Set(),
                skipped: new Set(),
                pending: new Map(),
              };
              epochs.set(s.conv, epoch);
            }
            const refusal = out.reports.find(
              (r) => (r.kind === "duplicate" || r.kind === "regression") && r.conv === s.conv,
            );
            if (refusal === undefined) {
              assert.ok(!wasKnown, `${s.conv}/${s.seq} accepted twice`);
              epoch.pending.set(s.seq, { id, arrivedAt: now });
            } else {
              refusedIds.add(id);
              assert.equal(refusal.kind, wasKnown ? "duplicate" : "regression");
              assert.ok(
                refusal.kind === "duplicate" || s.seq < epoch.start || epoch.skipped.has(s.seq),
              );
            }
            absorb(out);
          }

          // Bounded memory.
          const stats = orderer.stats();
          assert.ok(stats.conversations <= (cfg.maxConversations ?? Number.POSITIVE_INFINITY));
          let pendingTotal = 0;
          let earliest = Number.POSITIVE_INFINITY;
          for (const epoch of epochs.values()) {
            assert.ok(epoch.pending.size <= cfg.maxBufferedPerConversation);
            pendingTotal += epoch.pending.size;
            for (const p of epoch.pending.values()) earliest = Math.min(earliest, p.arrivedAt);
          }
          assert.equal(stats.buffered, pendingTotal);
          // Nothing waits past its gap timeout once tick has been called.
          const expectedDeadline = pendingTotal === 0 ? undefined : earliest + cfg.gapTimeoutMs;
          assert.equal(orderer.nextDeadline(), expectedDeadline);
          if (s.op === "tick") assert.ok(expectedDeadline === undefined || expectedDeadline > now);
        }

        absorb(orderer.tick(now + cfg.gapTimeoutMs));
        assert.equal(orderer.stats().buffered, 0);
        assert.equal(orderer.nextDeadline(), undefined);
        // Every pushed item was delivered or refused with a report, never both.
        assert.equal(deliveredIds.size + refusedIds.size, pushed);
        // Within each live epoch, delivered and skipped seqs tile the range without holes.
        for (const epoch of epochs.values()) {
          for (let s = epoch.start; s <= epoch.last; s++) {
            assert.ok(epoch.delivered.has(s) !== epoch.skipped.has(s), `hole or overlap at ${s}`);
          }
        }
      }),
      runs,
    );
  });
});

describe("conversation ordering: policies", () => {
  const msg = (conv: string, seq: number) => ({ conv, seq, value: `${conv}${seq}` });

  it("follows the documented example", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 5_000,
      maxBufferedPerConversation: 1_000,
    });
    assert.deepEqual(orderer.push({ conv: "c1", seq: 1, value: "world" }, 0).deliver, []);
    assert.deepEqual(orderer.push({ conv: "c1", seq: 0, value: "hello" }, 10).deliver, [
      "hello",
      "world",
    ]);
    assert.deepEqual(orderer.push({ conv: "c1", seq: 3, value: "late" }, 20).deliver, []);
    assert.equal(orderer.nextDeadline(), 5_020);
    assert.deepEqual(orderer.tick(5_019), { deliver: [], reports: [] });
    assert.deepEqual(orderer.tick(5_020), {
      deliver: ["late"],
      reports: [{ kind: "gap-skipped", conv: "c1", from: 2, to: 2, reason: "timeout" }],
    });
  });

  it("passes items without a conversation straight through", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 10,
      maxBufferedPerConversation: 4,
    });
    orderer.push(msg("c", 3), 0);
    assert.deepEqual(orderer.push({ value: "plain" }, 1), { deliver: ["plain"], reports: [] });
    assert.deepEqual(orderer.push({ seq: 7, value: "no-conv" }, 2).deliver, ["no-conv"]);
    assert.equal(orderer.stats().passedThrough, 2);
    assert.equal(orderer.stats().conversations, 1);
  });

  it("tells a redelivered message (duplicate) from one that came after its gap was given up (regression)", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
    });
    orderer.push(msg("c", 0), 0);
    orderer.push(msg("c", 2), 0);
    assert.deepEqual(orderer.push(msg("c", 2), 1).reports, [
      { kind: "duplicate", conv: "c", seq: 2 },
    ]);
    assert.deepEqual(orderer.tick(100).deliver, ["c2"]);
    assert.deepEqual(orderer.push(msg("c", 1), 150), {
      deliver: [],
      reports: [{ kind: "regression", conv: "c", seq: 1, expected: 3 }],
    });
    assert.deepEqual(orderer.push(msg("c", 0), 160).reports, [
      { kind: "duplicate", conv: "c", seq: 0 },
    ]);
    const stats = orderer.stats();
    assert.equal(stats.duplicates, 2);
    assert.equal(stats.regressions, 1);
    assert.equal(stats.gapsSkipped, 1);
    assert.equal(stats.seqsSkipped, 1);
  });

  it("delivers a missing message that arrives late but before the next tick", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
    });
    orderer.push(msg("c", 1), 0);
    assert.deepEqual(orderer.push(msg("c", 0), 500).deliver, ["c0", "c1"]);
  });

  it("on overflow gives up on the first gap at once and keeps the buffer bounded", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 1_000,
      maxBufferedPerConversation: 2,
    });
    orderer.push(msg("c", 2), 0);
    orderer.push(msg("c", 3), 0);
    assert.deepEqual(orderer.push(msg("c", 5), 0), {
      deliver: ["c2", "c3"],
      reports: [
        { kind: "overflow", conv: "c", seq: 5 },
        { kind: "gap-skipped", conv: "c", from: 0, to: 1, reason: "overflow" },
      ],
    });
    assert.equal(orderer.stats().buffered, 1);
    assert.deepEqual(orderer.push(msg("c", 4), 1).deliver, ["c4", "c5"]);
  });

  it("on overflow by a seq below everything buffered delivers that one first", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 1_000,
      maxBufferedPerConversation: 2,
    });
    orderer.push(msg("c", 5), 0);
    orderer.push(msg("c", 6), 0);
    const out = orderer.push(msg("c", 2), 0);
    assert.deepEqual(out.deliver, ["c2"]);
    assert.deepEqual(out.reports[1], {
      kind: "gap-skipped",
      conv: "c",
      from: 0,
      to: 1,
      reason: "overflow",
    });
    assert.equal(orderer.stats().buffered, 2);
  });

  it("with a zero buffer never waits", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 1_000,
      maxBufferedPerConversation: 0,
    });
    assert.deepEqual(orderer.push(msg("c", 3), 0).deliver, ["c3"]);
    assert.equal(orderer.nextDeadline(), undefined);
  });

  it('starts from the first seq seen with firstSeq "first-seen"', () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
      firstSeq: "first-seen",
    });
    assert.deepEqual(orderer.push(msg("c", 40), 0).deliver, ["c40"]);
    assert.deepEqual(orderer.push(msg("c", 42), 0).deliver, []);
    assert.deepEqual(orderer.push(msg("c", 41), 0).deliver, ["c41", "c42"]);
    assert.deepEqual(orderer.push(msg("c", 39), 0).reports, [
      { kind: "regression", conv: "c", seq: 39, expected: 43 },
    ]);
  });

  it("evicts the least recently used idle conversation before a waiting one", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
      maxConversations: 3,
    });
    orderer.push(msg("waiting", 1), 0);
    orderer.push(msg("old", 0), 1);
    orderer.push(msg("recent", 0), 2);
    assert.deepEqual(orderer.push(msg("new", 0), 3), {
      deliver: ["new0"],
      reports: [{ kind: "evicted", conv: "old", next: 1, flushed: 0 }],
    });
    assert.equal(orderer.stats().conversations, 3);
    assert.equal(orderer.stats().waitingConversations, 1);
  });

  it("when every conversation waits, flushes the least recently used one in order", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
      maxConversations: 2,
    });
    orderer.push(msg("a", 3), 0);
    orderer.push(msg("a", 1), 0);
    orderer.push(msg("b", 1), 1);
    assert.deepEqual(orderer.push(msg("c", 0), 2), {
      deliver: ["a1", "a3", "c0"],
      reports: [
        { kind: "gap-skipped", conv: "a", from: 0, to: 0, reason: "evicted" },
        { kind: "gap-skipped", conv: "a", from: 2, to: 2, reason: "evicted" },
        { kind: "evicted", conv: "a", next: 4, flushed: 2 },
      ],
    });
    assert.equal(orderer.stats().buffered, 1);
    assert.equal(orderer.nextDeadline(), 101);
  });

  it("opens an evicted conversation afresh when a late message of it arrives", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
      maxConversations: 1,
    });
    orderer.push(msg("a", 0), 0);
    orderer.push(msg("a", 1), 0);
    orderer.push(msg("b", 0), 1);
    // "a" was forgotten: seq 1 is a repeat, but looks new and waits for seq 0.
    assert.deepEqual(orderer.push(msg("a", 1), 2).deliver, []);
    assert.deepEqual(orderer.tick(102).deliver, ["a1"]);
  });

  it("treats time that runs backwards as the latest time seen", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
    });
    orderer.push(msg("c", 1), 1_000);
    orderer.push(msg("c", 2), 10);
    assert.equal(orderer.nextDeadline(), 1_100);
    assert.deepEqual(orderer.tick(50).deliver, []);
    assert.deepEqual(orderer.tick(1_100).deliver, ["c1", "c2"]);
  });

  it("rejects bad input with a typed error and leaves the state untouched", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 100,
      maxBufferedPerConversation: 8,
    });
    for (const seq of [-1, 1.5, Number.NaN, undefined]) {
      assert.throws(() => orderer.push({ conv: "c", seq, value: "x" }, 0), OrderingError);
    }
    assert.throws(() => orderer.push(msg("c", 0), Number.NaN), OrderingError);
    assert.throws(() => orderer.tick(Number.POSITIVE_INFINITY), OrderingError);
    assert.equal(orderer.stats().conversations, 0);
    assert.deepEqual(orderer.push(msg("c", 0), 0).deliver, ["c0"]);
  });

  it("rejects an invalid config", () => {
    const bad: ConversationOrdererConfig[] = [
      { gapTimeoutMs: -1, maxBufferedPerConversation: 1 },
      { gapTimeoutMs: Number.NaN, maxBufferedPerConversation: 1 },
      { gapTimeoutMs: 1, maxBufferedPerConversation: -1 },
      { gapTimeoutMs: 1, maxBufferedPerConversation: 1.5 },
      { gapTimeoutMs: 1, maxBufferedPerConversation: 1, maxConversations: 0 },
    ];
    for (const config of bad) assert.throws(() => createConversationOrderer(config), ConfigError);
  });

  it("with an infinite gap timeout waits until overflow and never schedules a tick", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: Number.POSITIVE_INFINITY,
      maxBufferedPerConversation: 1,
    });
    orderer.push(msg("c", 1), 0);
    assert.equal(orderer.nextDeadline(), undefined);
    assert.deepEqual(orderer.tick(1e15).deliver, []);
    assert.deepEqual(orderer.push(msg("c", 2), 1).deliver, ["c1", "c2"]);
  });

  it("keeps the right deadline when stale ones are shed because pushes far outpace ticks", () => {
    const orderer = createConversationOrderer<string>({
      gapTimeoutMs: 50,
      maxBufferedPerConversation: 4,
      maxConversations: 100,
    });
    orderer.push(msg("slow", 1), 0);
    // Each round opens a gap in every conversation and closes it again,
    // leaving a stale deadline behind each time.
    for (let round = 0; round < 200; round++) {
      for (let c = 0; c < 20; c++) {
        orderer.push(msg(`c${c}`, 2 * round + 1), round);
        orderer.push(msg(`c${c}`, 2 * round), round);
      }
    }
    assert.equal(orderer.stats().delivered, 8_000);
    assert.equal(orderer.nextDeadline(), 50);
    assert.deepEqual(orderer.tick(200).deliver, ["slow1"]);
    assert.equal(orderer.nextDeadline(), undefined);
  });
});
