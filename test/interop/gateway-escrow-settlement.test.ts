/**
 * The gateway's per-task price (`escrow:gateway.<task id>`) is settled when
 * the task ends, whether or not any caller asks about it again — checked with
 * the real A2A and MCP SDK clients, none of which ever calls `tasks/get` or
 * `conclave.task_status`:
 *
 * - A2A `returnImmediately`: the completed task's price reaches the worker;
 *   a dead-lettered task's price goes back to the gateway's agent (the dead
 *   letter refunds it; the gateway's settling must agree, not pay it out);
 * - an A2A stream whose client left before the task ended;
 * - an MCP call answered "still running" (the task outlived `waitMs`);
 * - a gateway closed while its task ran: a gateway opened later on the same
 *   store settles the escrow the earlier one left open.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TaskState } from "@a2a-js/sdk";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import { PermanentError } from "../../src/errors/index.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { createFrontDoor } from "../../src/interop/front-door.js";
import { serveMcpHttp } from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { until } from "../helpers/until.js";
import { a2aClient, ask, dataPart } from "./a2a-fixtures.js";

const TOKEN = "settle-token-0123456789abcdef";
const PRICE = 5;

/** Tasks of the `slow` kind wait for the test to let them answer. */
class Gates {
  readonly #open: (() => void)[] = [];
  #released = false;
  wait(): Promise<void> {
    if (this.#released) return Promise.resolve();
    return new Promise((resolve) => this.#open.push(resolve));
  }
  /** Lets every waiting task (and every later one) answer. */
  release(): void {
    this.#released = true;
    for (const open of this.#open.splice(0)) open();
  }
  reset(): void {
    this.#released = false;
  }
}

function configIn(dir: string): SwarmConfig {
  return parseSwarmConfig(
    `swarm: settle
dataDir: ./data
defaults: { maxDeliver: 1, backoff: { baseMs: 5, maxMs: 20 } }
roles: { front: {}, writer: { tasks: [write, slow, fail] } }
agents:
  - { id: gate, role: front, budget: { initial: 100 } }
  - { id: w-1, role: writer, budget: { initial: 0 } }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  pricePerTask: ${PRICE}
  ratePerMinute: 10000
  waitMs: 200
  expose:
    - { role: writer, task: write }
    - { role: writer, task: slow }
    - { role: writer, task: fail }
`,
    { baseDir: dir },
  );
}

async function openTestSwarm(config: SwarmConfig, gates: Gates): Promise<Swarm> {
  const swarm = await openSwarm(config, {
    module: {
      setup(agent) {
        if (agent.role !== "writer") return;
        agent.handle("write", (ctx) => ({ got: ctx.body }));
        agent.handle("slow", async () => {
          await gates.wait();
          return { text: "finally" };
        });
        agent.handle("fail", () => {
          throw new PermanentError("this task always fails");
        });
      },
    },
  });
  await swarm.start();
  return swarm;
}

/** Credits held in task `id`'s gateway escrow. */
async function held(swarm: Swarm, id: string): Promise<number> {
  return swarm.store.balance(`escrow:gateway.${id}`);
}

/** Waits until task `id`'s escrow is empty; fails saying where the credits are. */
async function settled(swarm: Swarm, id: string): Promise<void> {
  try {
    await until(async () => (await held(swarm, id)) === 0, 5000, "the escrow to be settled");
  } catch {
    assert.fail(`task ${id} ended, yet ${await held(swarm, id)} credits stay in its escrow`);
  }
}

describe("a gateway task's escrow is settled when it ends, without anyone asking", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-gateway-settle-"));
  const gates = new Gates();
  let swarm: Swarm;
  let gateway: A2AGateway;

  before(async () => {
    swarm = await openTestSwarm(configIn(work), gates);
    gateway = await startA2AGateway(swarm, configIn(work));
  });
  afterEach(() => gates.reset());
  after(async () => {
    await gateway?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("A2A returnImmediately: the completed task's price reaches the worker", async () => {
    const client = await a2aClient(gateway.cardUrl, TOKEN);
    const worker = await swarm.budgets.balance("w-1");
    const task = await client.sendMessage(
      ask("writer.slow", [dataPart({ n: 1 })], { returnImmediately: true }),
    );
    assert.ok("status" in task);
    assert.equal(task.status?.state, TaskState.TASK_STATE_WORKING);
    assert.equal(await held(swarm, task.id), PRICE, "held while the task runs");
    gates.release();
    await swarm.wait(task.id, { timeoutMs: 10_000 });
    await settled(swarm, task.id);
    assert.equal(await swarm.budgets.balance("w-1"), worker + PRICE, "released to the worker");
  });

  test("A2A returnImmediately: a dead-lettered task's price goes back to the gateway's agent", async () => {
    const client = await a2aClient(gateway.cardUrl, TOKEN);
    const gate = await swarm.budgets.balance("gate");
    const task = await client.sendMessage(
      ask("writer.fail", [dataPart({})], { returnImmediately: true }),
    );
    assert.ok("status" in task);
    await until(async () => (await swarm.outcome(task.id)) !== undefined, 10_000, "dead letter");
    await settled(swarm, task.id);
    assert.equal(await swarm.budgets.balance("gate"), gate, "refunded to gate");
  });

  test("an A2A stream whose client left: the price reaches the worker once the task completes", async () => {
    const client = await a2aClient(gateway.cardUrl, TOKEN);
    const worker = await swarm.budgets.balance("w-1");
    const leave = new AbortController();
    const stream = client.sendMessageStream(ask("writer.slow", [dataPart({ n: 2 })]), {
      signal: leave.signal,
    });
    const first = await stream.next();
    assert.equal(first.value?.payload?.$case, "task");
    const id = first.value?.payload?.$case === "task" ? first.value.payload.value.id : "";
    leave.abort();
    await stream.return(undefined).catch(() => undefined);
    await sleep(300); // the gateway sees the connection close and stops following the task
    gates.release();
    await swarm.wait(id, { timeoutMs: 10_000 });
    await settled(swarm, id);
    assert.equal(await swarm.budgets.balance("w-1"), worker + PRICE);
  });

  test("an MCP call answered 'still running': the price reaches the worker once the task completes", async () => {
    const door = createFrontDoor(swarm, configIn(work));
    const server = await serveMcpHttp(door, { port: 0 });
    const client = new McpClient({ name: "test-ide", version: "1.0.0" });
    try {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
      const worker = await swarm.budgets.balance("w-1");
      const answer = await client.callTool({ name: "writer.slow", arguments: {} });
      const working = answer.structuredContent as { taskId: string; state: string };
      assert.equal(working.state, "working");
      gates.release();
      await swarm.wait(working.taskId, { timeoutMs: 10_000 });
      await settled(swarm, working.taskId);
      assert.equal(await swarm.budgets.balance("w-1"), worker + PRICE);
    } finally {
      await client.close();
      await server.close();
      door.close();
    }
  });
});

describe("an escrow a closed gateway left open", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-gateway-settle-restart-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("is settled by the next gateway opened on the swarm, without anyone asking", async () => {
    const gates = new Gates();
    const swarm = await openTestSwarm(configIn(work), gates);
    try {
      const first = await startA2AGateway(swarm, configIn(work));
      const client = await a2aClient(first.cardUrl, TOKEN);
      const task = await client.sendMessage(
        ask("writer.slow", [dataPart({ n: 3 })], { returnImmediately: true }),
      );
      assert.ok("status" in task);
      await first.close();
      gates.release();
      await swarm.wait(task.id, { timeoutMs: 10_000 });
      // No gateway watches it now: the escrow stays (nothing else settles it)...
      await sleep(800);
      assert.equal(await held(swarm, task.id), PRICE, "held while no gateway runs");
      // ...until a gateway opens and takes up what an earlier run left open.
      const second = await startA2AGateway(swarm, configIn(work));
      try {
        await settled(swarm, task.id);
        assert.equal(await swarm.budgets.balance("w-1"), PRICE, "released to the worker");
      } finally {
        await second.close();
      }
    } finally {
      await swarm.close();
    }
  });
});
