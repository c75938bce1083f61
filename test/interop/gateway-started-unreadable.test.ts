/**
 * A task the gateway has started, whose state the store cannot give back
 * for a moment, is answered as still running, with its id: the task was
 * sent and its price escrowed, and it runs on. Before, the call answered
 * an error (A2A: a JSON-RPC internal error; MCP: an `isError` result) that
 * named no task, so a caller could only ask again — and a second task ran,
 * escrowing the price a second time.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TaskState } from "@a2a-js/sdk";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import { StoreError } from "../../src/errors/index.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { createFrontDoor } from "../../src/interop/front-door.js";
import {
  type McpHttpServer,
  serveMcpHttp,
  TASK_STATUS_TOOL,
} from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { a2aClient, ask, dataPart } from "./a2a-fixtures.js";

const TOKEN = "unreadable-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-gateway-unreadable-"));

describe("a started task whose state cannot be read for a moment", () => {
  let swarm: Swarm;
  let gateway: A2AGateway;
  let mcp: McpHttpServer;
  const ran: unknown[] = [];
  /** While set, reading a task's outcome fails after the start has read it once. */
  let outage = false;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: unreadable
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front, budget: { initial: 100 } }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  pricePerTask: 5
  ratePerMinute: 1000
  waitMs: 3000
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") {
            agent.handle("write", (ctx) => {
              ran.push(ctx.body);
              return { wrote: ctx.body };
            });
          }
        },
      },
    });
    await swarm.start();
    // The front door reads a task's outcome once before starting it; the
    // reads after that fail while the outage lasts.
    const outcome = swarm.outcome.bind(swarm);
    const reads = new Map<string, number>();
    swarm.outcome = async (id: string) => {
      const n = (reads.get(id) ?? 0) + 1;
      reads.set(id, n);
      if (outage && n > 1) throw new StoreError("the store is unreachable (test)");
      return outcome(id);
    };
    gateway = await startA2AGateway(swarm, config, { port: 0 });
    mcp = await serveMcpHttp(createFrontDoor(swarm, config), { port: 0 });
  });

  after(async () => {
    await mcp?.close();
    await gateway?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("A2A message/send answers the task working, with its id; tasks/get finds it later", async () => {
    const client = await a2aClient(gateway.cardUrl, TOKEN);
    outage = true;
    let started: Awaited<ReturnType<typeof client.sendMessage>>;
    try {
      started = await client.sendMessage(ask("writer.write", [dataPart({ n: 1 })]));
    } finally {
      outage = false;
    }
    assert.ok("status" in started, "a task, not a message");
    assert.equal(started.status?.state, TaskState.TASK_STATE_WORKING);
    const later = await client.getTask({ tenant: "", id: started.id });
    assert.equal(later.status?.state, TaskState.TASK_STATE_COMPLETED);
    assert.deepEqual(ran, [{ n: 1 }], "one task ran");
  });

  test("an MCP tool call answers the task working, with its id; task_status finds it later", async () => {
    const client = new Client({ name: "test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
      }),
    );
    try {
      outage = true;
      let answered: Awaited<ReturnType<typeof client.callTool>>;
      try {
        answered = await client.callTool({ name: "writer.write", arguments: { input: { n: 2 } } });
      } finally {
        outage = false;
      }
      assert.notEqual(answered.isError, true, JSON.stringify(answered.content));
      const { taskId, state } = answered.structuredContent as { taskId: string; state: string };
      assert.equal(state, "working");
      const later = await client.callTool({ name: TASK_STATUS_TOOL, arguments: { taskId } });
      assert.equal((later.structuredContent as { state: string }).state, "completed");
      assert.deepEqual(ran.at(-1), { n: 2 });
    } finally {
      await client.close();
    }
  });
});
