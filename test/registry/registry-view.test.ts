import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../src/errors/index.js";
import {
  type AgentCard,
  type AgentEntry,
  createRegistryView,
  type Liveness,
  type RegistryEvent,
  sameCard,
} from "../../src/registry/index.js";

const SUSPECT = 3_000;
const LEFT = 10_000;

function card(id: string, overrides: Partial<AgentCard> = {}): AgentCard {
  return {
    id,
    role: "reviewer",
    tags: [],
    capabilities: [],
    weight: 1,
    publicKey: `key-${id}`,
    ...overrides,
  };
}

function view() {
  return createRegistryView({ suspectAfterMs: SUSPECT, leftAfterMs: LEFT });
}

function ids(entries: readonly AgentEntry[]): string[] {
  return entries.map((e) => e.card.id);
}

describe("registry view: liveness", () => {
  it("rejects settings where an agent could leave before being suspect", () => {
    assert.throws(() => createRegistryView({ suspectAfterMs: 0, leftAfterMs: 10 }), ConfigError);
    assert.throws(() => createRegistryView({ suspectAfterMs: 10, leftAfterMs: 10 }), ConfigError);
  });

  it("joins, turns suspect and leaves at the exact deadlines", () => {
    const v = view();
    const a = card("a");
    assert.deepEqual(v.observe(a, 1_000), [{ type: "agent.joined", card: a, at: 1_000 }]);
    assert.equal(v.size, 1);
    assert.equal(v.nextDeadline(), 1_000 + SUSPECT);

    assert.deepEqual(v.tick(1_000 + SUSPECT - 1), []);
    assert.deepEqual(v.tick(1_000 + SUSPECT), [
      { type: "agent.suspect", card: a, lastSeen: 1_000, at: 1_000 + SUSPECT },
    ]);
    assert.equal(v.get("a")?.liveness, "suspect");
    assert.equal(v.nextDeadline(), 1_000 + LEFT);

    assert.deepEqual(v.tick(1_000 + LEFT - 1), []);
    assert.deepEqual(v.tick(1_000 + LEFT), [
      { type: "agent.left", card: a, reason: "timeout", at: 1_000 + LEFT },
    ]);
    assert.equal(v.size, 0);
    assert.equal(v.get("a"), undefined);
    assert.equal(v.nextDeadline(), undefined);
  });

  it("heartbeats keep an agent alive and push its deadline out", () => {
    const v = view();
    const a = card("a");
    v.observe(a, 0);
    for (let t = 1_000; t <= 20_000; t += 1_000) {
      assert.deepEqual(v.tick(t), []);
      assert.deepEqual(v.observe(a, t), []);
    }
    assert.equal(v.get("a")?.lastSeen, 20_000);
    assert.equal(v.get("a")?.joinedAt, 0);
    assert.equal(v.nextDeadline(), 20_000 + SUSPECT);
  });

  it("a suspect heard from again is alive", () => {
    const v = view();
    const a = card("a");
    v.observe(a, 0);
    v.tick(SUSPECT);
    assert.deepEqual(v.observe(a, SUSPECT + 500), [
      { type: "agent.alive", card: a, at: SUSPECT + 500 },
    ]);
    assert.equal(v.get("a")?.liveness, "alive");
    assert.equal(v.nextDeadline(), SUSPECT + 500 + SUSPECT);
  });

  it("rejoins after leaving", () => {
    const v = view();
    const a = card("a");
    v.observe(a, 0);
    v.tick(LEFT);
    assert.deepEqual(v.observe(a, LEFT + 1), [{ type: "agent.joined", card: a, at: LEFT + 1 }]);
    assert.equal(v.get("a")?.joinedAt, LEFT + 1);
  });

  it("a tick past both deadlines reports suspect, then left, each at its own deadline", () => {
    const v = view();
    const a = card("a");
    const b = card("b");
    v.observe(b, 0);
    v.observe(a, 0);
    const events = v.tick(1_000_000);
    assert.deepEqual(
      events.map((e) => [e.type, e.card.id, e.at]),
      [
        ["agent.suspect", "a", SUSPECT],
        ["agent.suspect", "b", SUSPECT],
        ["agent.left", "a", LEFT],
        ["agent.left", "b", LEFT],
      ],
    );
  });

  it("a heartbeat after a long silence with no tick applies the missed deadlines first", () => {
    const v = view();
    const a = card("a");
    v.observe(a, 0);
    assert.deepEqual(
      v.observe(a, SUSPECT + 1).map((e) => e.type),
      ["agent.suspect", "agent.alive"],
    );
    assert.deepEqual(
      v.observe(a, SUSPECT + 1 + LEFT).map((e) => [e.type, e.at]),
      [
        ["agent.suspect", SUSPECT + 1 + SUSPECT],
        ["agent.left", SUSPECT + 1 + LEFT],
        ["agent.joined", SUSPECT + 1 + LEFT],
      ],
    );
  });

  it("ignores a heartbeat older than the latest one", () => {
    const v = view();
    v.observe(card("a"), 5_000);
    assert.deepEqual(v.observe(card("a", { status: "halted" }), 4_000), []);
    assert.equal(v.get("a")?.lastSeen, 5_000);
    assert.equal(v.get("a")?.card.status, undefined);
  });

  it("reports a changed card as updated, and a suspect's changed card as alive then updated", () => {
    const v = view();
    const a = card("a");
    v.observe(a, 0);
    const draining = card("a", { status: "draining" });
    assert.deepEqual(v.observe(draining, 100), [
      { type: "agent.updated", card: draining, previous: a, at: 100 },
    ]);
    v.tick(100 + SUSPECT);
    const tagged = card("a", { status: "draining", tags: ["gpu"] });
    assert.deepEqual(v.observe(tagged, 200 + SUSPECT), [
      { type: "agent.alive", card: tagged, at: 200 + SUSPECT },
      { type: "agent.updated", card: tagged, previous: draining, at: 200 + SUSPECT },
    ]);
  });

  it("a graceful leave removes the agent at once", () => {
    const v = view();
    const a = card("a");
    v.observe(a, 0);
    assert.deepEqual(v.leave("a", 10), [{ type: "agent.left", card: a, reason: "left", at: 10 }]);
    assert.equal(v.size, 0);
    assert.equal(v.nextDeadline(), undefined);
    assert.deepEqual(v.leave("a", 11), []);
    assert.deepEqual(v.leave("nobody", 11), []);
  });

  it("revocation removes the agent and ignores its id and key afterwards", () => {
    const v = view();
    const a = card("a");
    v.observe(a, 0);
    v.observe(card("b"), 0);
    v.tick(50);
    assert.deepEqual(v.revoke("a"), [{ type: "agent.left", card: a, reason: "revoked", at: 50 }]);
    assert.equal(v.isRevoked("a"), true);
    assert.equal(v.get("a"), undefined);
    assert.deepEqual(v.observe(a, 60), []);
    assert.deepEqual(v.observe(card("a2", { publicKey: "key-a" }), 60), [], "same key, new id");
    assert.deepEqual(v.revoke("a", 70), []);
    assert.deepEqual(v.revoke("never-seen", 70), []);
    assert.deepEqual(v.observe(card("never-seen"), 80), []);
    assert.deepEqual(ids(v.find()), ["b"]);
  });

  it("returns one frozen empty array when nothing happens", () => {
    const v = view();
    v.observe(card("a"), 0);
    const first = v.tick(1);
    assert.equal(v.tick(2), first);
    assert.equal(v.observe(card("a"), 3), first);
    assert.ok(Object.isFrozen(first));
  });
});

describe("registry view: discovery", () => {
  function populated() {
    const v = view();
    v.observe(card("r3", { tags: ["ts", "security"], capabilities: ["review"] }), 0);
    v.observe(card("r1", { tags: ["ts"], capabilities: ["review", "fix"] }), 0);
    v.observe(card("r2", { tags: ["go"], status: "draining" }), 0);
    v.observe(card("w1", { role: "writer", tags: ["ts"] }), 0);
    v.observe(card("old", { role: "writer" }), -SUSPECT + 1);
    return v;
  }

  it("finds by role, tags and capabilities, ordered by id", () => {
    const v = populated();
    assert.deepEqual(ids(v.find({ role: "reviewer" })), ["r1", "r2", "r3"]);
    assert.deepEqual(ids(v.find({ tags: ["ts"] })), ["r1", "r3", "w1"]);
    assert.deepEqual(ids(v.find({ role: "reviewer", tags: ["ts", "security"] })), ["r3"]);
    assert.deepEqual(ids(v.find({ capabilities: ["review", "fix"] })), ["r1"]);
    assert.deepEqual(ids(v.find({ role: "nobody" })), []);
    assert.deepEqual(ids(v.find({ role: "reviewer", cardStatus: "active" })), ["r1", "r3"]);
    assert.deepEqual(ids(v.find({ cardStatus: ["draining", "halted"] })), ["r2"]);
  });

  it("finds only alive agents unless asked for suspects", () => {
    const v = populated();
    v.tick(1);
    assert.deepEqual(ids(v.find({ role: "writer" })), ["w1"]);
    assert.deepEqual(ids(v.find({ role: "writer", status: "suspect" })), ["old"]);
    assert.deepEqual(ids(v.find({ role: "writer", status: ["alive", "suspect"] })), ["old", "w1"]);
  });

  it("moves an agent between roles when its card changes role", () => {
    const v = populated();
    v.observe(card("r1", { role: "writer" }), 10);
    assert.deepEqual(ids(v.find({ role: "reviewer" })), ["r2", "r3"]);
    assert.deepEqual(ids(v.find({ role: "writer" })), ["old", "r1", "w1"]);
    v.observe(card("r1"), 20);
    assert.deepEqual(ids(v.find({ role: "reviewer" })), ["r1", "r2", "r3"]);
    assert.deepEqual(ids(v.find({ role: "writer" })), ["old", "w1"]);
  });

  it("returns snapshots that later changes do not alter", () => {
    const v = populated();
    const [entry] = v.find({ role: "writer" });
    v.tick(SUSPECT);
    assert.equal(entry?.liveness, "alive");
    assert.equal(v.get("w1")?.liveness, "suspect");
  });
});

describe("registry view: 10,000 agents", () => {
  it("observes and ticks cheaply, and holds each agent in well under 20 KB", () => {
    const count = 10_000;
    const cards = Array.from({ length: count }, (_, i) =>
      card(`agent-${String(i).padStart(5, "0")}`, {
        role: `role-${i % 10}`,
        tags: ["ts", `zone-${i % 3}`],
        capabilities: ["review"],
        publicKey: `k${i}`.padEnd(43, "A"),
      }),
    );
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const v = view();
    for (const [i, c] of cards.entries()) v.observe(c, i % 1_000);
    const heapAfter = process.memoryUsage().heapUsed;
    assert.equal(v.size, count);

    // Idle ticks touch nothing and allocate nothing.
    const empty = v.tick(1_000);
    for (let t = 1_000; t < 2_000; t++) assert.equal(v.tick(t), empty);

    // A full round of heartbeats changes nothing observable.
    for (const c of cards) assert.equal(v.observe(c, 2_000), empty);
    assert.equal(v.find({ role: "role-3", tags: ["zone-1"] }).length, 333);

    const suspects = v.tick(2_000 + SUSPECT);
    assert.equal(suspects.length, count);
    assert.ok(suspects.every((e) => e.type === "agent.suspect"));
    const left = v.tick(2_000 + LEFT);
    assert.equal(left.length, count);
    assert.equal(v.size, 0);
    assert.deepEqual(v.find({ status: ["alive", "suspect"] }), []);
    const elapsed = performance.now() - started;

    // Generous bounds: they catch a per-agent timer or an O(n^2) path, not noise.
    assert.ok(elapsed < 1_500, `took ${elapsed.toFixed(0)} ms`);
    const perAgent = (heapAfter - heapBefore) / count;
    assert.ok(perAgent < 20_000, `about ${perAgent.toFixed(0)} bytes per agent`);
  });
});

/** A deliberately naive model: scans every agent, no heap, no indexes. */
class ModelRegistry {
  readonly agents = new Map<string, { card: AgentCard; liveness: Liveness; lastSeen: number }>();
  readonly revokedIds = new Set<string>();
  readonly revokedKeys = new Set<string>();

  #advance(id: string, now: number, out: RegistryEvent[]): void {
    const a = this.agents.get(id);
    if (a === undefined) return;
    if (a.liveness === "alive" && a.lastSeen + SUSPECT <= now) {
      a.liveness = "suspect";
      out.push({
        type: "agent.suspect",
        card: a.card,
        lastSeen: a.lastSeen,
        at: a.lastSeen + SUSPECT,
      });
    }
    if (a.liveness === "suspect" && a.lastSeen + LEFT <= now) {
      this.agents.delete(id);
      out.push({ type: "agent.left", card: a.card, reason: "timeout", at: a.lastSeen + LEFT });
    }
  }

  tick(now: number): RegistryEvent[] {
    const out: RegistryEvent[] = [];
    for (const id of [...this.agents.keys()]) this.#advance(id, now, out);
    return out.sort((x, y) =>
      x.at !== y.at ? x.at - y.at : x.card.id < y.card.id ? -1 : x.card.id > y.card.id ? 1 : 0,
    );
  }

  observe(c: AgentCard, at: number): RegistryEvent[] {
    if (this.revokedIds.has(c.id) || this.revokedKeys.has(c.publicKey)) return [];
    const out: RegistryEvent[] = [];
    this.#advance(c.id, at, out);
    const a = this.agents.get(c.id);
    if (a === undefined) {
      this.agents.set(c.id, { card: c, liveness: "alive", lastSeen: at });
      out.push({ type: "agent.joined", card: c, at });
      return out;
    }
    if (at < a.lastSeen) return out;
    if (a.liveness === "suspect") out.push({ type: "agent.alive", card: c, at });
    a.liveness = "alive";
    a.lastSeen = at;
    if (!sameCard(a.card, c)) {
      out.push({ type: "agent.updated", card: c, previous: a.card, at });
      a.card = c;
    }
    return out;
  }

  leave(id: string, at: number): RegistryEvent[] {
    const out: RegistryEvent[] = [];
    this.#advance(id, at, out);
    const a = this.agents.get(id);
    if (a !== undefined) {
      this.agents.delete(id);
      out.push({ type: "agent.left", card: a.card, reason: "left", at });
    }
    return out;
  }

  revoke(id: string, at: number): RegistryEvent[] {
    this.revokedIds.add(id);
    const a = this.agents.get(id);
    if (a === undefined) return [];
    this.revokedKeys.add(a.card.publicKey);
    this.agents.delete(id);
    return [{ type: "agent.left", card: a.card, reason: "revoked", at }];
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const a of this.agents.values()) {
      const d = a.lastSeen + (a.liveness === "alive" ? SUSPECT : LEFT);
      if (next === undefined || d < next) next = d;
    }
    return next;
  }

  find(role: string | undefined): string[] {
    return [...this.agents.values()]
      .filter((a) => role === undefined || a.card.role === role)
      .map((a) => a.card.id)
      .sort();
  }
}

describe("registry view: matches a naive model", () => {
  const agentId = fc.constantFrom("a", "b", "c", "d");
  const agentCard = fc.record({
    id: agentId,
    role: fc.constantFrom("x", "y"),
    tags: fc.constantFrom([], ["t"], ["t", "u"]),
    status: fc.constantFrom(undefined, "draining" as const),
    key: fc.constantFrom("own", "shared"),
  });
  const operation = fc.oneof(
    fc.record({ op: fc.constant("observe" as const), card: agentCard, back: fc.boolean() }),
    fc.record({ op: fc.constant("leave" as const), id: agentId }),
    fc.record({ op: fc.constant("tick" as const) }),
    fc.record({ op: fc.constant("revoke" as const), id: agentId }),
  );
  const step = fc.tuple(operation, fc.integer({ min: 0, max: 6_000 }));

  it("emits the same events and holds the same agents for any sequence", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const real = view();
        const model = new ModelRegistry();
        let now = 0;
        for (const [operation, dt] of steps) {
          now += dt;
          let got: readonly RegistryEvent[];
          let want: RegistryEvent[];
          switch (operation.op) {
            case "observe": {
              const { id, role, tags, status, key } = operation.card;
              const c: AgentCard = {
                id,
                role,
                tags,
                capabilities: [],
                weight: 1,
                publicKey: key === "own" ? `key-${id}` : "shared",
                ...(status === undefined ? {} : { status }),
              };
              // Sometimes an out-of-order heartbeat, stamped before the latest one.
              const at = operation.back ? Math.max(0, now - 2_000) : now;
              got = real.observe(c, at);
              want = model.observe(c, at);
              break;
            }
            case "leave":
              got = real.leave(operation.id, now);
              want = model.leave(operation.id, now);
              break;
            case "tick":
              got = real.tick(now);
              want = model.tick(now);
              break;
            case "revoke":
              got = real.revoke(operation.id, now);
              want = model.revoke(operation.id, now);
              break;
          }
          assert.deepEqual(got, want);
          assert.equal(real.size, model.agents.size);
          assert.equal(real.nextDeadline(), model.nextDeadline());
          for (const role of [undefined, "x", "y"]) {
            assert.deepEqual(
              ids(
                real.find({
                  ...(role === undefined ? {} : { role }),
                  status: ["alive", "suspect"],
                }),
              ),
              model.find(role),
            );
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
