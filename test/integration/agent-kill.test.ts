/**
 * `kill -9` of an agent process in the middle of a task.
 *
 * Two worker processes (one agent each) share a role queue on a broker; a
 * third process submits one slow task and watches the registry. The worker
 * that takes the task is SIGKILLed while its handler runs. The task must come
 * back to the other worker and complete once: one effect in the shared store.
 * The surviving nodes' registries must mark the killed agent suspect, then
 * left.
 *
 * - NATS JetStream (a private nats-server): the dead worker held the lease,
 *   so the task comes back only after the ack deadline, not before.
 * - RabbitMQ (when one answers at CONCLAVE_TEST_AMQP_URL): the broker takes
 *   the unacked task back as soon as the dead worker's connection drops
 *   (`features.releasesOnClose`), so it may come back sooner.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { queueNames } from "../../src/runtime/subjects.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport } from "../../src/transport/nats/index.js";
import {
  amqpMissing,
  amqpUrl,
  assertAvailable,
  killAll,
  type NodeLine,
  type NodeProcess,
  randomSwarmName,
  requirement,
  startNode,
  until,
} from "./fixtures/processes.js";
import type { NodeSpec } from "./fixtures/swarm-node.js";

const ACK_WAIT_MS = 2_000;
const HANDLER_MS = 3_000;
function agentKillSuite(kind: "nats" | "amqp", missing: () => Promise<string | undefined>) {
  const label = `agent process killed mid-task (${kind})`;
  describe(label, () => {
    const swarm = randomSwarmName(`agentkill-${kind}`);
    const work = mkdtempSync(join(tmpdir(), "conclave-agentkill-"));
    const storePath = join(work, "swarm.db");
    const nodes: NodeProcess[] = [];
    let server: NatsServer | undefined;

    after(async () => {
      await killAll(nodes);
      await server?.stop();
      if (kind === "amqp") {
        const { deleteAmqpTopology } = await import("../../src/transport/amqp/index.js");
        await deleteAmqpTopology({
          url: amqpUrl,
          exchange: swarm,
          queues: ["worker", "client"]
            .map((r) => queueNames.role(swarm, r))
            .concat(queueNames.deadLetters(swarm)),
        }).catch(() => {});
      }
      rmSync(work, { recursive: true, force: true });
    });

    test(`the task is redelivered to the other agent${kind === "nats" ? " after the ack deadline" : " when the connection drops"} and completes once; the killed agent goes suspect, then left`, {
      timeout: 90_000,
    }, async (t) => {
      const unavailable = await missing();
      const skip = requirement(label, unavailable);
      if (skip) return t.skip(skip);
      assertAvailable(label, unavailable);
      let transport: NodeSpec["transport"];
      if (kind === "nats") {
        server = await startNatsServer();
        transport = { kind: "nats", servers: [server.url] };
      } else {
        transport = { kind: "amqp", url: amqpUrl };
      }
      const base = {
        swarm,
        transport,
        store: `sqlite:${storePath}`,
        roles: { client: {}, worker: { tasks: ["slow"] } },
        defaults: {
          ackWaitMs: ACK_WAIT_MS,
          maxDeliver: 5,
          heartbeatMs: 200,
          suspectAfterMs: 800,
          leftAfterMs: 2_500,
          backoff: { baseMs: 50, maxMs: 500, factor: 2, jitter: "full" },
        },
        handler: { sleepMs: HANDLER_MS },
      } satisfies Omit<NodeSpec, "agents">;
      const [workerA, workerB, observer] = await Promise.all([
        startNode({ ...base, agents: [{ id: "worker-a", role: "worker" }] }, "worker-a"),
        startNode({ ...base, agents: [{ id: "worker-b", role: "worker" }] }, "worker-b"),
        startNode({ ...base, agents: [{ id: "client", role: "client" }] }, "observer"),
      ]);
      nodes.push(workerA, workerB, observer);
      const joined = (id: string) => (l: NodeLine) =>
        l.type === "agent.joined" && (l["card"] as { id: string }).id === id;
      for (const node of [workerA, workerB, observer]) {
        for (const id of ["worker-a", "worker-b", "client"]) {
          await node.waitFor(joined(id), 10_000, `${id} in the registry of ${node.label}`);
        }
      }

      observer.send({ cmd: "submit", role: "worker", task: "slow", body: { n: 1 }, ref: "slow" });
      const submitted = await observer.waitFor((l) => l.type === "submitted", 10_000, "submitted");
      const id = String(submitted["id"]);
      const handling = (attempt: number) => (l: NodeLine) =>
        l.type === "handling" && l["id"] === id && l["attempt"] === attempt;
      const first = await Promise.any([
        workerA.waitFor(handling(1), 10_000, "the task").then(() => workerA),
        workerB.waitFor(handling(1), 10_000, "the task").then(() => workerB),
      ]);
      const victim = first;
      const survivor = first === workerA ? workerB : workerA;
      const victimId = victim.label;
      // Mid-task: the handler sleeps HANDLER_MS, extending its lease meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await victim.kill();
      const killedAt = Date.now();
      t.diagnostic(`SIGKILLed ${victimId} (pid ${victim.pid}) while it handled ${id}`);
      assert.equal((await victim.exited).signal, "SIGKILL");

      await survivor.waitFor(handling(2), ACK_WAIT_MS + 5_000, "the redelivered task");
      const redeliveredAfter = Date.now() - killedAt;
      t.diagnostic(`redelivered to ${survivor.label} ${redeliveredAfter} ms after the kill`);
      if (kind === "nats") {
        // The dead worker last extended its lease at most ackWait/3 before the
        // kill, so the task cannot come back sooner than about 2/3 of ackWait.
        assert.ok(
          redeliveredAfter >= ACK_WAIT_MS / 2,
          `redelivered only after the ack deadline (${redeliveredAfter} ms)`,
        );
      }
      const done = await survivor.waitFor(
        (l) => l.type === "task.completed" && l["id"] === id,
        HANDLER_MS + 5_000,
        "the task to complete",
      );
      assert.equal(done["agent"], survivor.label);
      assert.equal(done["attempt"], 2, "completed on the second delivery");

      const store = openSqliteStore({ path: storePath });
      try {
        const effects = (await store.effects("work.done")).filter((e) => e.key === id);
        assert.equal(effects.length, 1, "one effect for the task");
        assert.equal(effects[0]?.agent, survivor.label, "applied by the surviving agent");
        assert.equal((await store.effectStats("work.done")).duplicateKeys, 0);
        const roots = (await store.effects("root.completed")).filter((e) => e.key === id);
        assert.equal(roots.length, 1, "the root task completed once");
      } finally {
        await store.close();
      }

      // The registries of both surviving nodes: suspect first, then left.
      for (const node of [observer, survivor]) {
        const about = (type: string) => (l: NodeLine) =>
          l.type === type && (l["card"] as { id: string }).id === victimId;
        const suspect = await node.waitFor(about("agent.suspect"), 10_000, `${victimId} suspect`);
        const left = await node.waitFor(about("agent.left"), 10_000, `${victimId} left`);
        assert.ok(node.lines.indexOf(suspect) < node.lines.indexOf(left), "suspect before left");
        assert.equal(left["reason"], "timeout", "left by silence, not by a goodbye");
        assert.ok(
          !node.lines.some(
            (l) =>
              l.type === "agent.suspect" &&
              (l["card"] as { id: string }).id === survivor.label &&
              node !== survivor,
          ),
          "the surviving agent never went suspect",
        );
        t.diagnostic(
          `${node.label}: ${victimId} suspect ${Number(suspect["at"]) - killedAt} ms, left ${Number(left["at"]) - killedAt} ms after the kill`,
        );
      }

      // Nothing left in the queue; the survivors shut down cleanly.
      const probe =
        kind === "nats"
          ? await createNatsTransport({ servers: (server as NatsServer).url })
          : await (await import("../../src/transport/amqp/index.js")).createAmqpTransport({
              url: amqpUrl,
              exchange: swarm,
            });
      try {
        await until(
          async () => (await probe.queueInfo(queueNames.role(swarm, "worker"))).pending === 0,
          5_000,
          "an empty worker queue",
        );
      } finally {
        await probe.close();
      }
      for (const node of [survivor, observer]) {
        assert.equal(await node.drain(), 0, `${node.label} drained cleanly\n${node.stderr()}`);
        assert.equal(
          node.lines.find((l) => l.type === "fatal"),
          undefined,
        );
      }
    });
  });
}

agentKillSuite("nats", async () =>
  natsServerAvailable() ? undefined : "nats-server is not on PATH",
);
agentKillSuite("amqp", () => amqpMissing());
