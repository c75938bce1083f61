import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ManualClock } from "../../src/core/clock.js";
import { seededRandom } from "../../src/core/random.js";
import { ConfigError, NoRouteError, PermanentError, TimeoutError } from "../../src/errors/index.js";
import type { AgentCard } from "../../src/registry/index.js";
import {
  AllCandidatesFailedError,
  createRouter,
  type RoutingStrategy,
  routingStrategies,
} from "../../src/routing/index.js";

function card(id: string): AgentCard {
  return { id, role: "reviewer", tags: [], capabilities: [], weight: 1, publicKey: `key-${id}` };
}

const cards = (...idList: string[]) => idList.map(card);
const cardIds = (list: readonly AgentCard[]) => list.map((c) => c.id);

function router(strategy: RoutingStrategy, extra: { clock?: ManualClock; seed?: number } = {}) {
  return createRouter({
    strategy,
    random: seededRandom(extra.seed ?? 1),
    ...(extra.clock === undefined ? {} : { clock: extra.clock }),
  });
}

/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("router: configuration", () => {
  it("rejects an unknown strategy and out-of-range weights", () => {
    const random = seededRandom(1);
    assert.throws(
      () => createRouter({ strategy: "random" as RoutingStrategy, random }),
      ConfigError,
    );
    assert.throws(() => createRouter({ strategy: "reputation", random, alpha: 0 }), ConfigError);
    assert.throws(() => createRouter({ strategy: "reputation", random, alpha: 1.5 }), ConfigError);
    assert.throws(
      () => createRouter({ strategy: "reputation", random, exploration: -0.1 }),
      ConfigError,
    );
    assert.throws(
      () => createRouter({ strategy: "reputation", random, latencyScaleMs: 0 }),
      ConfigError,
    );
  });

  for (const strategy of routingStrategies) {
    it(`${strategy}: returns every candidate once, whatever the input`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.constantFrom("a", "b", "c", "d", "e"), { maxLength: 8 }),
          fc.integer({ min: 1, max: 5 }),
          (idList, calls) => {
            const r = router(strategy);
            const expected = [...new Set(idList)].sort();
            for (let i = 0; i < calls; i++) {
              assert.deepEqual(cardIds(r.order(cards(...idList), "reviewer")).sort(), expected);
            }
          },
        ),
      );
    });
  }
});

describe("router: round-robin", () => {
  it("cycles through the candidates fairly", () => {
    const r = router("round-robin");
    const candidates = cards("c", "a", "b");
    const firsts = Array.from({ length: 9 }, () => r.order(candidates, "reviewer")[0]!.id);
    assert.deepEqual(firsts, ["a", "b", "c", "a", "b", "c", "a", "b", "c"]);
    assert.deepEqual(cardIds(r.order(candidates, "reviewer")), ["a", "b", "c"]);
    assert.deepEqual(cardIds(r.order(candidates, "reviewer")), ["b", "c", "a"]);
  });

  it("keeps a cursor per role", () => {
    const r = router("round-robin");
    assert.equal(r.order(cards("a", "b"), "reviewer")[0]!.id, "a");
    assert.equal(r.order(cards("a", "b"), "writer")[0]!.id, "a");
    assert.equal(r.order(cards("a", "b"), "reviewer")[0]!.id, "b");
  });

  it("stays fair while agents join and leave", () => {
    const r = router("round-robin");
    assert.equal(r.order(cards("a", "b", "c"), "reviewer")[0]!.id, "a");
    assert.equal(r.order(cards("a", "b", "c"), "reviewer")[0]!.id, "b");
    // b leaves: the next after b is still c, not a repeat of a.
    assert.equal(r.order(cards("a", "c"), "reviewer")[0]!.id, "c");
    // a new agent between a and c is reached in its turn.
    assert.equal(r.order(cards("a", "ab", "c"), "reviewer")[0]!.id, "a");
    assert.equal(r.order(cards("a", "ab", "c"), "reviewer")[0]!.id, "ab");
  });

  it("spreads load evenly over many calls", () => {
    const r = router("round-robin");
    const candidates = cards("a", "b", "c", "d", "e", "f", "g");
    const counts = new Map<string, number>();
    for (let i = 0; i < 7_000; i++) {
      const id = r.order(candidates, "reviewer")[0]!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.values()], Array(7).fill(1_000));
  });
});

describe("router: least-loaded", () => {
  it("picks the idle agent first", () => {
    const r = router("least-loaded");
    r.begin("a");
    r.begin("a");
    r.begin("b");
    assert.deepEqual(cardIds(r.order(cards("a", "b", "c"), "reviewer")), ["c", "b", "a"]);
    assert.equal(r.inFlight("a"), 2);
    r.end("a", { ok: true, latencyMs: 5 });
    r.end("a", { ok: true, latencyMs: 5 });
    assert.equal(r.inFlight("a"), 0);
  });

  it("breaks ties by rotation, so sequential calls spread out", () => {
    const r = router("least-loaded");
    const candidates = cards("a", "b", "c");
    const firsts = Array.from({ length: 6 }, () => r.order(candidates, "reviewer")[0]!.id);
    assert.deepEqual(firsts, ["a", "b", "c", "a", "b", "c"]);
  });

  it("routeWithFailover counts in-flight calls while they run", async () => {
    const r = router("least-loaded");
    const candidates = cards("a", "b");
    const releases: (() => void)[] = [];
    const chosen: string[] = [];
    const calls = [0, 1, 2, 3].map(() =>
      r.routeWithFailover(candidates, "reviewer", (c) => {
        chosen.push(c.id);
        return new Promise<string>((resolve) => releases.push(() => resolve(c.id)));
      }),
    );
    await flush();
    assert.deepEqual(chosen.sort(), ["a", "a", "b", "b"]);
    assert.equal(r.inFlight("a"), 2);
    for (const release of releases) release();
    await Promise.all(calls);
    assert.equal(r.inFlight("a"), 0);
    assert.equal(r.inFlight("b"), 0);
  });
});

describe("router: reputation", () => {
  it("gives an unknown agent the optimistic prior", () => {
    const r = router("reputation");
    assert.deepEqual(r.reputation("new"), { success: 1, latencyMs: 0, samples: 0 });
    r.end("a", { ok: true, latencyMs: 100 });
    assert.deepEqual(r.reputation("a"), { success: 1, latencyMs: 100, samples: 1 });
    r.forget("a");
    assert.equal(r.reputation("a").samples, 0);
  });

  it("learns to prefer the fast, reliable agent while still exploring", async () => {
    const clock = new ManualClock();
    const r = createRouter({ strategy: "reputation", random: seededRandom(42), clock });
    const behaviour: Record<string, { latencyMs: number; failEvery: number }> = {
      fast: { latencyMs: 50, failEvery: 0 },
      slow: { latencyMs: 900, failEvery: 0 },
      flaky: { latencyMs: 50, failEvery: 2 },
    };
    const candidates = cards("fast", "flaky", "slow");
    const served = new Map<string, number>();
    const tried = new Map<string, number>();
    for (let i = 0; i < 1_000; i++) {
      await r.routeWithFailover(candidates, "reviewer", async (c) => {
        const b = behaviour[c.id]!;
        const n = (tried.get(c.id) ?? 0) + 1;
        tried.set(c.id, n);
        clock.advance(b.latencyMs);
        if (b.failEvery > 0 && n % b.failEvery === 0) throw new Error(`${c.id} failed`);
        served.set(c.id, (served.get(c.id) ?? 0) + 1);
      });
    }
    const fast = served.get("fast") ?? 0;
    assert.ok(fast > 750, `fast served ${fast} of 1000`);
    assert.ok((tried.get("slow") ?? 0) > 10, "slow is still explored");
    assert.ok((tried.get("flaky") ?? 0) > 10, "flaky is still explored");
    assert.ok(Math.abs(r.reputation("fast").latencyMs - 50) < 1e-9);
    assert.equal(r.reputation("fast").success, 1);
    assert.ok(r.reputation("flaky").success < 0.8);
  });

  it("tries a newcomer first, then lets the measurements decide", () => {
    const r = createRouter({ strategy: "reputation", random: seededRandom(5), exploration: 0 });
    for (let i = 0; i < 20; i++) r.end("veteran", { ok: true, latencyMs: 100 });
    assert.deepEqual(cardIds(r.order(cards("veteran", "zz-new"), "reviewer")), [
      "zz-new",
      "veteran",
    ]);
    r.end("zz-new", { ok: true, latencyMs: 2_000 });
    assert.deepEqual(cardIds(r.order(cards("veteran", "zz-new"), "reviewer")), [
      "veteran",
      "zz-new",
    ]);
  });

  it("replays the same order from the same seed", () => {
    const run = () => {
      const r = router("reputation", { seed: 9 });
      r.end("a", { ok: true, latencyMs: 10 });
      r.end("b", { ok: false, latencyMs: 10 });
      return Array.from({ length: 50 }, () => cardIds(r.order(cards("a", "b", "c"), "x")));
    };
    assert.deepEqual(run(), run());
  });
});

describe("router: failover", () => {
  it("fails over to the next candidate when the first throws", async () => {
    const r = router("round-robin");
    const seen: string[] = [];
    const result = await r.routeWithFailover(cards("a", "b", "c"), "reviewer", async (c) => {
      seen.push(c.id);
      if (c.id === "a") throw new Error("a is down");
      return `done by ${c.id}`;
    });
    assert.equal(result, "done by b");
    assert.deepEqual(seen, ["a", "b"]);
    assert.equal(r.reputation("a").success, 0.8);
    assert.equal(r.reputation("b").success, 1);
    assert.equal(r.inFlight("a"), 0);
  });

  it("throws NoRouteError when there is no candidate", async () => {
    const r = router("round-robin");
    await assert.rejects(
      r.routeWithFailover([], "reviewer", async () => "never"),
      (err: unknown) => err instanceof NoRouteError && err.role === "reviewer",
    );
  });

  it("wraps the last error when every candidate failed", async () => {
    const r = router("round-robin");
    const last = new Error("c is down");
    await assert.rejects(
      r.routeWithFailover(cards("a", "b", "c"), "reviewer", async (c) => {
        throw c.id === "c" ? last : new Error(`${c.id} is down`);
      }),
      (err: unknown) => {
        assert.ok(err instanceof AllCandidatesFailedError);
        assert.equal(err.code, "E_ALL_CANDIDATES_FAILED");
        assert.equal(err.cause, last);
        assert.deepEqual(
          err.failures.map((f) => f.agentId),
          ["a", "b", "c"],
        );
        assert.match(err.message, /c is down/);
        return true;
      },
    );
  });

  it("stops after maxAttempts", async () => {
    const r = router("round-robin");
    const seen: string[] = [];
    await assert.rejects(
      r.routeWithFailover(
        cards("a", "b", "c"),
        "reviewer",
        async (c) => {
          seen.push(c.id);
          throw new Error("down");
        },
        { maxAttempts: 2 },
      ),
      AllCandidatesFailedError,
    );
    assert.deepEqual(seen, ["a", "b"]);
    await assert.rejects(
      r.routeWithFailover(cards("a"), "reviewer", async () => 1, { maxAttempts: 0 }),
      ConfigError,
    );
  });

  it("rethrows unwrapped when shouldFailover says no other agent can help", async () => {
    const r = router("round-robin");
    const seen: string[] = [];
    const permanent = new PermanentError("malformed diff");
    await assert.rejects(
      r.routeWithFailover(
        cards("a", "b"),
        "reviewer",
        async (c) => {
          seen.push(c.id);
          throw permanent;
        },
        { shouldFailover: (error) => !(error instanceof PermanentError) },
      ),
      (err: unknown) => err === permanent,
    );
    assert.deepEqual(seen, ["a"]);
  });

  it("times out a silent agent on the injected clock, aborts it, and moves on", async () => {
    const clock = new ManualClock();
    const r = router("round-robin", { clock });
    let silentSignal: AbortSignal | undefined;
    const result = r.routeWithFailover(
      cards("a", "b"),
      "reviewer",
      (c, signal) => {
        if (c.id === "b") return Promise.resolve("b answered");
        silentSignal = signal;
        return new Promise<string>(() => {});
      },
      { timeoutMs: 500 },
    );
    await flush();
    clock.advance(499);
    await flush();
    assert.equal(silentSignal?.aborted, false);
    clock.advance(1);
    assert.equal(await result, "b answered");
    assert.ok(silentSignal?.reason instanceof TimeoutError);
    assert.equal(r.reputation("a").success, 0.8);
    assert.equal(r.inFlight("a"), 0);
  });
});
