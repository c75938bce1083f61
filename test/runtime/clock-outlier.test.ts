/**
 * A node whose clock is minutes off (Finding 12 of docs/CHAOS.md): every
 * other node refuses its heartbeats and it refuses theirs, so it learns no
 * card and would take tasks it cannot verify, dead-lettering them. When
 * every peer it hears (at least two) is off on the same side, it is the odd
 * one out: its agents stop taking tasks (they go to the other nodes) and it
 * says so with `clock.outlier`; the healthy nodes, which still agree with
 * one another, carry on.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { offsetClock } from "../../src/core/offset-clock.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { ClockWatch } from "../../src/runtime/clock-watch.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";

test("ClockWatch blames this node only when every peer heard, at least two, is off on the same side", () => {
  const watch = new ClockWatch(10_000);
  watch.skewed("a", -300_000, 0);
  assert.equal(watch.outlier(0), undefined, "one peer cannot tell which clock is off");
  watch.skewed("b", -290_000, 0);
  assert.deepEqual(watch.outlier(0), { offsetMs: -290_000, peers: 2 });
  watch.accepted("c", 0);
  assert.equal(watch.outlier(0), undefined, "a peer that agrees with us");
  assert.deepEqual(watch.outlier(20_000), undefined, "everyone forgotten after the window");
  watch.skewed("a", -300_000, 30_000);
  watch.skewed("b", 300_000, 30_000);
  assert.equal(watch.outlier(30_000), undefined, "peers off on both sides: not our clock");
});

test("the node 5 minutes ahead stops taking tasks and says why; the others do the work, nothing is dead-lettered", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-clock-"));
  const broker = new MemoryBroker({ journalPath: join(dir, "journal.db") });
  const made: Swarm[] = [];
  const node = (name: string, offsetMs: number) => {
    const swarm = createSwarm({
      name: "clocks",
      nodeId: name,
      roles: { lead: {}, dev: { tasks: ["code"] } },
      defaults: {
        heartbeatMs: 100,
        ackWaitMs: 3000,
        maxDeliver: 2,
        backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
      },
      transport: createMemoryTransport({ broker }),
      store: openSqliteStore({ path: join(dir, `${name}.db`) }),
      clock: offsetClock(systemClock, offsetMs),
      keys: () => generateAgentKeyPair(),
    });
    made.push(swarm);
    return swarm;
  };
  try {
    const a = node("node-a", 0);
    const b = node("node-b", 0);
    const c = node("node-c", 5 * 60_000);
    const handledBy: string[] = [];
    const events = new Map<Swarm, SwarmEvent[]>();
    for (const [swarm, dev] of [
      [a, "dev-a"],
      [b, "dev-b"],
      [c, "dev-c"],
    ] as const) {
      const seen: SwarmEvent[] = [];
      events.set(swarm, seen);
      swarm.on((e) => seen.push(e));
      swarm.agent({ id: dev, role: "dev" }).handle("code", () => {
        handledBy.push(dev);
      });
    }
    a.agent({ id: "lead", role: "lead" });
    await Promise.all([a.start(), b.start(), c.start()]);
    const outlier = () => events.get(c)?.find((e) => e.type === "clock.outlier");
    await until(() => outlier() !== undefined, 10_000, "node-c blaming its own clock");
    const said = outlier();
    assert.ok(said?.type === "clock.outlier" && said.peers === 2 && said.offsetMs < -240_000);
    for (const swarm of [a, b]) {
      assert.ok(
        !events.get(swarm)?.some((e) => e.type === "clock.outlier"),
        "the healthy nodes agree",
      );
    }
    for (let n = 0; n < 20; n++) await a.submit("dev", "code", { n }, { as: "lead" });
    await until(() => handledBy.length === 20, 15_000, "the 20 tasks");
    assert.ok(!handledBy.includes("dev-c"), "the skewed node took no task");
    // The refused heartbeats are parked as dead letters, with their reason; no task is.
    const deadLettered = [...events.values()]
      .flat()
      .filter((e) => e.type === "task.dead_lettered" && e.subject.includes(".task."));
    assert.deepEqual(deadLettered, [], "nothing dead-lettered");
  } finally {
    for (const swarm of made) await swarm.close();
    broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
