/**
 * A gateway that goes away mid-task loses nothing: the A2A task is the
 * swarm's task, kept in the store. One node hosts the gateway's agent and
 * the gateway, another the worker; they share a broker and a store. The
 * gateway starts a task and stops before any worker runs it; the worker's
 * node finishes it; a new gateway on the same store answers tasks/get with
 * the completed task and its artifact (and settles the escrow).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { TaskState } from "@a2a-js/sdk";
import { parseSwarmConfig } from "../../src/config/load.js";
import { startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { openSwarm, type SwarmModule } from "../../src/runtime/from-config.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";
import { a2aClient, ask, dataPart, partsValue } from "./a2a-fixtures.js";

const TOKEN = "ops-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-a2a-restart-"));
after(() => rmSync(work, { recursive: true, force: true }));

const config = parseSwarmConfig(
  `swarm: restart
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front, budget: { initial: 50 } }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ops: ${TOKEN} }
  pricePerTask: 5
  expose: [{ role: writer, task: write }]
`,
  { baseDir: work },
);

/** Holds the worker's handler until the test lets it answer. */
let release: () => void = () => {};
const released = new Promise<void>((resolve) => {
  release = resolve;
});
let picked = false;

const module: SwarmModule = {
  setup(agent) {
    if (agent.role === "writer") {
      agent.handle<{ topic: string }>("write", async (ctx) => {
        picked = true;
        await released;
        return { line: `on ${ctx.body.topic}` };
      });
    }
  },
};

test("tasks/get on a new gateway returns a task the previous one started before it stopped", async () => {
  const broker = new MemoryBroker({});
  const node = async (agent: string) => {
    const swarm = await openSwarm(config, {
      agents: [agent],
      module,
      transport: createMemoryTransport({ broker }),
    });
    await swarm.start();
    return swarm;
  };
  try {
    const worker = await node("w-1");
    let trusted = false;
    worker.on((e) => {
      if (e.type === "agent.trusted" && e.agent === "gate") trusted = true;
    });
    const first = await node("gate");
    await until(() => trusted, 10_000, "the worker to trust the gateway's agent");
    const gateway = await startA2AGateway(first, config);
    const client = await a2aClient(gateway.cardUrl, TOKEN);
    const started = await client.sendMessage(
      ask("writer.write", [dataPart({ topic: "tides" })], { returnImmediately: true }),
    );
    assert.ok("status" in started);
    assert.equal(started.status?.state, TaskState.TASK_STATE_WORKING);
    await until(() => picked, 10_000, "the worker to take the task");
    // The gateway's node goes away mid-task; the worker finishes it meanwhile.
    await gateway.close();
    await first.close();
    release();
    await until(async () => (await worker.outcome(started.id)) !== undefined, 10_000, "the worker");

    const second = await node("gate");
    const again = await startA2AGateway(second, config);
    try {
      const client2 = await a2aClient(again.cardUrl, TOKEN);
      const task = await client2.getTask({ tenant: "", id: started.id });
      assert.equal(task.status?.state, TaskState.TASK_STATE_COMPLETED);
      assert.deepEqual(partsValue(task.artifacts[0]?.parts), { line: "on tides" });
      assert.equal(await second.budgets.balance("gate"), 45, "the escrow was charged once");
      await assert.rejects(client2.getTask({ tenant: "", id: "not-a-task" }), /no task not-a-task/);
    } finally {
      await again.close();
      await second.close();
      await worker.close();
    }
  } finally {
    broker.close();
  }
});
