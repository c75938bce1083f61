/**
 * An attempt function that throws synchronously (a plain function, not an
 * async one) under a per-attempt timeout: the router must fail over as for a
 * rejection, and leave no timer behind that later rejects with nobody
 * listening (an unhandled rejection crashes the node).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Clock, ManualClock } from "../../src/core/clock.js";
import { seededRandom } from "../../src/core/random.js";
import { ConfigError } from "../../src/errors/index.js";
import type { AgentCard } from "../../src/registry/agent-card.js";
import { AllCandidatesFailedError } from "../../src/routing/errors.js";
import { createRouter } from "../../src/routing/router.js";

/** A manual clock that counts the timers still pending. */
function countingClock(): { clock: Clock; advance: (ms: number) => void; pending: () => number } {
  const manual = new ManualClock(0);
  const live = new Set<object>();
  const clock: Clock = {
    now: () => manual.now(),
    setTimer(fn, ms) {
      const token = {};
      live.add(token);
      const cancel = manual.setTimer(() => {
        live.delete(token);
        fn();
      }, ms);
      return () => {
        live.delete(token);
        cancel();
      };
    },
  };
  return { clock, advance: (ms) => manual.advance(ms), pending: () => live.size };
}

const card = (id: string) => ({ id }) as unknown as AgentCard;

test("a synchronously throwing attempt with timeoutMs fails over and leaves no timer to reject unhandled", async () => {
  const { clock, advance, pending } = countingClock();
  const router = createRouter({ strategy: "round-robin", random: seededRandom(1), clock });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const tried: string[] = [];
    await assert.rejects(
      router.routeWithFailover(
        [card("a"), card("b")],
        "worker",
        (c) => {
          tried.push(c.id);
          throw new Error(`agent ${c.id} refused at once`);
        },
        { timeoutMs: 1_000 },
      ),
      (error: unknown) => error instanceof AllCandidatesFailedError && error.failures.length === 2,
    );
    assert.deepEqual(tried, ["a", "b"], "failed over to the second candidate");
    assert.equal(pending(), 0, "no timeout timer left pending");
    advance(5_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, [], "no unhandled rejection when the old timeouts would fire");
    assert.equal(router.inFlight("a"), 0);
    assert.equal(router.inFlight("b"), 0);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

test("a timeoutMs that is not a positive number is refused, saying what to pass", async () => {
  const { clock, pending } = countingClock();
  const router = createRouter({ strategy: "round-robin", random: seededRandom(1), clock });
  for (const timeoutMs of [0, -5, Number.NaN]) {
    let called = 0;
    await assert.rejects(
      router.routeWithFailover(
        [card("a")],
        "worker",
        async () => {
          called++;
          return "ok";
        },
        { timeoutMs },
      ),
      (error: unknown) =>
        error instanceof ConfigError &&
        /timeoutMs must be a number of ms > 0/.test(error.message) &&
        error.message.includes(String(timeoutMs)),
      `timeoutMs ${timeoutMs}`,
    );
    assert.equal(called, 0, "no candidate tried with a bad timeout");
  }
  assert.equal(pending(), 0);
});
