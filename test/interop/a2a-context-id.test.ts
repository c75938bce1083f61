/**
 * A message's `contextId` travels in the task's signed envelope as the
 * `conclave-context` header, whose values are printable ASCII of bounded
 * length. One the header cannot carry (too long, or with other characters)
 * is the caller's mistake: invalid params (-32602) naming the field, and
 * nothing started, escrowed or kept. Before, it failed deep in the
 * envelope's validation as an internal error (-32603, "invalid envelope"),
 * and the gateway had already remembered it (up to a whole request body per
 * message, ten thousand of them).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "context-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-a2a-context-"));

interface RpcAnswer {
  result?: { task?: { contextId?: string } };
  error?: { code: number; message: string };
}

describe("A2A messages whose contextId the task's envelope cannot carry", () => {
  let swarm: Swarm;
  let gateway: A2AGateway;
  const contexts: unknown[] = [];

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: context
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
              contexts.push(ctx.task.headers?.["conclave-context"]);
              return "written";
            });
          }
        },
      },
    });
    await swarm.start();
    gateway = await startA2AGateway(swarm, config);
  });

  after(async () => {
    await gateway?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const send = async (contextId: string): Promise<RpcAnswer> => {
    const response = await fetch(`${gateway.url}/a2a`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${TOKEN}`,
        "a2a-version": "1.0",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "SendMessage",
        params: {
          message: { role: "ROLE_USER", messageId: "m-1", contextId, parts: [{ text: "hi" }] },
        },
      }),
    });
    return (await response.json()) as RpcAnswer;
  };

  for (const [what, contextId] of [
    ["too long", "c".repeat(9000)],
    ["not printable ASCII", "café-1"],
  ] as const) {
    test(`a contextId ${what} is invalid params naming it; nothing runs or is paid`, async () => {
      const answer = await send(contextId);
      assert.equal(answer.error?.code, -32602, JSON.stringify(answer).slice(0, 300));
      assert.match(answer.error?.message ?? "", /contextId/);
      assert.deepEqual(contexts, [], "nothing ran");
      assert.equal(await swarm.budgets.balance("gate"), 100, "nothing escrowed");
    });
  }

  test("a contextId the header carries is the task's context", async () => {
    const answer = await send("ctx-0123");
    assert.equal(answer.result?.task?.contextId, "ctx-0123", JSON.stringify(answer));
    assert.deepEqual(contexts, ["ctx-0123"]);
  });
});
