import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { seededRandom } from "../../src/core/random.js";
import type { BackoffPolicy } from "../../src/delivery/backoff.js";
import { ClosedError, ConfigError } from "../../src/errors/index.js";
import {
  type ChildHandle,
  createSupervisor,
  type SupervisorConfig,
  type SupervisorEvent,
} from "../../src/runtime/supervisor.js";

/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

const exactBackoff: BackoffPolicy = { baseMs: 100, maxMs: 10_000, factor: 2, jitter: "none" };

interface FakeChild {
  readonly index: number;
  crash(error?: Error): void;
  finish(): void;
  stopCalls: number;
}

/** A child factory whose children the test crashes or finishes by hand. */
function harness(overrides: Partial<SupervisorConfig> = {}) {
  const clock = new ManualClock(1_000);
  const children: FakeChild[] = [];
  const events: SupervisorEvent[] = [];
  let failNextStarts = 0;
  const start = async (): Promise<ChildHandle> => {
    if (failNextStarts > 0) {
      failNextStarts--;
      throw new Error("could not start");
    }
    let settle!: (result: Error | undefined) => void;
    const exited = new Promise<Error | undefined>((resolve) => {
      settle = resolve;
    });
    const index = children.length;
    const child: FakeChild = {
      index,
      crash: (error = new Error(`child ${index} crashed`)) => settle(error),
      finish: () => settle(undefined),
      stopCalls: 0,
    };
    children.push(child);
    return {
      exited,
      stop: async () => {
        child.stopCalls++;
        settle(undefined);
      },
    };
  };
  const supervisor = createSupervisor({
    name: "worker",
    start,
    backoff: exactBackoff,
    maxRestarts: 3,
    windowMs: 60_000,
    clock,
    random: seededRandom(1),
    onEvent: (event) => events.push(event),
    ...overrides,
  });
  return {
    clock,
    children,
    events,
    supervisor,
    failStarts(n: number) {
      failNextStarts = n;
    },
    types: () => events.map((e) => e.type),
    delays: () => events.flatMap((e) => (e.type === "crashed" ? [e.delayMs] : [])),
  };
}

describe("supervisor", () => {
  it("rejects invalid intensity settings", () => {
    const base = {
      name: "x",
      start: async (): Promise<ChildHandle> => ({
        exited: new Promise(() => {}),
        stop: async () => {},
      }),
      backoff: exactBackoff,
      clock: new ManualClock(),
      random: seededRandom(1),
    };
    assert.throws(() => createSupervisor({ ...base, maxRestarts: -1, windowMs: 1 }), ConfigError);
    assert.throws(() => createSupervisor({ ...base, maxRestarts: 1.5, windowMs: 1 }), ConfigError);
    assert.throws(() => createSupervisor({ ...base, maxRestarts: 1, windowMs: 0 }), ConfigError);
  });

  it("starts the child and is idempotent about it", async () => {
    const h = harness();
    assert.equal(h.supervisor.state, "idle");
    const first = h.supervisor.start();
    assert.equal(h.supervisor.start(), first);
    await first;
    assert.equal(h.supervisor.state, "running");
    assert.equal(h.children.length, 1);
    assert.deepEqual(h.events[0], { type: "started", name: "worker", at: 1_000, restart: 0 });
  });

  it("restarts a crashed child after an increasing backoff on the clock", async () => {
    const h = harness({ maxRestarts: 5 });
    await h.supervisor.start();
    const expected = [100, 200, 400, 800];
    for (const [i, delay] of expected.entries()) {
      h.children[i]!.crash();
      await flush();
      assert.equal(h.supervisor.state, "restarting");
      assert.equal(h.supervisor.restarts, i + 1);
      h.clock.advance(delay - 1);
      await flush();
      assert.equal(h.children.length, i + 1, `no restart before ${delay} ms`);
      h.clock.advance(1);
      await flush();
      assert.equal(h.children.length, i + 2, `restart ${i + 1} after ${delay} ms`);
      assert.equal(h.supervisor.state, "running");
    }
    assert.deepEqual(h.delays(), expected);
    const crashed = h.events.filter((e) => e.type === "crashed");
    assert.deepEqual(
      crashed.map((e) => e.restart),
      [1, 2, 3, 4],
    );
    assert.match(crashed[0]!.error.message, /child 0 crashed/);
    assert.deepEqual(
      h.events.filter((e) => e.type === "started").map((e) => e.restart),
      [0, 1, 2, 3, 4],
    );
  });

  it("gives up when crashes exceed the intensity within the window", async () => {
    const h = harness({ maxRestarts: 2, windowMs: 10_000 });
    await h.supervisor.start();
    for (let i = 0; i < 2; i++) {
      h.children[i]!.crash();
      await flush();
      h.clock.advance(1_000);
      await flush();
    }
    assert.equal(h.children.length, 3);
    const fatal = new Error("third strike");
    h.children[2]!.crash(fatal);
    await flush();
    assert.equal(h.supervisor.state, "failed");
    assert.equal(h.supervisor.restarts, 2);
    assert.deepEqual(h.events.at(-1), {
      type: "gave-up",
      name: "worker",
      at: h.clock.now(),
      error: fatal,
      restarts: 2,
    });
    assert.equal(await h.supervisor.closed(), fatal);
    h.clock.advance(100_000);
    await flush();
    assert.equal(h.children.length, 3, "no restart after giving up");
    await h.supervisor.stop();
    assert.equal(h.supervisor.state, "failed", "stop() keeps the verdict");
    await assert.rejects(h.supervisor.start(), ClosedError);
  });

  it("forgets crashes older than the window, and backs off from the base again", async () => {
    const h = harness({ maxRestarts: 1, windowMs: 5_000 });
    await h.supervisor.start();
    for (let i = 0; i < 5; i++) {
      h.children[i]!.crash();
      await flush();
      h.clock.advance(6_000);
      await flush();
    }
    assert.equal(h.supervisor.state, "running");
    assert.equal(h.supervisor.restarts, 5);
    assert.deepEqual(h.delays(), [100, 100, 100, 100, 100]);
  });

  it("gives up at once with maxRestarts 0", async () => {
    const h = harness({ maxRestarts: 0 });
    await h.supervisor.start();
    h.children[0]!.crash();
    await flush();
    assert.equal(h.supervisor.state, "failed");
    assert.deepEqual(h.types(), ["started", "gave-up"]);
  });

  it("does not restart after a normal exit", async () => {
    const h = harness();
    await h.supervisor.start();
    h.children[0]!.finish();
    await flush();
    assert.equal(h.supervisor.state, "stopped");
    assert.deepEqual(h.types(), ["started", "exited"]);
    assert.equal(await h.supervisor.closed(), undefined);
    h.clock.advance(100_000);
    await flush();
    assert.equal(h.children.length, 1);
  });

  it("stop() stops the child, is idempotent, and prevents restarts", async () => {
    const h = harness();
    await h.supervisor.start();
    const stopping = h.supervisor.stop();
    assert.equal(h.supervisor.stop(), stopping);
    await stopping;
    assert.equal(h.supervisor.state, "stopped");
    assert.equal(h.children[0]!.stopCalls, 1);
    assert.deepEqual(h.types(), ["started", "stopped"]);
    h.children[0]!.crash();
    h.clock.advance(100_000);
    await flush();
    assert.equal(h.children.length, 1);
    assert.equal(await h.supervisor.closed(), undefined);
    await assert.rejects(h.supervisor.start(), ClosedError);
  });

  it("stop() during a backoff cancels the pending restart", async () => {
    const h = harness();
    await h.supervisor.start();
    h.children[0]!.crash();
    await flush();
    assert.equal(h.supervisor.state, "restarting");
    await h.supervisor.stop();
    h.clock.advance(100_000);
    await flush();
    assert.equal(h.children.length, 1);
    assert.equal(h.supervisor.state, "stopped");
  });

  it("stop() while a start is pending stops the child it yields", async () => {
    const clock = new ManualClock();
    let resolveStart!: (child: ChildHandle) => void;
    let stopped = false;
    const supervisor = createSupervisor({
      name: "slow-start",
      start: () =>
        new Promise<ChildHandle>((resolve) => {
          resolveStart = resolve;
        }),
      backoff: exactBackoff,
      maxRestarts: 1,
      windowMs: 1_000,
      clock,
      random: seededRandom(1),
    });
    const starting = supervisor.start();
    const stopping = supervisor.stop();
    resolveStart({
      exited: new Promise(() => {}),
      stop: async () => {
        stopped = true;
      },
    });
    await Promise.all([starting, stopping]);
    assert.equal(stopped, true);
    assert.equal(supervisor.state, "stopped");
  });

  it("counts a failed start as a crash", async () => {
    const h = harness();
    h.failStarts(2);
    await h.supervisor.start();
    assert.equal(h.supervisor.state, "restarting");
    h.clock.advance(100);
    await flush();
    h.clock.advance(200);
    await flush();
    assert.equal(h.children.length, 1);
    assert.equal(h.supervisor.state, "running");
    assert.deepEqual(h.types(), ["crashed", "crashed", "started"]);
    const [first] = h.events;
    assert.ok(first?.type === "crashed" && /could not start/.test(first.error.message));
  });

  it("treats a rejected exited promise as a crash", async () => {
    const clock = new ManualClock();
    let starts = 0;
    const supervisor = createSupervisor({
      name: "rejecting",
      start: async () => {
        starts++;
        return {
          exited: starts === 1 ? Promise.reject("boom") : new Promise(() => {}),
          stop: async () => {},
        };
      },
      backoff: exactBackoff,
      maxRestarts: 1,
      windowMs: 1_000,
      clock,
      random: seededRandom(1),
    });
    await supervisor.start();
    await flush();
    assert.equal(supervisor.state, "restarting");
    clock.advance(100);
    await flush();
    assert.equal(starts, 2);
  });

  it("keeps supervising when the event observer throws", async () => {
    const h = harness({
      onEvent: () => {
        throw new Error("observer bug");
      },
    });
    await h.supervisor.start();
    h.children[0]!.crash();
    await flush();
    h.clock.advance(100);
    await flush();
    assert.equal(h.children.length, 2);
  });

  it("spreads restarts with jitter from the injected random, reproducibly", async () => {
    const run = async () => {
      const h = harness({
        maxRestarts: 10,
        backoff: { baseMs: 100, maxMs: 1_000, factor: 2, jitter: "full" },
      });
      await h.supervisor.start();
      for (let i = 0; i < 5; i++) {
        h.children[i]!.crash();
        await flush();
        h.clock.advance(1_000);
        await flush();
      }
      return h.delays();
    };
    const delays = await run();
    assert.deepEqual(await run(), delays);
    assert.ok(delays.every((d, i) => d >= 0 && d <= Math.min(1_000, 100 * 2 ** i)));
  });
});
