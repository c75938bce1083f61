/**
 * A transient store outage (ECONNRESET, as a Postgres restart gives) at the
 * moment the journal records a model step already sent and charged: the
 * record is retried until the store answers, so the model is asked once and
 * the agent pays once (it used to rerun the handler, which sent the request
 * and charged it again under `<key>.2`).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import { agentAccount } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { ephemeralKeys } from "../../src/testkit/index.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { answer, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "./fixtures.js";

let server: OpenAiServer;
let swarm: Swarm | undefined;
const dir = mkdtempSync(join(tmpdir(), "conclave-step-outage-"));
before(async () => {
  server = await startOpenAiServer();
});
after(async () => {
  await swarm?.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a store blip while recording a paid model step neither sends nor charges the call twice", async () => {
  const inner = openSqliteStore({ path: join(dir, "store.db") });
  let failNextRecord = false;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "recordStep") {
        return async (...args: unknown[]) => {
          if (failNextRecord) {
            failNextRecord = false;
            const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
            throw new StoreError("recording a step: connection lost", { cause });
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  swarm = createSwarm({
    name: "test",
    keys: ephemeralKeys(),
    transport: createMemoryTransport({ journalPath: join(dir, "journal.db") }),
    store,
    roles: { lead: {}, analyst: { tasks: ["analyse"] } },
    defaults: {
      heartbeatMs: 50,
      ackWaitMs: 5000,
      maxDeliver: 3,
      backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
    },
    prices: PRICES,
    models: pool([model("fast", server.url)]),
  });
  const events: SwarmEvent[] = [];
  swarm.on((e) => events.push(e));
  // 100 prompt + 50 completion tokens: 200 credits.
  server.respond(() => answer("paid answer", { usage: { prompt: 100, completion: 50 } }));
  swarm.agent({ id: "lead", role: "lead" });
  const done: string[] = [];
  let runs = 0;
  swarm
    .agent({
      id: "analyst-1",
      role: "analyst",
      budget: { initial: 100_000, minBalance: 0 },
      llm: { settings: { model: "fast", maxOutputTokens: 100 } },
    })
    .handle("analyse", async (ctx) => {
      if (runs++ === 0) failNextRecord = true; // one blip, while the first run records its step
      const r = await ctx.llm.generate({ prompt: "hello" });
      done.push(r.text);
      ctx.finish(r.text);
    });
  await swarm.start();
  const sent = server.requests.length;
  await swarm.submit("analyst", "analyse", {}, { as: "lead" });
  await until(() => done.length === 1, 15_000, "the answer");
  const balance = await swarm.store.balance(agentAccount("analyst-1"));
  const llmFees = (await swarm.store.ledgerOperations({ kind: "fee" })).filter(
    (op) => op.memo["kind"] === "llm",
  );
  assert.equal(server.requests.length - sent, 1, "the model was asked once");
  assert.equal(100_000 - balance, 200, "the agent paid for one call");
  assert.equal(llmFees.length, 1, "one fee for the call");
  assert.equal(runs, 1, "the handler ran once: the record waited for the store");
  const waits = events.filter(
    (e) => e.type === "store.unreachable" || e.type === "store.reachable",
  );
  assert.deepEqual(
    waits.map((e) => e.type),
    ["store.unreachable", "store.reachable"],
  );
});
