/**
 * A `registry.leave` is accepted for the signer's own node only, but the node
 * an agent is on came from its own card: an admitted agent could announce
 * itself on another node (a heartbeat naming that node, or a fresh join
 * there after its own node went quiet) and then sign that node's departure,
 * and every other node dropped the victim node's agents. A node that has
 * agents in the registry is now announced only by one of them (a heartbeat's
 * signer, a handshake's challenger); restarts on a new node still work.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { type AgentKeyPair, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { AgentCard } from "../../src/registry/agent-card.js";
import { signCard, signHeartbeat, signLeave } from "../../src/registry/gossip.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { subjects } from "../../src/runtime/subjects.js";
import { handshakeSubject } from "../../src/runtime/trust.js";
import type { Transport } from "../../src/transport/port.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { dev: { tasks: ["code"] } };
const defaults = { heartbeatMs: 50 };
const declared = ["mole", "b1", "b2", "c1", "roamer"].map((id) => ({ id, role: "dev", weight: 1 }));

function setup(name: string) {
  return sharedBrokerNodes({ name, roles, defaults, admission: { mode: "declared", declared } });
}

/** The mole's forged heartbeat: its own card, re-signed for `node`. */
function forgedHeartbeat(card: AgentCard, mole: AgentKeyPair, node: string): Uint8Array {
  const signer = { id: "mole", privateKey: mole.privateKey };
  const cards = [signCard({ ...card, node }, mole.privateKey)];
  return encodeEnvelope(signHeartbeat(signer, { node, cards }, systemClock));
}

function forgedLeave(mole: AgentKeyPair, node: string, agents: string[]): Uint8Array {
  const signer = { id: "mole", privateKey: mole.privateKey };
  return encodeEnvelope(signLeave(signer, { node, agents }, systemClock));
}

async function startNodes(name: string) {
  const mole = generateAgentKeyPair();
  const nodes = setup(name);
  const a = nodes.node("node-a", (id) => (id === "mole" ? mole : generateAgentKeyPair()));
  a.agent({ id: "mole", role: "dev" });
  const b = nodes.node("node-b");
  b.agent({ id: "b1", role: "dev" });
  b.agent({ id: "b2", role: "dev" });
  const c = nodes.node("node-c");
  c.agent({ id: "c1", role: "dev" });
  const events: SwarmEvent[] = [];
  c.on((e) => events.push(e));
  await a.start();
  await b.start();
  await c.start();
  await until(
    () => ["mole", "b1", "b2"].every((id) => c.registry.get(id) !== undefined),
    5000,
    "node-c hears every agent",
  );
  const moleCard = c.registry.get("mole")?.card as AgentCard;
  return { ...nodes, mole, moleCard, a, b, c, events };
}

/**
 * Publishes the mole's claim to be on node-b (a heartbeat by default), and its leave of node-b's
 * agents as soon as node-c has judged the heartbeat (before node-a's next
 * heartbeat can put the mole back): resolves once both were judged.
 */
async function attack(
  swarm: string,
  nodes: Awaited<ReturnType<typeof startNodes>>,
  leaving: string[],
  claim: (bus: Transport) => void = (bus) =>
    bus.publish(subjects.heartbeat(swarm), forgedHeartbeat(nodes.moleCard, nodes.mole, "node-b")),
): Promise<void> {
  const { raw, c, mole } = nodes;
  const bus = raw();
  let judged = false;
  c.on((e) => {
    const moved = e.type === "agent.updated" || e.type === "agent.joined";
    if (judged) return;
    if (
      (moved && e.card.id === "mole" && e.card.node === "node-b") ||
      (e.type === "message.rejected" && /node-b/.test(e.reason))
    ) {
      judged = true;
      bus.publish(subjects.leave(swarm), forgedLeave(mole, "node-b", leaving));
    }
  });
  claim(bus);
  await until(() => judged, 3000, "the forged claim judged");
  await sleep(200);
}

const leftFromB = (events: SwarmEvent[]) =>
  events.filter((e) => e.type === "agent.left" && (e.card.id === "b1" || e.card.id === "b2"));

test("an agent cannot move itself onto another node and sign that node's agents away", async () => {
  const nodes = await startNodes("nodeclaim");
  try {
    await attack("nodeclaim", nodes, ["b1", "b2"]);
    const { c, events } = nodes;
    assert.deepEqual(leftFromB(events), [], "node-b's agents were dropped by the mole's leave");
    assert.ok(c.registry.get("b1") && c.registry.get("b2"));
    assert.equal(c.registry.get("mole")?.card.node, "node-a", "the mole stays on its node");
  } finally {
    await nodes.cleanup();
  }
});

test("an agent whose node went quiet cannot join a populated node and sign it away", async () => {
  const nodes = await startNodes("nodesquat");
  try {
    const { a, c, events } = nodes;
    // The insider runs node-a itself: it stops it, and the mole times out.
    await a.close();
    await until(() => c.registry.get("mole") === undefined, 5000, "the mole timed out");
    await attack("nodesquat", nodes, ["b1", "b2", "mole"]);
    assert.deepEqual(leftFromB(events), [], "node-b's agents were dropped by the mole's leave");
    assert.equal(c.registry.get("mole"), undefined, "the mole joined node-b");
  } finally {
    await nodes.cleanup();
  }
});

test("a handshake's card cannot move its challenger onto another node", async () => {
  const nodes = await startNodes("nodehs");
  try {
    const { c, events, mole, moleCard } = nodes;
    await attack("nodehs", nodes, ["b1", "b2"], (bus) => {
      const challenge = createEnvelope(
        {
          type: "handshake.challenge",
          from: "mole",
          to: "c1",
          body: { nonce: "n", card: { ...moleCard, node: "node-b" } } as never,
        },
        { clock: systemClock },
      );
      const signed = encodeEnvelope(signEnvelope(challenge, mole.privateKey));
      void bus.request(handshakeSubject("nodehs", "node-c"), signed, { timeoutMs: 1000 });
    });
    assert.deepEqual(leftFromB(events), [], "node-b's agents were dropped by the mole's leave");
    assert.equal(c.registry.get("mole")?.card.node, "node-a", "the mole stays on its node");
  } finally {
    await nodes.cleanup();
  }
});

test("an agent restarted on a new node is recorded there, after a graceful stop or a crash", async () => {
  const roamer = generateAgentKeyPair();
  const nodes = setup("noderestart");
  const keys = (id: string) => (id === "roamer" ? roamer : generateAgentKeyPair());
  try {
    const c = nodes.node("node-c");
    c.agent({ id: "c1", role: "dev" });
    const events: SwarmEvent[] = [];
    c.on((e) => events.push(e));
    await c.start();
    const onNode = (node: string) => () => c.registry.get("roamer")?.card.node === node;

    // A graceful stop (its node's leave), then a start on another node.
    const first = nodes.node("node-1", keys);
    first.agent({ id: "roamer", role: "dev" });
    await first.start();
    await until(onNode("node-1"), 5000, "the roamer heard on node-1");
    await first.drain();
    const second = nodes.node("node-2", keys);
    second.agent({ id: "roamer", role: "dev" });
    await second.start();
    await until(onNode("node-2"), 5000, "the roamer heard on node-2 after node-1 left");

    // A crash (no leave), then a start on another node at once: nobody else
    // is on the new node, so the roamer is recorded there without waiting.
    await second.close();
    const third = nodes.node("node-3", keys);
    third.agent({ id: "roamer", role: "dev" });
    await third.start();
    await until(onNode("node-3"), 5000, "the roamer heard on node-3 after node-2 crashed");
    assert.ok(
      !events.some((e) => e.type === "agent.left" && e.card.id === "c1"),
      "node-c's own agent left",
    );
  } finally {
    await nodes.cleanup();
  }
});
