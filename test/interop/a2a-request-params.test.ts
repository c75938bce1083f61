/**
 * A2A requests whose params the gateway cannot act on are refused with the
 * protocol's typed errors, before anything is held or sent:
 *
 * - v0.3 `tasks/get`, `tasks/cancel` and `tasks/resubscribe` without
 *   `params.id` (raw JSON-RPC: the SDK client always sends one) are invalid
 *   params (-32602) saying the id is required, not an internal TypeError
 *   (-32603); a v1.0 `GetTask` with an empty id, sent by the SDK client, is
 *   the SDK's RequestMalformedError alike;
 * - a message with neither a data nor a text part (a file only) is the SDK's
 *   ContentTypeNotSupportedError (-32005) naming the accepted input modes,
 *   over `SendMessage` and `SendStreamingMessage`: the task does not run on
 *   an empty input and the gateway's agent pays nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Part } from "@a2a-js/sdk";
import type { Client } from "@a2a-js/sdk/client";
import { ContentTypeNotSupportedError, RequestMalformedError } from "@a2a-js/sdk/errors";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { a2aClient, ask } from "./a2a-fixtures.js";

const TOKEN = "params-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-a2a-params-"));

interface RpcAnswer {
  result?: unknown;
  error?: { code: number; message: string };
}

const filePart: Part = {
  content: { $case: "url", value: "https://example.org/brief.pdf" },
  metadata: undefined,
  filename: "brief.pdf",
  mediaType: "application/pdf",
};

describe("A2A requests with params the gateway cannot act on", () => {
  let swarm: Swarm;
  let gateway: A2AGateway;
  let client: Client;
  const inputs: unknown[] = [];

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: params
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
  ratePerMinute: 10000
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") {
            agent.handle("write", (ctx) => {
              inputs.push(ctx.body);
              return { got: ctx.body };
            });
          }
        },
      },
    });
    await swarm.start();
    gateway = await startA2AGateway(swarm, config);
    client = await a2aClient(gateway.cardUrl, TOKEN);
  });

  after(async () => {
    await gateway?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** A v0.3 JSON-RPC request (no A2A-Version header), as a v0.3 client sends it. */
  const v03 = async (method: string, params: unknown): Promise<RpcAnswer> => {
    const response = await fetch(`${gateway.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method, params }),
    });
    return (await response.json()) as RpcAnswer;
  };

  for (const method of ["tasks/get", "tasks/cancel", "tasks/resubscribe"]) {
    test(`v0.3 ${method} without params.id is invalid params saying the id is required`, async () => {
      const answer = await v03(method, {});
      assert.equal(answer.error?.code, -32602, JSON.stringify(answer));
      assert.match(answer.error?.message ?? "", /params\.id: the task's id is required/);
    });
  }

  test("v1.0 GetTask with an empty id is the SDK's RequestMalformedError", async () => {
    await assert.rejects(client.getTask({ tenant: "", id: "" }), (error: Error) => {
      assert.ok(error instanceof RequestMalformedError, `${error.name}: ${error.message}`);
      assert.match(error.message, /params\.id: the task's id is required/);
      return true;
    });
  });

  test("a message with only a file part is ContentTypeNotSupported: nothing runs, nothing is paid", async () => {
    const gate = await swarm.budgets.balance("gate");
    const ran = inputs.length;
    await assert.rejects(client.sendMessage(ask("writer.write", [filePart])), (error: Error) => {
      assert.ok(error instanceof ContentTypeNotSupportedError, `${error.name}: ${error.message}`);
      assert.match(error.message, /no data or text part/);
      assert.match(error.message, /application\/json or text\/plain/);
      return true;
    });
    const stream = client.sendMessageStream(ask("writer.write", [filePart]));
    await assert.rejects(stream.next(), ContentTypeNotSupportedError);
    assert.equal(inputs.length, ran, "the task did not run");
    assert.equal(await swarm.budgets.balance("gate"), gate, "the gateway's agent paid nothing");
  });

  test("a message with text and a file part still runs on its text", async () => {
    const task = await client.sendMessage(
      ask("writer.write", [
        {
          content: { $case: "text", value: "bees" },
          metadata: undefined,
          filename: "",
          mediaType: "",
        },
        filePart,
      ]),
    );
    assert.ok("status" in task);
    assert.equal(inputs.at(-1), "bees");
  });
});
