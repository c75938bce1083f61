/**
 * Requests to the gateways that are malformed or name nothing, answered in
 * the protocol's own terms:
 *
 * - an A2A body that is JSON but no request object (`null`, a number, a
 *   batch) is JSON-RPC invalid request (-32600, id null), not HTTP 500;
 * - an A2A v0.3 error (the default without `A2A-Version`) carries
 *   conclave's code in `error.data[0].metadata.code`, as a v1.0 one does;
 * - an id that is no task id (not a ULID) is refused alike by MCP's
 *   `conclave.task_status` and A2A's `tasks/get`, instead of "still working".
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { createFrontDoor } from "../../src/interop/front-door.js";
import { type McpHttpServer, serveMcpHttp } from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "ide-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-gateway-requests-"));

interface RpcAnswer {
  id?: unknown;
  result?: { status?: { state?: string } };
  error?: { code?: number; message?: string; data?: { metadata?: { code?: string } }[] };
}

describe("gateway requests that are malformed or name no task", () => {
  let swarm: Swarm;
  let gateway: A2AGateway;
  let mcp: McpHttpServer;
  let client: Client;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: gw-requests
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") agent.handle("write", () => ({ line: "hi" }));
        },
      },
    });
    await swarm.start();
    gateway = await startA2AGateway(swarm, config);
    mcp = await serveMcpHttp(createFrontDoor(swarm, config), { port: 0 });
    client = new Client({ name: "test-ide", version: "1.0.0" });
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

  const post = async (body: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${gateway.url}/a2a`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        ...headers,
      },
      body,
    });
    return { status: response.status, text: await response.text() };
  };
  const rpc = async (method: string, params: unknown, headers: Record<string, string> = {}) => {
    const answer = await post(JSON.stringify({ jsonrpc: "2.0", id: 7, method, params }), headers);
    assert.equal(answer.status, 200, answer.text);
    return JSON.parse(answer.text) as RpcAnswer;
  };
  const unknownSkill = {
    message: {
      kind: "message",
      messageId: "m-1",
      role: "user",
      parts: [{ kind: "text", text: "x" }],
      metadata: { skill: "nope" },
    },
  };

  for (const body of ["null", "42", '"send"', "[]", '[{"jsonrpc":"2.0","id":1}]']) {
    test(`a body of ${body} is a JSON-RPC invalid request with id null, not HTTP 500`, async () => {
      const answer = await post(body);
      assert.equal(answer.status, 200, answer.text);
      const parsed = JSON.parse(answer.text) as RpcAnswer;
      assert.equal(parsed.id, null);
      assert.equal(parsed.error?.code, -32600, answer.text);
      assert.match(parsed.error?.message ?? "", /send one JSON-RPC request object/);
    });
  }

  test("v0.3 (no A2A-Version): an unknown skill carries E_NOT_EXPOSED in error.data[0].metadata.code, as v1.0 does", async () => {
    const legacy = await rpc("message/send", unknownSkill);
    assert.equal(legacy.id, 7);
    assert.equal(legacy.error?.code, -32602, JSON.stringify(legacy));
    assert.equal(legacy.error?.data?.[0]?.metadata?.code, "E_NOT_EXPOSED", JSON.stringify(legacy));
    const v1 = await rpc(
      "SendMessage",
      {
        message: {
          messageId: "m-2",
          role: "ROLE_USER",
          parts: [{ text: "x" }],
          metadata: { skill: "nope" },
        },
      },
      { "A2A-Version": "1.0" },
    );
    assert.equal(v1.error?.data?.[0]?.metadata?.code, "E_NOT_EXPOSED", JSON.stringify(v1));
  });

  test("v0.3 message/stream refused before its first event keeps the code too", async () => {
    const answer = await post(
      JSON.stringify({ jsonrpc: "2.0", id: 8, method: "message/stream", params: unknownSkill }),
      { accept: "text/event-stream" },
    );
    const parsed = JSON.parse(answer.text) as RpcAnswer;
    assert.equal(parsed.error?.data?.[0]?.metadata?.code, "E_NOT_EXPOSED", answer.text);
  });

  test("an id that is no task id: MCP conclave.task_status and A2A tasks/get both say task ids are ULIDs", async () => {
    await assert.rejects(
      client.callTool({ name: "conclave.task_status", arguments: { taskId: "not-a-task" } }),
      (error: Error & { code?: number }) => {
        assert.equal(error.code, -32602);
        assert.match(error.message, /no task not-a-task: task ids are ULIDs/);
        return true;
      },
    );
    const got = await rpc("tasks/get", { id: "not-a-task" });
    assert.equal(got.error?.code, -32001, JSON.stringify(got));
    assert.match(got.error?.message ?? "", /no task not-a-task: task ids are ULIDs/);
  });

  test("a ULID no task has ended under yet is still working, over both", async () => {
    const id = "01JD0000000000000000000000";
    const status = await client.callTool({
      name: "conclave.task_status",
      arguments: { taskId: id },
    });
    assert.deepEqual(status.structuredContent, { taskId: id, state: "working" });
    const got = await rpc("tasks/get", { id });
    assert.equal(got.result?.status?.state, "working", JSON.stringify(got));
  });
});
