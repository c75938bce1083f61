/**
 * Garbage published on a running swarm's subjects by a raw client.
 *
 * Two agent processes (signatures required, a 64 KiB envelope limit, both
 * subscribed to every event) run on a broker; the test connects with the
 * broker's own driver, not conclave, and publishes: non-JSON, an empty
 * payload, oversized, schema-invalid, unsigned, a forged signature, a
 * tampered body under a real signature, and an unknown signer — durably to
 * the task subjects, and on the core bus to the event and registry subjects.
 * Every one must be dead-lettered (recorded in the store's dead letters)
 * with a reason that names the error class, and no agent process may crash:
 * afterwards both still run, valid tasks complete, and they drain cleanly.
 *
 * Runs on NATS JetStream (a private nats-server) and on RabbitMQ (amqplib
 * publishing to the swarm's topic exchange) when one answers at
 * CONCLAVE_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { encodePublicKey } from "../../src/identity/index.js";
import { queueNames, subjects } from "../../src/runtime/subjects.js";
import type { DeadLetterRecord } from "../../src/store/port.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createEnvelope, type Envelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";
import { agentKeys } from "./fixtures/keys.js";
import {
  amqpMissing,
  amqpUrl,
  assertAvailable,
  killAll,
  type NodeProcess,
  randomSwarmName,
  requirement,
  startNode,
  until,
} from "./fixtures/processes.js";
import type { NodeSpec } from "./fixtures/swarm-node.js";

const MAX_ENVELOPE_BYTES = 64 * 1024;
const enc = new TextEncoder();

/** What the test publishes with: the broker's own client. */
interface RawClient {
  /** A durable publish onto the task subjects (JetStream / a confirmed persistent publish). */
  /** Without `id`, the message carries no message id at all (as a careless client sends). */
  durable(subject: string, data: Uint8Array, id: string | undefined): Promise<void>;
  /** A core publish (fan-out). */
  core(subject: string, data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

interface Broker {
  readonly transport: NodeSpec["transport"];
  raw(swarm: string): Promise<RawClient>;
  /** Removes what the swarm left on the broker. */
  cleanup(swarm: string): Promise<void>;
  stop(): Promise<void>;
}

async function natsBroker(): Promise<Broker> {
  const server: NatsServer = await startNatsServer();
  const { connect } = await import("@nats-io/transport-node");
  const { jetstream } = await import("@nats-io/jetstream");
  return {
    transport: { kind: "nats", servers: [server.url] },
    async raw() {
      const nc = await connect({ servers: server.url });
      const js = jetstream(nc);
      return {
        async durable(subject, data, id) {
          await js.publish(subject, data, id === undefined ? {} : { msgID: id });
        },
        async core(subject, data) {
          nc.publish(subject, data);
          await nc.flush();
        },
        close: () => nc.close(),
      };
    },
    async cleanup() {
      // The server and its store directory go away with stop().
    },
    stop: () => server.stop(),
  };
}

async function amqpBroker(): Promise<Broker> {
  const amqplib = (await import("amqplib")).default;
  return {
    transport: { kind: "amqp", url: amqpUrl },
    async raw(swarm) {
      const connection = await amqplib.connect(amqpUrl, { timeout: 10_000 });
      const channel = await connection.createConfirmChannel();
      return {
        async durable(subject, data, id) {
          channel.publish(swarm, subject, Buffer.from(data), {
            persistent: true,
            ...(id === undefined ? {} : { messageId: id }),
          });
          await channel.waitForConfirms();
        },
        async core(subject, data) {
          channel.publish(swarm, subject, Buffer.from(data));
          await channel.waitForConfirms();
        },
        async close() {
          await channel.close().catch(() => {});
          await connection.close().catch(() => {});
        },
      };
    },
    async cleanup(swarm) {
      const { deleteAmqpTopology } = await import("../../src/transport/amqp/index.js");
      await deleteAmqpTopology({
        url: amqpUrl,
        exchange: swarm,
        queues: [queueNames.role(swarm, "worker"), queueNames.deadLetters(swarm)],
      });
    },
    async stop() {},
  };
}

/** An envelope of task type `task.work`, unsigned, as a raw client would build it. */
function envelope(from: string, body: Record<string, unknown>, type = "task.work"): Envelope {
  return createEnvelope({ type, from, body: body as never });
}

const json = (value: unknown) => enc.encode(JSON.stringify(value));
const b64 = (data: Uint8Array) => Buffer.from(data).toString("base64");

interface Garbage {
  readonly name: string;
  readonly subject: string;
  readonly data: Uint8Array;
  /** The dead letter's reason must match this (it starts with the error class). */
  readonly reason: RegExp;
}

function garbageSuite(kind: "nats" | "amqp", missing: () => Promise<string | undefined>) {
  const label = `garbage on the swarm's subjects (${kind})`;
  describe(label, () => {
    let skip: string | false = false;
    let unavailable: string | undefined;
    let broker: Broker | undefined;
    let store: SqliteStore | undefined;
    const swarm = randomSwarmName(`garbage-${kind}`);
    const work = mkdtempSync(join(tmpdir(), "conclave-garbage-"));
    const storePath = join(work, "swarm.db");
    const nodes: NodeProcess[] = [];
    const forger: KeyObject = generateKeyPairSync("ed25519").privateKey;
    const mallory = generateKeyPairSync("ed25519");

    before(async () => {
      unavailable = await missing();
      skip = requirement(label, unavailable);
      if (skip) return;
      assertAvailable(label, unavailable);
      broker = kind === "nats" ? await natsBroker() : await amqpBroker();
      const spec = (id: string): NodeSpec => ({
        swarm,
        transport: broker?.transport as NodeSpec["transport"],
        store: `sqlite:${storePath}`,
        roles: { worker: { tasks: ["work"] } },
        defaults: {
          ackWaitMs: 5_000,
          // Low: a task from an unknown signer is held ~5 s per delivery
          // waiting for its card and handshake (agent.ts), then retried.
          maxDeliver: 2,
          heartbeatMs: 200,
          backoff: { baseMs: 20, maxMs: 200, factor: 2, jitter: "full" },
        },
        maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
        agents: [{ id, role: "worker", concurrency: 4 }],
        events: ">",
      });
      nodes.push(
        ...(await Promise.all([
          startNode(spec("worker-a"), "worker-a"),
          startNode(spec("worker-b"), "worker-b"),
        ])),
      );
      for (const node of nodes) {
        for (const id of ["worker-a", "worker-b"]) {
          await node.waitFor(
            (l) => l.type === "agent.joined" && (l["card"] as { id: string }).id === id,
            10_000,
            `${id} joined`,
          );
        }
      }
      store = openSqliteStore({ path: storePath });
    });

    after(async () => {
      await killAll(nodes);
      await store?.close();
      await broker?.cleanup(swarm).catch(() => {});
      await broker?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    /** Publishes each garbage message, then waits until each has its dead letter(s). */
    const publishAndCollect = async (
      cases: readonly Garbage[],
      send: (raw: RawClient, g: Garbage, i: number) => Promise<void>,
      copies: number,
      timeoutMs = 20_000,
    ): Promise<Map<string, DeadLetterRecord[]>> => {
      assert.ok(broker && store);
      const raw = await broker.raw(swarm);
      const sentAt = Date.now();
      try {
        for (const [i, g] of cases.entries()) await send(raw, g, i);
      } finally {
        await raw.close();
      }
      lastSentAt = sentAt;
      const found = new Map<string, DeadLetterRecord[]>();
      const collect = async () => {
        const letters = await (store as SqliteStore).deadLetters({ limit: 10_000 });
        for (const g of cases) {
          found.set(
            g.name,
            letters.filter((d) => d.subject === g.subject && d.data === b64(g.data)),
          );
        }
        return cases.every((g) => (found.get(g.name)?.length ?? 0) >= copies);
      };
      await until(collect, timeoutMs, "a dead letter for every garbage message", 100).catch(
        (error: unknown) => {
          const missingOnes = cases
            .filter((g) => (found.get(g.name)?.length ?? 0) < copies)
            .map((g) => g.name);
          const rejected = nodes.flatMap((n) =>
            n.lines.filter(
              (l) =>
                l.type === "message.rejected" ||
                l.type === "transport.error" ||
                l.type === "error" ||
                (l.type === "agent.joined" &&
                  !["worker-a", "worker-b"].includes(String((l["card"] as { id: unknown }).id))),
            ),
          );
          throw new Error(
            `${String(error)}: none (or too few) for ${missingOnes.join(", ")}; rejections seen: ${JSON.stringify(rejected.slice(-10))}`,
          );
        },
      );
      return found;
    };

    let lastSentAt = 0;
    /** How long after publishing each was dead-lettered, for the diagnostics. */
    const latencies = (cases: readonly Garbage[], found: Map<string, DeadLetterRecord[]>) =>
      cases
        .map((g) => {
          const ats = (found.get(g.name) ?? []).map((d) => d.at - lastSentAt);
          return `${g.name} ${ats.length > 0 ? `${Math.max(...ats)} ms` : "-"}`;
        })
        .join(", ");

    const checkReasons = (cases: readonly Garbage[], found: Map<string, DeadLetterRecord[]>) => {
      for (const g of cases) {
        for (const letter of found.get(g.name) ?? []) {
          assert.match(letter.reason, g.reason, `${g.name}: the reason names the error`);
          assert.ok(letter.at > 0 && letter.deliveries >= 1, `${g.name}: when and how often`);
        }
      }
    };

    test("on the task subjects (durable publish): each is dead-lettered with its reason", async (t) => {
      if (skip) return t.skip(skip);
      const task = (name: string) => subjects.task(swarm, "worker", `garbage-${name}`);
      const realKey = agentKeys(swarm, "worker-a").privateKey;
      const signedThenTampered = signEnvelope(envelope("worker-a", { n: 1 }), realKey);
      const cases: Garbage[] = [
        {
          name: "non-JSON",
          subject: task("nonjson"),
          data: enc.encode("this is {not json"),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "non-JSON, no message id (1)",
          subject: task("noid1"),
          data: enc.encode("no id, first"),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "non-JSON, no message id (2)",
          subject: task("noid2"),
          data: enc.encode("no id, second"),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "empty",
          subject: task("empty"),
          data: new Uint8Array(0),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "oversized",
          subject: task("oversized"),
          data: json({ ...envelope("worker-a", { pad: "x".repeat(MAX_ENVELOPE_BYTES + 1_000) }) }),
          reason: /^EnvelopeTooLargeError: /,
        },
        {
          name: "schema-invalid",
          subject: task("schema"),
          data: json({ hello: "world" }),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "schema-invalid signature",
          subject: task("badsig"),
          data: json({ ...envelope("worker-a", { n: 1 }), sig: "not-a-signature" }),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "unsigned",
          subject: task("unsigned"),
          data: json(envelope("worker-a", { n: 1 })),
          reason: /^SignatureError: .*unsigned/,
        },
        {
          name: "forged signature",
          subject: task("forged"),
          data: json(signEnvelope(envelope("worker-a", { n: 1 }), forger)),
          reason: /^SignatureError: /,
        },
        {
          name: "tampered body",
          subject: task("tampered"),
          data: json({ ...signedThenTampered, body: { n: 2 } }),
          reason: /^SignatureError: /,
        },
        {
          name: "unknown signer",
          subject: task("unknown"),
          data: json(signEnvelope(envelope("mallory", { n: 1 }), mallory.privateKey)),
          reason: /^(delivered \d+ times .*)?UnknownSignerError: |^SignatureError: .*mallory/,
        },
      ];
      const found = await publishAndCollect(
        cases,
        (raw, g, i) =>
          raw.durable(
            g.subject,
            g.data,
            g.name.includes("no message id") ? undefined : `garbage-${swarm}-${i}`,
          ),
        1,
      );
      checkReasons(cases, found);
      t.diagnostic(`dead-lettered after: ${latencies(cases, found)}`);
      for (const g of cases) {
        assert.equal(found.get(g.name)?.length, 1, `${g.name}: dead-lettered once`);
      }
      const effects = await (store as SqliteStore).effects("work.done");
      assert.equal(effects.length, 0, "no garbage task was handled");
    });

    test("on the event and registry subjects (core publish): each is dead-lettered with its reason", async (t) => {
      if (skip) return t.skip(skip);
      const event = (name: string) => subjects.event(swarm, `garbage.${name}`);
      const heartbeat = subjects.heartbeat(swarm);
      const leave = subjects.leave(swarm);
      const nodeMessage = (type: string, body: Record<string, unknown>) =>
        json(createEnvelope({ type, from: "node-raw", body: body as never }));
      const cases: Garbage[] = [
        {
          name: "event non-JSON",
          subject: event("nonjson"),
          data: enc.encode("\u0000\u0001garbage"),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "event oversized",
          subject: event("oversized"),
          data: json(
            envelope(
              "worker-a",
              { pad: "y".repeat(MAX_ENVELOPE_BYTES + 1_000) },
              "garbage.oversized",
            ),
          ),
          reason: /^EnvelopeTooLargeError: /,
        },
        {
          name: "event schema-invalid",
          subject: event("schema"),
          data: json({ type: 42 }),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "event unsigned",
          subject: event("unsigned"),
          data: json(envelope("worker-a", { n: 1 }, "garbage.unsigned")),
          reason: /^SignatureError: .*unsigned/,
        },
        {
          name: "event forged",
          subject: event("forged"),
          data: json(signEnvelope(envelope("worker-a", { n: 1 }, "garbage.forged"), forger)),
          reason: /^SignatureError: /,
        },
        {
          name: "heartbeat non-JSON",
          subject: heartbeat,
          data: enc.encode("{{{"),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "heartbeat oversized",
          subject: heartbeat,
          data: nodeMessage("registry.heartbeat", {
            node: "node-raw",
            cards: [],
            pad: "z".repeat(MAX_ENVELOPE_BYTES),
          }),
          reason: /^EnvelopeTooLargeError: /,
        },
        {
          name: "heartbeat schema-invalid",
          subject: heartbeat,
          data: json({ from: "x" }),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          name: "heartbeat cards not a list",
          subject: heartbeat,
          data: nodeMessage("registry.heartbeat", { node: "node-raw", cards: "all of them" }),
          reason: /^\w+Error: .*cards/,
        },
        {
          // A heartbeat (re)writes cards in every registry: it must be signed.
          name: "heartbeat unsigned",
          subject: heartbeat,
          data: nodeMessage("registry.heartbeat", { node: "node-raw", cards: [] }),
          reason:
            /^SignatureError: registry\.heartbeat of node "node-raw" from "node-raw" is unsigned/,
        },
        {
          name: "leave non-JSON",
          subject: leave,
          data: enc.encode("bye?"),
          reason: /^InvalidEnvelopeError: /,
        },
        {
          // A leave removes agents from every registry: it must be signed.
          name: "leave unsigned",
          subject: leave,
          data: nodeMessage("registry.leave", { node: "node-raw", agents: ["worker-a"] }),
          reason: /^SignatureError: registry\.leave from "node-raw" is unsigned/,
        },
        {
          name: "leave forged",
          subject: leave,
          data: json(
            signEnvelope(
              createEnvelope({
                type: "registry.leave",
                from: "worker-a",
                body: { node: "node-raw", agents: ["worker-a"] } as never,
              }),
              forger,
            ),
          ),
          reason: /^SignatureError: /,
        },
      ];
      // Every node parks what it receives: one dead letter per node.
      const found = await publishAndCollect(
        cases,
        (raw, g) => raw.core(g.subject, g.data),
        nodes.length,
      );
      checkReasons(cases, found);
      t.diagnostic(`dead-lettered after: ${latencies(cases, found)}`);
    });

    test("malformed agent cards in a well-formed heartbeat are dead-lettered, not registered", async (t) => {
      if (skip) return t.skip(skip);
      const heartbeat = subjects.heartbeat(swarm);
      const withCards = (cards: unknown[]) =>
        json(
          createEnvelope({
            type: "registry.heartbeat",
            from: "node-raw",
            body: { node: "node-raw", cards } as never,
          }),
        );
      const cases: Garbage[] = [
        { name: "a null card", subject: heartbeat, data: withCards([null]), reason: /Error: / },
        {
          name: "a card with a numeric id",
          subject: heartbeat,
          data: withCards([{ id: 5 }]),
          reason: /Error: /,
        },
        {
          name: "a card without a public key",
          subject: heartbeat,
          data: withCards([{ id: "ghost", role: "worker", tags: [], capabilities: [], weight: 1 }]),
          reason: /Error: /,
        },
      ];
      const found = await publishAndCollect(
        cases,
        (raw, g) => raw.core(g.subject, g.data),
        nodes.length,
        8_000,
      );
      checkReasons(cases, found);
      t.diagnostic(`dead-lettered after: ${latencies(cases, found)}`);
      for (const node of nodes) {
        assert.ok(
          !node.lines.some(
            (l) => l.type === "agent.joined" && (l["card"] as { id: unknown }).id === "ghost",
          ),
          `${node.label} did not register the card without a key`,
        );
      }
    });

    test("a forged card cannot replace a known agent's key", async (t) => {
      if (skip) return t.skip(skip);
      assert.ok(broker && store);
      const forgedKey = generateKeyPairSync("ed25519");
      const card = {
        id: "worker-a",
        role: "worker",
        tags: [],
        capabilities: [],
        weight: 1,
        publicKey: encodePublicKey(forgedKey.publicKey),
      };
      const task = subjects.task(swarm, "worker", "garbage-after-forged-card");
      const signed = json(signEnvelope(envelope("worker-a", { n: 1 }), forgedKey.privateKey));
      const raw = await broker.raw(swarm);
      try {
        for (let i = 0; i < 3; i++) {
          await raw.core(
            subjects.heartbeat(swarm),
            json(
              createEnvelope({
                type: "registry.heartbeat",
                from: "node-raw",
                body: { node: "node-raw", cards: [card] } as never,
              }),
            ),
          );
        }
        await raw.durable(task, signed, `forged-card-${swarm}`);
      } finally {
        await raw.close();
      }
      for (const node of nodes) {
        await node.waitFor(
          (l) =>
            l.type === "message.rejected" &&
            l["code"] === "E_SIGNATURE" &&
            String(l["reason"]).includes("worker-a"),
          10_000,
          "the forged card rejected",
        );
      }
      await until(
        async () => (await (store as SqliteStore).deadLetters()).some((d) => d.subject === task),
        20_000,
        "the task signed with the forged key dead-lettered",
      );
      const letter = (await (store as SqliteStore).deadLetters()).find((d) => d.subject === task);
      assert.match(letter?.reason ?? "", /^SignatureError: /);
      assert.equal((await (store as SqliteStore).effects("work.done")).length, 0);
    });

    test("a card announced by a raw client does not make its key trusted (handshake)", async (t) => {
      if (skip) return t.skip(skip);
      assert.ok(broker && store);
      const card = {
        id: "mallory",
        role: "worker",
        tags: [],
        capabilities: [],
        weight: 1,
        publicKey: encodePublicKey(mallory.publicKey),
      };
      const task = subjects.task(swarm, "worker", "garbage-from-announced-stranger");
      const raw = await broker.raw(swarm);
      try {
        // Keep announcing, as a live node would, while the task waits.
        const announce = () =>
          raw.core(
            subjects.heartbeat(swarm),
            json(
              createEnvelope({
                type: "registry.heartbeat",
                from: "node-mallory",
                body: { node: "node-mallory", cards: [card] } as never,
              }),
            ),
          );
        await announce();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await raw.durable(
          task,
          json(signEnvelope(envelope("mallory", { n: 1 }), mallory.privateKey)),
          `stranger-${swarm}`,
        );
        const end = Date.now() + 3_000;
        while (Date.now() < end) {
          await announce();
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } finally {
        await raw.close();
      }
      await until(
        async () => (await (store as SqliteStore).deadLetters()).some((d) => d.subject === task),
        20_000,
        "the stranger's task dead-lettered",
      ).catch(async (error: unknown) => {
        const effects = await (store as SqliteStore).effects("work.done");
        throw new Error(
          `${String(error)}; work.done effects: ${effects.length} (a task signed by a key only announced in an unauthenticated heartbeat was ${effects.length > 0 ? "HANDLED" : "not settled"})`,
        );
      });
      assert.equal((await (store as SqliteStore).effects("work.done")).length, 0, "never handled");
      const letter = (await (store as SqliteStore).deadLetters()).find((d) => d.subject === task);
      t.diagnostic(`dead-lettered: ${letter?.reason}`);
    });

    test("no agent crashed: both still handle valid tasks and drain cleanly", async (t) => {
      if (skip) return t.skip(skip);
      for (const node of nodes) {
        assert.ok(node.running, `${node.label} is still running`);
        assert.equal(
          node.lines.find((l) => l.type === "fatal"),
          undefined,
          `${node.label} did not crash`,
        );
      }
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        const node = nodes[i % nodes.length] as NodeProcess;
        node.send({
          cmd: "submit",
          role: "worker",
          task: "work",
          body: { valid: i },
          as: node.label,
          ref: `valid-${i}`,
        });
        const line = await node.waitFor(
          (l) => l.type === "submitted" && l["ref"] === `valid-${i}`,
          10_000,
          `valid-${i}`,
        );
        ids.push(String(line["id"]));
      }
      await until(
        async () => {
          const done = new Set(
            (await (store as SqliteStore).effects("work.done")).map((e) => e.key),
          );
          return ids.every((id) => done.has(id));
        },
        20_000,
        "the valid tasks to complete",
      );
      const stats = await (store as SqliteStore).effectStats("work.done");
      assert.equal(stats.duplicateKeys, 0);
      for (const node of nodes) {
        assert.equal(await node.drain(), 0, `${node.label} drained cleanly\n${node.stderr()}`);
        assert.equal(
          node.lines.find((l) => l.type === "fatal"),
          undefined,
          `${node.label} did not crash`,
        );
      }
    });
  });
}

garbageSuite("nats", async () =>
  natsServerAvailable() ? undefined : "nats-server is not on PATH",
);
garbageSuite("amqp", () => amqpMissing());
