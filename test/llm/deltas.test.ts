/**
 * `publishDeltas` in the swarm file: an agent's streamed model call
 * (`ctx.llm.stream`, over real HTTP and SSE to the local server) goes out
 * on the bus as signed `llm.delta` events, one per text delta, in order;
 * an agent without it publishes none.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openSwarm, type SwarmModule } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { decodeEnvelope } from "../../src/wire/codec.js";
import { answer, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";

function swarmYaml(dir: string, url: string, publishDeltas: boolean): string {
  return `swarm: deltas
transport: memory
store: sqlite:${join(dir, "swarm.db")}
dataDir: ${dir}
defaults: { ackWaitMs: 10000, maxDeliver: 2, heartbeatMs: 200 }
models:
  fast: { provider: openai-compatible, baseURL: "${url}", apiKey: "\${NO_SUCH_KEY:-}", model: test-model, maxRetries: 0 }
prices: { version: t-1, creditsPerUsd: 1000000, models: { test-model: { input: 0, output: 0 } } }
roles:
  lead: {}
  writer: { tasks: [write] }
agents:
  - { id: lead, role: lead }
  - { id: writer-1, role: writer, llm: { model: fast, maxOutputTokens: 50, publishDeltas: ${publishDeltas} } }
`;
}

describe("llm.delta events from the swarm file", () => {
  let server: OpenAiServer;
  const dirs: string[] = [];
  const swarms: Swarm[] = [];
  before(async () => {
    server = await startOpenAiServer();
  });
  after(async () => {
    for (const s of swarms) await s.close().catch(() => undefined);
    await server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function run(publishDeltas: boolean) {
    const dir = mkdtempSync(join(tmpdir(), "conclave-deltas-"));
    dirs.push(dir);
    const streamed: string[] = [];
    const module: SwarmModule = {
      setup: (agent) => {
        if (agent.id !== "writer-1") return;
        agent.handle("write", async (ctx) => {
          const stream = ctx.llm.stream({ prompt: "write" });
          for await (const delta of stream) streamed.push(delta);
          ctx.finish((await stream.result).text);
        });
      },
    };
    const swarm = await openSwarm(
      parseSwarmConfig(swarmYaml(dir, server.url, publishDeltas), { baseDir: dir }),
      { module },
    );
    swarms.push(swarm);
    const onBus: { agent: string; text: string }[] = [];
    swarm.transport.subscribe("deltas.event.llm.delta", (m) => {
      const envelope = decodeEnvelope(m.data);
      onBus.push({ agent: envelope.from, text: (envelope.body as { text: string }).text });
    });
    server.reply(answer("one two three four"));
    await swarm.start();
    const id = await swarm.submit("writer", "write", {}, { as: "lead" });
    await until(async () => (await swarm.store.isCompleted(id)) === true, 10_000, "the task");
    return { streamed, onBus };
  }

  test("publishDeltas: true sends each delta as a signed llm.delta event, in order", async () => {
    const { streamed, onBus } = await run(true);
    assert.equal(streamed.join(""), "one two three four");
    await until(() => onBus.length === streamed.length, 5000, "every delta on the bus");
    assert.deepEqual(
      onBus.map((d) => d.text),
      streamed,
    );
    assert.ok(onBus.every((d) => d.agent === "writer-1"));
  });

  test("without it, nothing is published", async () => {
    const { streamed, onBus } = await run(false);
    assert.ok(streamed.length > 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(onBus.length, 0);
  });
});
