/**
 * `gateway.ratePerMinute` over MCP streamable HTTP counts JSON-RPC
 * messages, not HTTP requests: the SDK's transport takes a batch (an array
 * of up to 100 messages) in one POST, and each `tools/call` in it starts a
 * task escrowed from `gateway.as`. Before, the guard took one request from
 * the caller's bucket per POST, so a batch started a hundred tasks for the
 * price of one request.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { createFrontDoor } from "../../src/interop/front-door.js";
import { type McpHttpServer, serveMcpHttp } from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "batch-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-mcp-batch-"));

const call = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "writer.write", arguments: { input: id } },
});

describe("MCP over HTTP: a JSON-RPC batch against gateway.ratePerMinute", () => {
  let swarm: Swarm;
  let server: McpHttpServer;
  const written: unknown[] = [];

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: mcp-batch
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front, budget: { initial: 1000 } }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  pricePerTask: 5
  ratePerMinute: 3
  waitMs: 5000
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") {
            agent.handle("write", (ctx) => {
              written.push(ctx.body);
              return { wrote: ctx.body };
            });
          }
        },
      },
    });
    await swarm.start();
    server = await serveMcpHttp(createFrontDoor(swarm, config), { port: 0 });
  });

  after(async () => {
    await server?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const post = (body: unknown) =>
    fetch(server.url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-03-26",
      },
      body: JSON.stringify(body),
    });

  test("a batch of more calls than the caller has left is a 429, and starts no task", async () => {
    const response = await post([call(1), call(2), call(3), call(4), call(5)]);
    const text = await response.text();
    assert.equal(response.status, 429, text);
    assert.ok(Number(response.headers.get("retry-after")) >= 1);
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, "E_RATE_LIMITED");
    assert.deepEqual(written, [], "no task ran");
    assert.equal(await swarm.budgets.balance("gate"), 1000, "nothing escrowed");
  });

  test("a batch within the rate is served, each message counted", async () => {
    // 3 a minute: the refused POST above took one, this batch takes the other two.
    const response = await post([call(6), call(7)]);
    assert.equal(response.status, 200, await response.clone().text());
    const answers = (await response.json()) as { id: number; result?: unknown }[];
    assert.deepEqual(answers.map((a) => a.id).sort(), [6, 7]);
    assert.deepEqual([...written].sort(), [6, 7]);
    const over = await post(call(8));
    assert.equal(over.status, 429);
    await over.body?.cancel();
  });
});
