/**
 * A model call made through `ctx.llm` is aborted with the task (`ctx.signal`:
 * its deadline passed, or the node stopped abruptly), whether or not the
 * handler passes a signal of its own. Before, only a signal the handler
 * passed aborted it: a call kept running (and was paid for) after its task
 * had passed its deadline, while the task was retried or dead-lettered.
 *
 * The model server is the local OpenAI-compatible one, seen through a small
 * TCP relay that records when the client closes its connection and whether
 * any answer reached it first.
 */
import assert from "node:assert/strict";
import { createConnection, createServer, type Server } from "node:net";
import { after, before, test } from "node:test";
import { agentAccount } from "../../src/ledger/index.js";
import type { GenerateResult } from "../../src/llm/index.js";
import type { TaskContext } from "../../src/runtime/context.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import { answer, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "./fixtures.js";

/** One client connection as the relay saw it. */
interface Connection {
  readonly openedAt: number;
  closedAt?: number;
  /** Bytes of the server's answer relayed to the client. */
  answered: number;
  /** Bytes the client sent (its request); 0 for a connection it opened and never used. */
  sent: number;
}

const SLOW_MS = 4000;
const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 10_000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

let server: OpenAiServer;
let relay: Server;
let relayUrl: string;
const connections: Connection[] = [];
const swarms: TestSwarm[] = [];

before(async () => {
  server = await startOpenAiServer({ responder: () => answer("late", { delayMs: SLOW_MS }) });
  const upstream = new URL(server.url);
  relay = createServer((client) => {
    const seen: Connection = { openedAt: Date.now(), answered: 0, sent: 0 };
    client.on("data", (chunk: Buffer) => {
      seen.sent += chunk.length;
    });
    connections.push(seen);
    const socket = createConnection(Number(upstream.port), upstream.hostname);
    socket.on("data", (chunk: Buffer) => {
      seen.answered += chunk.length;
    });
    client.on("close", () => {
      seen.closedAt ??= Date.now();
      socket.destroy();
    });
    socket.on("close", () => client.destroy());
    client.on("error", () => undefined);
    socket.on("error", () => undefined);
    client.pipe(socket);
    socket.pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const address = relay.address();
  assert.ok(address !== null && typeof address === "object");
  relayUrl = `http://127.0.0.1:${address.port}/v1`;
});

after(async () => {
  for (const t of swarms) await t.cleanup();
  relay.close();
  await server.close();
});

function swarmWithAnalyst(generate: (ctx: TaskContext) => Promise<GenerateResult>) {
  const t = createTestSwarm({
    roles: { lead: {}, analyst: { tasks: ["analyse"] } },
    defaults,
    prices: PRICES,
    models: pool([model("fast", relayUrl, { maxRetries: 0, timeoutMs: 30_000 })]),
  });
  swarms.push(t);
  const outcomes: { error?: unknown; text?: string; at: number }[] = [];
  t.swarm.agent({ id: "lead", role: "lead" });
  t.swarm
    .agent({
      id: "analyst-1",
      role: "analyst",
      budget: { initial: 100_000, minBalance: 0 },
      llm: { settings: { model: "fast", maxOutputTokens: 50 } },
    })
    .handle("analyse", async (ctx) => {
      try {
        const { text } = await generate(ctx);
        outcomes.push({ text, at: Date.now() });
      } catch (error) {
        outcomes.push({ error, at: Date.now() });
        throw error;
      }
    });
  return { t, outcomes };
}

test("a model call through ctx.llm is aborted when its task's deadline passes, and nothing is charged", async () => {
  const before = connections.length;
  const requests = server.requests.length;
  const { t, outcomes } = swarmWithAnalyst((ctx) => ctx.llm.generate({ prompt: "slow, please" }));
  await t.swarm.start();
  const deadline = Date.now() + 500;
  const id = await t.swarm.submit("analyst", "analyse", {}, { as: "lead", deadline });
  await until(() => outcomes.length > 0, SLOW_MS + 3000, "the handler's model call to end");
  const [outcome] = outcomes;
  assert.ok(outcome !== undefined);
  assert.equal(outcome.text, undefined, "the call did not wait for the slow answer");
  assert.match(String((outcome.error as Error).message), /passed its deadline/);
  assert.ok(
    outcome.at - deadline < 1500,
    `rejected ${outcome.at - deadline} ms after the deadline`,
  );
  // The client hung up on the server before any answer came back.
  // The HTTP client may open a spare connection as it drops the aborted one:
  // only connections that carried a request count.
  const opened = connections.slice(before).filter((c) => c.sent > 0);
  assert.equal(opened.length, 1, "one request's connection to the model server");
  const [connection] = opened;
  assert.ok(connection !== undefined);
  await until(() => connection.closedAt !== undefined, 2000, "the connection to close");
  assert.equal(connection.answered, 0, "no answer reached the client");
  assert.ok(
    (connection.closedAt ?? 0) - deadline < 1500,
    `the connection closed ${(connection.closedAt ?? 0) - deadline} ms after the deadline`,
  );
  await until(
    async () => (await t.swarm.store.deadLetter(id)) !== undefined,
    5000,
    "the expired task's dead letter",
  );
  assert.equal(server.requests.length - requests, 1, "the model was asked once");
  assert.equal(await t.swarm.store.balance(agentAccount("analyst-1")), 100_000, "nothing charged");
});

test("a handler's own signal does not replace the task's: the deadline still aborts the call", async () => {
  const { t, outcomes } = swarmWithAnalyst((ctx) =>
    ctx.llm.generate({ prompt: "slow, please", signal: new AbortController().signal }),
  );
  await t.swarm.start();
  const deadline = Date.now() + 500;
  await t.swarm.submit("analyst", "analyse", {}, { as: "lead", deadline });
  await until(() => outcomes.length > 0, SLOW_MS + 3000, "the handler's model call to end");
  const [outcome] = outcomes;
  assert.ok(outcome !== undefined);
  assert.equal(outcome.text, undefined, "the call did not wait for the slow answer");
  assert.match(String((outcome.error as Error).message), /passed its deadline/);
  assert.ok(
    outcome.at - deadline < 1500,
    `rejected ${outcome.at - deadline} ms after the deadline`,
  );
});

test("a handler's own signal still aborts its call when the task has no deadline", async () => {
  const { t, outcomes } = swarmWithAnalyst((ctx) =>
    ctx.llm.generate({ prompt: "slow, please", signal: AbortSignal.timeout(300) }),
  );
  await t.swarm.start();
  const sent = Date.now();
  await t.swarm.submit("analyst", "analyse", {}, { as: "lead" });
  await until(() => outcomes.length > 0, SLOW_MS + 3000, "the handler's model call to end");
  const [outcome] = outcomes;
  assert.ok(outcome !== undefined);
  assert.equal(outcome.text, undefined, "the call did not wait for the slow answer");
  assert.equal((outcome.error as Error).name, "TimeoutError");
  assert.ok(outcome.at - sent < SLOW_MS - 1000, `rejected after ${outcome.at - sent} ms`);
});
