/**
 * An outsider on a real broker (NATS JetStream, RabbitMQ): a raw client —
 * the broker's own driver, not conclave — with its own Ed25519 key
 * announces an agent no swarm file declares (`py-1`, claiming the architect
 * role), sends it signed tasks, and votes as a council member of weight
 * 1000. The swarm (`conclave up`, `admission: declared` by default) refuses
 * it on every node: its heartbeats and tasks are dead-lettered with
 * `E_NOT_ADMITTED`, nothing it sent runs, and the swarm's own work
 * completes as if it were not there.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { signCard, signHeartbeat } from "../../src/registry/gossip.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { finish, reviewSwarmYaml, start } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";
import { amqpMissing, amqpUrl, randomSwarmName } from "./fixtures/processes.js";

interface Raw {
  publish(subject: string, data: Uint8Array): Promise<void>;
  enqueue(subject: string, data: Uint8Array, id: string): Promise<void>;
  close(): Promise<void>;
}

async function natsRaw(url: string): Promise<Raw> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstream } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: url });
  const js = jetstream(nc);
  return {
    publish: async (subject, data) => {
      nc.publish(subject, data);
      await nc.flush();
    },
    enqueue: async (subject, data, id) => {
      await js.publish(subject, data, { msgID: id });
    },
    close: () => nc.close(),
  };
}

async function amqpRaw(url: string, exchange: string): Promise<Raw> {
  const amqplib = (await import("amqplib")).default;
  const connection = await amqplib.connect(url, { timeout: 10_000 });
  const channel = await connection.createConfirmChannel();
  const send = (subject: string, data: Uint8Array, options: object) =>
    new Promise<void>((resolve, reject) =>
      channel.publish(exchange, subject, Buffer.from(data), options, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  return {
    publish: (subject, data) => send(subject, data, {}),
    enqueue: (subject, data, id) => send(subject, data, { persistent: true, messageId: id }),
    close: async () => {
      await channel.close();
      await connection.close();
    },
  };
}

const brokers = [
  { name: "NATS", kind: "nats" as const },
  { name: "RabbitMQ", kind: "amqp" as const },
];

for (const broker of brokers) {
  describe(`an outsider on ${broker.name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-outsider-"));
    let nats: NatsServer | undefined;
    after(async () => {
      await nats?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("is refused on every node: its heartbeats and tasks dead-lettered with E_NOT_ADMITTED, nothing it sent runs", async (t) => {
      let url: string;
      if (broker.kind === "nats") {
        if (!natsServerAvailable() && process.env["CI"] !== "true") return t.skip("no nats-server");
        nats = await startNatsServer();
        url = nats.url;
      } else {
        const missing = await amqpMissing();
        if (missing !== undefined && process.env["CI"] !== "true") return t.skip(missing);
        url = amqpUrl;
      }
      const swarm = randomSwarmName("outsider");
      const file = join(dir, "swarm.yaml");
      writeFileSync(
        file,
        reviewSwarmYaml({ name: swarm, head: `transport: ${url}\n`, workload: { tasks: 6 } }),
      );
      // Two nodes of the swarm, as separate processes.
      const a = start(["agent", "--swarm", file, "--id", "dev-1,sentinel", "--json"], dir);
      const aDone = finish(a);
      const b = start(
        ["up", file, "--agents", "architect,dev-2,auditor", "--forever", "--json"],
        dir,
      );
      const bDone = finish(b);
      let bOut = "";
      b.stdout?.on("data", (d: Buffer) => {
        bOut += d.toString();
      });
      // The swarm's queues and exchange exist once its work is under way.
      await until(() => bOut.includes('"type":"task.completed"'), 60_000, "the swarm at work", 100);
      const raw = broker.kind === "nats" ? await natsRaw(url) : await amqpRaw(url, swarm);
      try {
        // The outsider's own key and card: py-1, claiming to be an architect.
        const py = generateAgentKeyPair();
        const card = signCard(
          {
            id: "py-1",
            role: "architect",
            tags: [],
            capabilities: [],
            weight: 1000,
            publicKey: encodePublicKey(py.publicKey),
            node: "node-py",
          },
          py.privateKey,
        );
        const store = openSqliteStore({ path: join(dir, ".conclave", `${swarm}.db`) });
        const dead = async () =>
          (await store.deadLetters()).filter((d) => /E_NOT_ADMITTED/.test(d.reason));
        const taskIds: string[] = [];
        await until(
          async () => {
            const heartbeat = signHeartbeat(
              { id: "py-1", privateKey: py.privateKey },
              { node: "node-py", cards: [card] },
              { now: Date.now, setTimer: () => () => undefined },
            );
            await raw.publish(`${swarm}.registry.heartbeat`, encodeEnvelope(heartbeat));
            const task = createSignedEnvelope(
              { type: "task.code", from: "py-1", body: { n: 999, module: "pwn", author: "py-1" } },
              py.privateKey,
            );
            taskIds.push(task.id);
            await raw.enqueue(`${swarm}.task.developer.code`, encodeEnvelope(task), task.id);
            const letters = await dead();
            return (
              letters.some((d) => d.subject === `${swarm}.registry.heartbeat`) &&
              letters.some((d) => d.subject === `${swarm}.task.developer.code`)
            );
          },
          60_000,
          "the outsider's heartbeat and task dead-lettered with E_NOT_ADMITTED",
          500,
        );
        for (const id of taskIds)
          assert.equal(await store.isCompleted(id), false, "nothing the outsider sent ran");
        const refusedBy = new Set(
          (await dead())
            .filter((d) => d.subject === `${swarm}.registry.heartbeat`)
            .map((d) => d.id),
        );
        assert.ok(refusedBy.size >= 1);
        await store.close();
      } finally {
        await raw.close();
        a.kill("SIGTERM");
        b.kill("SIGTERM");
      }
      const [runA, runB] = await Promise.all([aDone, bDone]);
      for (const run of [runA, runB]) {
        const lines = run.stdout
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { type: string; agent?: string });
        assert.ok(
          !lines.some((l) => l.type === "agent.trusted" && l.agent === "py-1"),
          "no node trusted py-1",
        );
        assert.ok(
          !lines.some((l) => l.type === "agent.joined" && l.agent === "py-1"),
          "no node let py-1 join",
        );
      }
      assert.ok(
        [runA, runB].some(
          (run) => run.stdout.includes('"type":"agent.refused"') && run.stdout.includes('"py-1"'),
        ),
        "the refusal is reported",
      );
    });
  });
}
