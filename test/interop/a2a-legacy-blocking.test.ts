/**
 * A2A v0.3 `message/send` waits for the task (up to `gateway.waitMs`)
 * unless the caller says `configuration.blocking: false` (docs/INTEROP.md),
 * as v0.3 servers do (the reference v0.3 servers treat an absent `blocking`
 * as blocking). A v0.3 client that sends a `configuration` without
 * `blocking` (only `acceptedOutputModes`, say) gets the finished task, not
 * `working` at once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "legacy-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-a2a-legacy-blocking-"));

describe("v0.3 message/send with a configuration that does not mention blocking", () => {
  let swarm: Swarm;
  let gateway: A2AGateway;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: legacy-blocking
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  ratePerMinute: 10000
  waitMs: 10000
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role !== "writer") return;
          agent.handle("write", async (ctx) => {
            await sleep(200);
            return { got: ctx.body };
          });
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

  const send = async (configuration: Record<string, unknown>) => {
    const response = await fetch(`${gateway.url}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "message/send",
        params: {
          message: {
            kind: "message",
            messageId: crypto.randomUUID(),
            role: "user",
            parts: [{ kind: "data", data: { topic: "owls" } }],
          },
          configuration,
        },
      }),
    });
    assert.equal(response.status, 200);
    return (await response.json()) as {
      result?: { status: { state: string } };
      error?: unknown;
    };
  };

  test("waits for the task: completed", async () => {
    const answer = await send({ acceptedOutputModes: ["application/json"] });
    assert.equal(answer.result?.status.state, "completed", JSON.stringify(answer));
  });

  test("blocking: false still answers at once: working", async () => {
    const answer = await send({ acceptedOutputModes: ["application/json"], blocking: false });
    assert.equal(answer.result?.status.state, "working", JSON.stringify(answer));
  });
});
