/**
 * A priced gateway (`gateway.pricePerTask`) settles, when asked about a
 * task, what the task's gateway escrow holds — not the configured price
 * whatever the escrow holds. A task the gateway did not start (submitted
 * inside the swarm, or before a price was set) has no gateway escrow: any
 * authenticated caller may still read its state and result (docs/INTEROP.md,
 * "Reading tasks"), over A2A `GetTask` as over MCP `conclave.task_status`,
 * instead of an internal error from settling an escrow that does not exist.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TaskState } from "@a2a-js/sdk";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { createFrontDoor } from "../../src/interop/front-door.js";
import { type McpHttpServer, serveMcpHttp } from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { a2aClient, partsValue } from "./a2a-fixtures.js";

const TOKEN = "unheld-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-gateway-unheld-"));

describe("a priced gateway asked about a task it holds no escrow for", () => {
  let swarm: Swarm;
  let gateway: A2AGateway;
  let mcp: McpHttpServer;
  let client: McpClient;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: unheld
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front, budget: { initial: 100 } }
  - { id: w-1, role: writer, budget: { initial: 0 } }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  pricePerTask: 5
  ratePerMinute: 10000
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") agent.handle("write", (ctx) => ({ got: ctx.body }));
        },
      },
    });
    await swarm.start();
    gateway = await startA2AGateway(swarm, config);
    mcp = await serveMcpHttp(createFrontDoor(swarm, config), { port: 0 });
    client = new McpClient({ name: "test-ide", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
      }),
    );
  });

  after(async () => {
    await client?.close();
    await mcp?.close();
    await gateway?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("A2A GetTask and MCP conclave.task_status read a task submitted inside the swarm", async () => {
    const id = await swarm.submit("writer", "write", { n: 1 }, { as: "gate" });
    await swarm.wait(id, { timeoutMs: 10_000 });

    const a2a = await a2aClient(gateway.cardUrl, TOKEN);
    const task = await a2a.getTask({ tenant: "", id });
    assert.equal(task.status?.state, TaskState.TASK_STATE_COMPLETED);
    assert.deepEqual(partsValue(task.artifacts[0]?.parts), { got: { n: 1 } });

    const status = await client.callTool({
      name: "conclave.task_status",
      arguments: { taskId: id },
    });
    assert.deepEqual(status.structuredContent, {
      taskId: id,
      state: "completed",
      result: { got: { n: 1 } },
    });
    assert.equal(await swarm.budgets.balance("gate"), 100, "nothing was charged for it");
  });
});
