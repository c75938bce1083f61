/**
 * `conclave.task_status` takes what its input schema lists and nothing
 * else: `{ "taskId": "<ULID>" }`, `additionalProperties: false`. Arguments
 * the schema does not allow are invalid params (-32602) naming them, as a
 * missing or malformed `taskId` already was; before, they were ignored
 * without a word (a client misspelling `taskId` as well as sending it got
 * no hint).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import { createFrontDoor } from "../../src/interop/front-door.js";
import {
  type McpHttpServer,
  serveMcpHttp,
  TASK_STATUS_TOOL,
} from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "status-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-mcp-status-params-"));

describe("MCP: conclave.task_status arguments outside its schema", () => {
  let swarm: Swarm;
  let server: McpHttpServer;
  let client: Client;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: mcp-status
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  ratePerMinute: 1000
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") agent.handle("write", (ctx) => ({ wrote: ctx.body }));
        },
      },
    });
    await swarm.start();
    server = await serveMcpHttp(createFrontDoor(swarm, config), { port: 0 });
    client = new Client({ name: "test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.url), {
        requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
      }),
    );
  });

  after(async () => {
    await client?.close();
    await server?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("an argument besides taskId is invalid params naming it", async () => {
    const started = await client.callTool({ name: "writer.write", arguments: { input: "x" } });
    const taskId = (started.structuredContent as { taskId: string }).taskId;
    await assert.rejects(
      client.callTool({ name: TASK_STATUS_TOOL, arguments: { taskId, task_id: taskId } }),
      (error: Error) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, ErrorCode.InvalidParams);
        assert.match(error.message, /task_id/);
        return true;
      },
    );
    const answered = await client.callTool({ name: TASK_STATUS_TOOL, arguments: { taskId } });
    assert.equal((answered.structuredContent as { state: string }).state, "completed");
  });
});
