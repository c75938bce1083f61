import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ManualClock, systemClock } from "../../src/core/clock.js";
import { InvalidEnvelopeError, SignatureError } from "../../src/errors/index.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import {
  CardProofs,
  checkHeartbeat,
  checkLeave,
  type HeartbeatCheckContext,
  KnownNodes,
  type LeaveCheckContext,
  type SignedCard,
  signCard,
  signHeartbeat,
  signLeave,
  Throttle,
} from "../../src/registry/gossip.js";
import type { AgentEntry } from "../../src/registry/registry-view.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

describe("known nodes", () => {
  test("a node is new when first heard and again after going silent for the expiry", () => {
    const nodes = new KnownNodes({ expireAfterMs: 1000 });
    assert.equal(nodes.observe("n1", 0), true);
    assert.equal(nodes.observe("n1", 500), false);
    assert.equal(nodes.observe("n1", 1400), false, "heard 900 ms ago: still known");
    assert.equal(nodes.observe("n1", 2401), true, "silent for 1001 ms: new again");
  });

  test("prune forgets silent nodes; the table never holds more than maxNodes", () => {
    const nodes = new KnownNodes({ expireAfterMs: 1000, maxNodes: 3 });
    nodes.observe("a", 0);
    nodes.observe("b", 600);
    nodes.prune(1500);
    assert.equal(nodes.has("a"), false);
    assert.equal(nodes.has("b"), true);
    for (let i = 0; i < 10; i++) nodes.observe(`ghost-${i}`, 1600 + i);
    assert.equal(nodes.size, 3);
    assert.equal(nodes.has("ghost-9"), true, "the most recently heard are kept");
  });
});

describe("throttle", () => {
  test("runs at once, then coalesces requests into one run per interval", () => {
    const clock = new ManualClock(0);
    let runs = 0;
    const throttle = new Throttle(clock, 500, () => runs++);
    throttle.request();
    assert.equal(runs, 1);
    for (let i = 0; i < 100; i++) throttle.request();
    assert.equal(runs, 1, "coalesced while the interval lasts");
    clock.advance(499);
    assert.equal(runs, 1);
    clock.advance(1);
    assert.equal(runs, 2, "one run at the end of the interval");
    clock.advance(10_000);
    assert.equal(runs, 2, "nothing without a request");
    throttle.ran();
    throttle.request();
    assert.equal(runs, 2, "a run made elsewhere counts");
    throttle.cancel();
    clock.advance(1000);
    assert.equal(runs, 2, "cancelled");
  });
});

describe("checkLeave", () => {
  const clock = new ManualClock(1_000_000);
  const lead = generateAgentKeyPair();
  const dev = generateAgentKeyPair();
  const entry = (id: string, node: string, joinedAt = 0): AgentEntry =>
    ({
      card: { id, role: "r", tags: [], capabilities: [], weight: 1, publicKey: "x", node },
      liveness: "alive",
      lastSeen: joinedAt,
      joinedAt,
    }) as AgentEntry;
  const entries = new Map<string, AgentEntry>([
    ["lead", entry("lead", "node-a")],
    ["dev", entry("dev", "node-b")],
    ["dev-2", entry("dev-2", "node-b")],
  ]);
  const context: LeaveCheckContext = {
    keyOf: (id) => (id === "lead" ? lead.publicKey : id === "dev" ? dev.publicKey : undefined),
    entry: (id) => entries.get(id),
    revoked: () => false,
  };
  const devSigner = { id: "dev", privateKey: dev.privateKey };

  test("a leave signed by an agent of the node removes that node's agents only", () => {
    const envelope = signLeave(
      devSigner,
      { node: "node-b", agents: ["dev", "dev-2", "lead", "nobody"] },
      clock,
    );
    assert.deepEqual(checkLeave(envelope, context), ["dev", "dev-2"]);
  });

  test("unsigned, unknown signer, forged signature, another node: SignatureError saying why", () => {
    const unsigned = createEnvelope(
      { type: "registry.leave", from: "node-b", body: { node: "node-b", agents: ["dev"] } },
      { clock },
    );
    assert.throws(
      () => checkLeave(unsigned, context),
      (e: unknown) => {
        assert.ok(e instanceof SignatureError);
        assert.match(e.message, /is unsigned/);
        return true;
      },
    );
    const stranger = signLeave(
      { id: "mallory", privateKey: generateAgentKeyPair().privateKey },
      { node: "node-b", agents: ["dev"] },
      clock,
    );
    assert.throws(() => checkLeave(stranger, context), /whose key this node does not know/);
    const forged = signLeave(
      { id: "dev", privateKey: generateAgentKeyPair().privateKey },
      { node: "node-b", agents: ["dev"] },
      clock,
    );
    assert.throws(() => checkLeave(forged, context), /signature that does not match/);
    const overreach = signLeave(
      { id: "lead", privateKey: lead.privateKey },
      { node: "node-b", agents: ["dev"] },
      clock,
    );
    assert.throws(
      () => checkLeave(overreach, context),
      /may only announce the departure of its own node/,
    );
    assert.throws(
      () =>
        checkLeave(signLeave(devSigner, { node: "node-b", agents: ["dev"] }, clock), {
          ...context,
          revoked: (id) => id === "dev",
        }),
      /revoked/,
    );
  });

  test("a replayed old leave does not remove an agent that joined again since", () => {
    const old = signLeave(devSigner, { node: "node-b", agents: ["dev", "dev-2"] }, clock);
    const rejoined = new Map(entries);
    rejoined.set("dev-2", entry("dev-2", "node-b", old.ts + 60_000));
    assert.deepEqual(checkLeave(old, { ...context, entry: (id) => rejoined.get(id) }), ["dev"]);
  });
});

describe("checkHeartbeat", () => {
  const clock = new ManualClock(1_732_000_000_000);
  const lead = generateAgentKeyPair();
  const dev = generateAgentKeyPair();
  const card = (id: string, keys: typeof lead, node = "node-a", extra: object = {}) =>
    signCard(
      {
        id,
        role: "dev",
        tags: ["ts"],
        capabilities: ["code"],
        weight: 1,
        publicKey: encodePublicKey(keys.publicKey),
        node,
        ...extra,
      },
      keys.privateKey,
    );
  const leadCard = card("lead", lead);
  const devCard = card("dev", dev);
  const pinned = new Map([["lead", lead.publicKey]]);
  const context = (over: Partial<HeartbeatCheckContext> = {}): HeartbeatCheckContext => ({
    keyOf: (id) => pinned.get(id),
    revoked: () => false,
    proofs: new CardProofs(),
    now: clock.now(),
    ...over,
  });
  const beat = (cards: SignedCard[], signer = { id: "lead", privateKey: lead.privateKey }) =>
    signHeartbeat(signer, { node: "node-a", cards }, clock);
  const refused = (f: () => unknown, type: typeof SignatureError, pattern: RegExp) =>
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof type, `a ${type.name}, got ${String(e)}`);
      assert.match((e as Error).message, pattern);
      return true;
    });

  test("a heartbeat signed by one of its agents gives its node and cards, without signatures", () => {
    const heard = checkHeartbeat(beat([leadCard, devCard]), context());
    assert.equal(heard.node, "node-a");
    assert.deepEqual(
      heard.cards.map((c) => [c.id, c.node, "sig" in c]),
      [
        ["lead", "node-a", false],
        ["dev", "node-a", false],
      ],
    );
    // A first contact (signer's key not pinned yet) is checked against its own card.
    assert.equal(
      checkHeartbeat(beat([devCard], { id: "dev", privateKey: dev.privateKey }), context()).cards
        .length,
      1,
    );
  });

  test("unsigned, signed by no listed agent, by a revoked one, forged, or with another key than pinned: refused", () => {
    const unsigned = createEnvelope(
      {
        type: "registry.heartbeat",
        from: "lead",
        body: { node: "node-a", cards: [leadCard] } as never,
      },
      { clock },
    );
    refused(() => checkHeartbeat(unsigned, context()), SignatureError, /is unsigned/);
    refused(
      () => checkHeartbeat(beat([devCard]), context()),
      SignatureError,
      /an agent it does not list/,
    );
    refused(
      () => checkHeartbeat(beat([leadCard]), context({ revoked: (id) => id === "lead" })),
      SignatureError,
      /revoked agent "lead"/,
    );
    const mallory = generateAgentKeyPair();
    refused(
      () =>
        checkHeartbeat(beat([leadCard], { id: "lead", privateKey: mallory.privateKey }), context()),
      SignatureError,
      /signature that does not match/,
    );
    // Mallory lists "lead" with her own key and signs with it: the pinned key says otherwise.
    const squatter = card("lead", mallory);
    refused(
      () =>
        checkHeartbeat(beat([squatter], { id: "lead", privateKey: mallory.privateKey }), context()),
      SignatureError,
      /different public key than the one pinned/,
    );
  });

  test("a card changed after its agent signed it, or listed for another node, is refused", () => {
    const promoted = { ...devCard, weight: 100 };
    refused(
      () => checkHeartbeat(beat([leadCard, promoted]), context()),
      SignatureError,
      /"dev" whose signature does not match/,
    );
    const reowned = { ...devCard, owner: "team-z" };
    refused(
      () => checkHeartbeat(beat([leadCard, reowned]), context()),
      SignatureError,
      /does not match/,
    );
    // A card signed by its agent for another node cannot be attached to this one.
    const elsewhere = card("dev", dev, "node-b");
    refused(
      () => checkHeartbeat(beat([leadCard, elsewhere]), context()),
      SignatureError,
      /for node "node-b"/,
    );
    const moved = { ...elsewhere, node: "node-a" };
    refused(
      () => checkHeartbeat(beat([leadCard, moved]), context()),
      SignatureError,
      /does not match/,
    );
  });

  test("a stale heartbeat (a replay) is refused; a malformed body is an InvalidEnvelopeError", () => {
    const old = beat([leadCard, devCard]);
    refused(
      () => checkHeartbeat(old, context({ now: clock.now() + 31_000 })),
      SignatureError,
      /beyond the 30 s allowed: a replay/,
    );
    assert.equal(checkHeartbeat(old, context({ now: clock.now() + 29_000 })).cards.length, 2);
    const { sig: _sig, ...unsignedCard } = devCard;
    refused(
      () => checkHeartbeat(beat([leadCard, unsignedCard as SignedCard]), context()),
      InvalidEnvelopeError as unknown as typeof SignatureError,
      /its agent's sig/,
    );
  });

  test("card signatures are checked once: later heartbeats compare the text", () => {
    const proofs = new CardProofs();
    assert.equal(proofs.valid(devCard), true);
    assert.equal(proofs.valid(devCard), true);
    assert.equal(proofs.valid({ ...devCard, role: "lead" }), false);
    assert.equal(proofs.valid({ ...devCard, tags: ["ts", "admin"] }), false);
  });
});

const roles = { lead: {}, dev: { tasks: ["code"] } };
const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

/** Nodes of one swarm on one in-process broker, sharing a store. */
const nodes = () => sharedBrokerNodes({ name: "gossip", roles, defaults });

const encode = (type: string, from: string, body: unknown) =>
  encodeEnvelope(createEnvelope({ type, from, body: body as never }));

describe("registry traffic between nodes", () => {
  test("a burst of heartbeats from new node ids is answered by a bounded number of card publications", async () => {
    const { node, raw, cleanup } = nodes();
    try {
      const a = node("node-a");
      a.agent({ id: "lead", role: "lead" });
      await a.start();
      const bus = raw();
      let fromA = 0;
      bus.subscribe("gossip.registry.heartbeat", (m) => {
        if ((decodeEnvelope(m.data).body as { node?: string }).node === "node-a") fromA++;
      });
      await sleep(20);
      fromA = 0;
      const started = Date.now();
      // Validly signed, each by a fresh agent of its own: anyone can make keys.
      const ghosts = Array.from({ length: 200 }, (_, i) => {
        const keys = generateAgentKeyPair();
        const node = `ghost-${i}`;
        const card = signCard(
          {
            id: `ghost-agent-${i}`,
            role: "dev",
            tags: [],
            capabilities: [],
            weight: 1,
            publicKey: encodePublicKey(keys.publicKey),
            node,
          },
          keys.privateKey,
        );
        const signer = { id: card.id, privateKey: keys.privateKey };
        return () => encodeEnvelope(signHeartbeat(signer, { node, cards: [card] }, systemClock));
      });
      for (let i = 0; i < ghosts.length; i++) {
        bus.publish("gossip.registry.heartbeat", (ghosts[i] as () => Uint8Array)());
        if (i % 20 === 0) await sleep(5);
      }
      await sleep(250);
      const elapsed = Date.now() - started;
      // Periodic heartbeats (every 100 ms) plus at most one answer per 50 ms;
      // without the throttle node-a answered each of the 200 new ids.
      const bound = Math.ceil(elapsed / 100) + Math.ceil(elapsed / 50) + 2;
      assert.ok(fromA <= bound, `${fromA} card publications in ${elapsed} ms (bound ${bound})`);
      assert.ok(fromA >= 1, "new nodes are still answered");
      await bus.close();
    } finally {
      await cleanup();
    }
  });

  test("a signed leave removes the leaving node's agents at once; unsigned and forged ones are dead-lettered", async () => {
    const { node, raw, cleanup } = nodes();
    try {
      const a = node("node-a");
      const b = node("node-b");
      const events: SwarmEvent[] = [];
      a.on((e) => events.push(e));
      a.agent({ id: "lead", role: "lead" });
      b.agent({ id: "dev", role: "dev" });
      await a.start();
      await b.start();
      await until(
        () => events.some((e) => e.type === "agent.trusted" && e.agent === "dev"),
        5000,
        "node-a to trust dev",
      );

      // Someone on the bus announces dev's departure without a signature,
      // then with a signature by a key that is not dev's.
      const bus = raw();
      bus.publish(
        "gossip.registry.leave",
        encode("registry.leave", "node-b", { node: "node-b", agents: ["dev"] }),
      );
      const mallory = generateAgentKeyPair();
      bus.publish(
        "gossip.registry.leave",
        encodeEnvelope(
          signLeave(
            { id: "dev", privateKey: mallory.privateKey },
            { node: "node-b", agents: ["dev"] },
            new ManualClock(Date.now()),
          ),
        ),
      );
      // Every node hearing them dead-letters them (both nodes here).
      await until(
        async () =>
          (await a.store.deadLetters()).filter((d) => d.subject === "gossip.registry.leave")
            .length === 4,
        5000,
        "the forged leaves to be dead-lettered",
      );
      const rejected = events.filter(
        (e) => e.type === "message.rejected" && e.subject === "gossip.registry.leave",
      );
      assert.equal(rejected.length, 2, "node-a rejected both");
      const reasons = (await a.store.deadLetters()).map((d) => d.reason).join("\n");
      assert.match(reasons, /SignatureError: registry\.leave from "node-b" is unsigned/);
      assert.match(reasons, /SignatureError: .*signature that does not match/);
      assert.ok(a.registry.get("dev"), "dev is still in node-a's registry");
      assert.ok(!events.some((e) => e.type === "agent.left"), "nobody left");

      // node-b drains: its signed leave removes dev before any timeout could.
      const drainedAt = Date.now();
      await b.drain();
      await until(
        () => events.some((e) => e.type === "agent.left" && e.card.id === "dev"),
        2000,
        "dev to leave",
      );
      const left = events.find((e) => e.type === "agent.left" && e.card.id === "dev");
      assert.equal(left?.type === "agent.left" ? left.reason : undefined, "left");
      assert.ok(Date.now() - drainedAt < 1000, "at once, not after leftAfterMs");
      await bus.close();
    } finally {
      await cleanup();
    }
  });
});
