import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { seededRandom } from "../../src/core/random.js";
import { ConfigError } from "../../src/errors/index.js";
import {
  createSimNetwork,
  deriveSeed,
  equivocating,
  forging,
  garbage,
  garbageEnvelope,
  type LatencyModel,
  latencySampler,
  replaying,
  type SimNetwork,
  type SimNode,
  type SimTraceEvent,
  silent,
} from "../../src/sim/index.js";
import { parseEnvelope } from "../../src/wire/envelope.js";

/** A node that answers every "ping" with a "pong" and logs what it receives. */
function pinger(id: string, log: string[] = []): SimNode<string> & { log: string[] } {
  return {
    id,
    log,
    step(message, now, from) {
      log.push(`${now} ${from}>${id} ${message}`);
      return message.startsWith("ping")
        ? { send: [{ to: from, message: `pong ${message.slice(5)}` }] }
        : undefined;
    },
  };
}

/** Gossip: on its first message a node forwards it to `fanout` random peers. */
function gossiper(id: string, peers: () => readonly string[], fanout: number, seed: number) {
  const random = seededRandom(deriveSeed(seed, id));
  let heard = false;
  const node: SimNode<number> & { heardAt: number } = {
    id,
    heardAt: -1,
    step(message, now) {
      if (heard) return undefined;
      heard = true;
      node.heardAt = now;
      const list = peers();
      const send = [];
      for (let i = 0; i < fanout; i++) {
        send.push({ to: list[random.int(list.length)] as string, message: message + 1 });
      }
      return { send };
    },
  };
  return node;
}

function traceOf(seed: number, latency: LatencyModel, extra?: (net: SimNetwork<string>) => void) {
  const events: string[] = [];
  const record = (e: SimTraceEvent<string>) => {
    if (e.kind === "tick") return;
    events.push(JSON.stringify(e));
  };
  const net = createSimNetwork<string>({ seed, latency, drop: 0.1, duplicate: 0.1, trace: record });
  for (const id of ["a", "b", "c", "d"]) net.add(pinger(id));
  extra?.(net);
  for (let i = 0; i < 20; i++) net.send("a", "*", `ping ${i}`);
  net.run({ until: 1_000 });
  return events;
}

describe("simulated network: determinism", () => {
  it("replays the identical event trace from the same seed", () => {
    const latency: LatencyModel = { kind: "exponential", meanMs: 15, minMs: 1 };
    const first = traceOf(7, latency);
    const second = traceOf(7, latency);
    assert.ok(first.length > 100);
    assert.deepEqual(second, first);
  });

  it("gives a different trace for a different seed", () => {
    const latency: LatencyModel = { kind: "uniform", minMs: 1, maxMs: 50 };
    assert.notDeepEqual(traceOf(1, latency), traceOf(2, latency));
  });

  it("is deterministic for any seed and latency model (property)", () => {
    const model = fc.oneof(
      fc.record({ kind: fc.constant("fixed" as const), ms: fc.integer({ min: 0, max: 20 }) }),
      fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })).map(([a, b]) => ({
        kind: "uniform" as const,
        minMs: Math.min(a, b),
        maxMs: Math.max(a, b),
      })),
      fc.record({
        kind: fc.constant("normal" as const),
        meanMs: fc.integer({ min: 0, max: 30 }),
        stdDevMs: fc.integer({ min: 0, max: 10 }),
      }),
      fc.record({
        kind: fc.constant("exponential" as const),
        meanMs: fc.integer({ min: 0, max: 30 }),
      }),
    );
    fc.assert(
      fc.property(fc.integer(), model, (seed, latency) => {
        assert.deepEqual(traceOf(seed, latency), traceOf(seed, latency));
      }),
      { numRuns: 50 },
    );
  });

  it("orders events at the same instant by scheduling order", () => {
    const log: string[] = [];
    const net = createSimNetwork<string>({ seed: 1, latency: { kind: "fixed", ms: 5 }, tickMs: 0 });
    net.add(pinger("a", log));
    net.add(pinger("b", log));
    for (let i = 0; i < 5; i++) net.send("a", "b", `m${i}`);
    assert.equal(net.run().reason, "idle");
    assert.deepEqual(log, ["5 a>b m0", "5 a>b m1", "5 a>b m2", "5 a>b m3", "5 a>b m4"]);
  });
});

describe("simulated network: latency", () => {
  it("delivers after exactly the fixed latency, and answers come back after twice it", () => {
    const log: string[] = [];
    const net = createSimNetwork<string>({ seed: 1, latency: { kind: "fixed", ms: 7 }, tickMs: 0 });
    net.add(pinger("a", log));
    net.add(pinger("b", log));
    net.send("a", "b", "ping 1");
    net.run();
    assert.deepEqual(log, ["7 a>b ping 1", "14 b>a pong 1"]);
    assert.equal(net.now, 14);
  });

  it("samples every model within its bounds", () => {
    const random = seededRandom(3);
    const uniform = latencySampler({ kind: "uniform", minMs: 5, maxMs: 9 }, random);
    const normal = latencySampler({ kind: "normal", meanMs: 10, stdDevMs: 20, minMs: 2 }, random);
    const exponential = latencySampler({ kind: "exponential", meanMs: 10, minMs: 3 }, random);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const u = uniform();
      assert.ok(u >= 5 && u < 9);
      assert.ok(normal() >= 2);
      const e = exponential();
      assert.ok(e >= 3);
      sum += e;
    }
    const mean = sum / 10_000;
    assert.ok(mean > 12 && mean < 14, `exponential mean ${mean} should be near 13`);
  });

  it("refuses nonsense", () => {
    const random = seededRandom(1);
    assert.throws(() => latencySampler({ kind: "fixed", ms: -1 }, random), ConfigError);
    assert.throws(
      () => latencySampler({ kind: "uniform", minMs: 5, maxMs: 1 }, random),
      ConfigError,
    );
    assert.throws(() => createSimNetwork({ seed: 1, drop: 2 }), ConfigError);
    assert.throws(() => createSimNetwork({ seed: 1.5 }), ConfigError);
    const net = createSimNetwork<string>({ seed: 1 });
    net.add(pinger("a"));
    assert.throws(() => net.add(pinger("a")), ConfigError);
    assert.throws(() => net.add(pinger("*")), ConfigError);
    assert.throws(() => net.crash("nobody"), ConfigError);
  });

  it("reorders messages when latency has jitter", () => {
    const log: string[] = [];
    const net = createSimNetwork<string>({
      seed: 5,
      latency: { kind: "uniform", minMs: 1, maxMs: 100 },
      tickMs: 0,
    });
    net.add(pinger("a"));
    net.add(pinger("b", log));
    for (let i = 0; i < 20; i++) net.send("a", "b", `m${i}`);
    net.run();
    const order = log.map((line) => Number(line.split(" m")[1]));
    assert.equal(order.length, 20);
    assert.notDeepEqual(
      order,
      [...order].sort((x, y) => x - y),
    );
  });
});

describe("simulated network: faults", () => {
  it("loses everything at drop 1 and delivers everything twice at duplicate 1", () => {
    const lossy = createSimNetwork<string>({ seed: 1, drop: 1, tickMs: 0 });
    const log: string[] = [];
    lossy.add(pinger("a"));
    lossy.add(pinger("b", log));
    lossy.send("a", "b", "hello");
    lossy.run();
    assert.deepEqual(log, []);
    assert.equal(lossy.stats.dropped, 1);

    const doubled = createSimNetwork<string>({ seed: 1, duplicate: 1, tickMs: 0 });
    const log2: string[] = [];
    doubled.add(pinger("a"));
    doubled.add(pinger("b", log2));
    doubled.send("a", "b", "hello");
    doubled.run();
    assert.equal(log2.length, 2);
    assert.equal(doubled.stats.duplicated, 1);
  });

  it("drops roughly the configured fraction", () => {
    const net = createSimNetwork<string>({ seed: 9, drop: 0.25, tickMs: 0 });
    const log: string[] = [];
    net.add(pinger("a"));
    net.add(pinger("b", log));
    for (let i = 0; i < 4000; i++) net.send("a", "b", `m${i}`);
    net.run();
    assert.ok(log.length > 2800 && log.length < 3200, `${log.length} of 4000 arrived`);
  });

  it("cuts links across a partition, both ways, until heal", () => {
    const logs = new Map<string, string[]>();
    const net = createSimNetwork<string>({ seed: 1, latency: { kind: "fixed", ms: 1 }, tickMs: 0 });
    for (const id of ["a", "b", "c", "d"]) {
      logs.set(id, []);
      net.add(pinger(id, logs.get(id)));
    }
    net.partition(["a", "b"], ["c", "d"]);
    net.send("a", "*", "hello 1");
    net.send("c", "*", "hello 2");
    net.run();
    assert.deepEqual(logs.get("b"), ["1 a>b hello 1"]);
    assert.deepEqual(logs.get("d"), ["1 c>d hello 2"]);
    assert.deepEqual(logs.get("c"), []);
    net.heal();
    net.send("a", "c", "hello 3");
    net.run();
    assert.deepEqual(logs.get("c"), ["2 a>c hello 3"]);
  });

  it("isolates one node from all others and loses messages in flight when the cut comes", () => {
    const log: string[] = [];
    const net = createSimNetwork<string>({
      seed: 1,
      latency: { kind: "fixed", ms: 10 },
      tickMs: 0,
    });
    net.add(pinger("a"));
    net.add(pinger("b", log));
    net.add(pinger("c"));
    net.send("a", "b", "early");
    net.at(5, (n) => n.isolate("b"));
    net.run();
    assert.deepEqual(log, []);
    assert.equal(net.stats.dropped, 1);
  });

  it("filters messages by content", () => {
    const log: string[] = [];
    const net = createSimNetwork<string>({ seed: 1, tickMs: 0 });
    net.add(pinger("a"));
    net.add(pinger("b", log));
    net.filter((message) => !message.includes("secret"));
    net.send("a", "b", "public");
    net.send("a", "b", "secret");
    net.run();
    assert.deepEqual(log, ["1 a>b public"]);
    net.filter(undefined);
    net.send("a", "b", "secret");
    net.run();
    assert.equal(log.length, 2);
  });

  it("crashes a node (no steps, no ticks, incoming lost) and restarts it with or without its state", () => {
    let ticks = 0;
    let received = 0;
    const counter = (id: string): SimNode<string> => ({
      id,
      step() {
        received++;
        return undefined;
      },
      tick() {
        ticks++;
        return undefined;
      },
    });
    const net = createSimNetwork<string>({
      seed: 1,
      tickMs: 10,
      latency: { kind: "fixed", ms: 1 },
    });
    net.add(pinger("a"));
    net.add(counter("b"));
    net.run({ until: 50 });
    assert.equal(ticks, 5);
    net.crash("b");
    assert.ok(net.isCrashed("b"));
    net.send("a", "b", "lost");
    net.run({ until: 100 });
    assert.equal(ticks, 5);
    assert.equal(received, 0);
    net.restart("b");
    net.send("a", "b", "kept");
    net.run({ until: 150 });
    assert.equal(received, 1);
    assert.equal(ticks, 10);

    const fresh = pinger("b");
    net.crash("b");
    net.restart("b", fresh);
    net.send("a", "b", "to the fresh one");
    net.run({ until: 200 });
    assert.deepEqual(fresh.log, ["151 a>b to the fresh one"]);
    assert.throws(() => net.restart("b", pinger("other")), ConfigError);
  });

  it("still delivers what a node sent before it crashed", () => {
    const log: string[] = [];
    const net = createSimNetwork<string>({
      seed: 1,
      latency: { kind: "fixed", ms: 10 },
      tickMs: 0,
    });
    net.add(pinger("a"));
    net.add(pinger("b", log));
    net.send("a", "b", "last words");
    net.crash("a");
    net.run();
    assert.deepEqual(log, ["10 a>b last words"]);
  });
});

describe("simulated network: run", () => {
  it("stops on a condition, a time, an event budget, or when idle", () => {
    const net = createSimNetwork<string>({ seed: 1, latency: { kind: "fixed", ms: 1 }, tickMs: 0 });
    const a = pinger("a");
    net.add(a);
    net.add(pinger("b"));
    for (let i = 0; i < 10; i++) net.send("a", "b", `ping ${i}`);
    const byCondition = net.run({ until: () => a.log.length >= 3 });
    assert.equal(byCondition.reason, "condition");
    assert.equal(a.log.length, 3);
    const byBudget = net.run({ maxEvents: 2 });
    assert.equal(byBudget.reason, "max-events");
    assert.equal(byBudget.events, 2);
    assert.equal(net.run().reason, "idle");
    assert.equal(net.run({ until: 100 }).reason, "until");
    assert.equal(net.now, 100);
  });

  it("ticks every node on schedule and runs scheduled actions in time order", () => {
    const seen: string[] = [];
    const net = createSimNetwork<string>({ seed: 1, tickMs: 25 });
    net.add({
      id: "a",
      step: () => undefined,
      tick: (now) => {
        seen.push(`tick ${now}`);
        return undefined;
      },
    });
    net.at(60, () => seen.push("action 60"));
    net.at(10, () => seen.push("action 10"));
    net.run({ until: 100 });
    assert.deepEqual(seen, ["action 10", "tick 25", "tick 50", "action 60", "tick 75", "tick 100"]);
  });

  it("spreads a message to 10,000 nodes by gossip in well under a second", () => {
    const count = 10_000;
    const net = createSimNetwork<number>({
      seed: 42,
      latency: { kind: "normal", meanMs: 20, stdDevMs: 5, minMs: 1 },
      tickMs: 0,
    });
    const nodes = [];
    for (let i = 0; i < count; i++) {
      const node = gossiper(`n${i}`, () => net.ids, 12, 42);
      nodes.push(node);
      net.add(node);
    }
    const started = performance.now();
    net.send("n0", "n1", 0);
    const result = net.run();
    const elapsed = performance.now() - started;
    const reached = nodes.filter((n) => n.heardAt >= 0).length;
    assert.equal(result.reason, "idle");
    assert.ok(reached > count * 0.99, `${reached} of ${count} nodes heard it`);
    assert.ok(net.stats.sent > 100_000);
    assert.ok(elapsed < 2_000, `took ${elapsed.toFixed(0)} ms for ${net.stats.sent} messages`);
  });
});

describe("simulated network: Byzantine wrappers", () => {
  const peers = ["b", "c", "d"];
  const setup = (wrap: (node: SimNode<string>) => SimNode<string>) => {
    const logs = new Map<string, string[]>();
    const net = createSimNetwork<string>({
      seed: 3,
      latency: { kind: "fixed", ms: 1 },
      tickMs: 10,
    });
    const chatty: SimNode<string> = {
      id: "a",
      step: () => undefined,
      tick: (now) => (now <= 10 ? { send: [{ to: "*", message: "vote yes" }] } : undefined),
    };
    net.add(wrap(chatty));
    for (const id of peers) {
      logs.set(id, []);
      net.add(pinger(id, logs.get(id)));
    }
    return { net, logs };
  };

  it("silent: sends nothing", () => {
    const { net, logs } = setup((node) => silent(node));
    net.run({ until: 100 });
    for (const id of peers) assert.deepEqual(logs.get(id), []);
  });

  it("equivocating: tells different peers different things", () => {
    const { net, logs } = setup((node) =>
      equivocating(node, {
        random: seededRandom(1),
        peers,
        conflict: () => "vote no",
        probability: 0.5,
      }),
    );
    net.run({ until: 100 });
    const said = peers.map((id) => (logs.get(id) as string[])[0]?.split(" ").slice(2).join(" "));
    assert.ok(said.includes("vote yes") && said.includes("vote no"), said.join(", "));
  });

  it("forging: adds forged twins", () => {
    const { net, logs } = setup((node) =>
      forging(node, { random: seededRandom(1), forge: (m) => `${m} (forged)`, probability: 1 }),
    );
    net.run({ until: 100 });
    assert.deepEqual(logs.get("b"), ["11 a>b vote yes", "11 a>b vote yes (forged)"]);
  });

  it("replaying: re-sends old messages later", () => {
    const { net, logs } = setup((node) =>
      replaying(node, { random: seededRandom(1), peers, probability: 1 }),
    );
    net.run({ until: 200 });
    const b = logs.get("b") as string[];
    assert.ok(b.length > 3, b.join("; "));
    assert.ok(b.every((line) => line.endsWith("vote yes")));
  });

  it("garbage: sends undecodable and schema-invalid envelopes", () => {
    const received: unknown[] = [];
    const net = createSimNetwork<unknown>({ seed: 3, tickMs: 10 });
    const random = seededRandom(9);
    net.add(
      garbage<unknown>(
        { id: "liar", step: () => undefined },
        {
          random,
          peers: ["victim"],
          probability: 1,
          make: (r) =>
            garbageEnvelope(r, { from: "liar", types: ["consensus.vote"], now: net.now }),
        },
      ),
    );
    net.add({
      id: "victim",
      step: (m) => {
        received.push(m);
        return undefined;
      },
    });
    net.run({ until: 2_000 });
    assert.ok(received.length > 100);
    let invalid = 0;
    for (const message of received) {
      try {
        parseEnvelope(message);
      } catch {
        invalid++;
      }
    }
    assert.ok(
      invalid > 10 && invalid < received.length,
      `${invalid} of ${received.length} invalid`,
    );
  });
});
