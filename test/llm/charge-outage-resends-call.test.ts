/**
 * A transient store outage (ECONNRESET, as a Postgres restart gives) at the
 * moment a model call already sent is charged (the ledger's settlement of
 * its hold): the step failed, the task was retried, and the retry found the
 * hold still open and sent the request again: the provider was paid twice
 * for one answer the agent was charged once for. The charge now waits for
 * the store (as the journal's record does), so the model is asked once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import { agentAccount } from "../../src/ledger/index.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { ephemeralKeys } from "../../src/testkit/index.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { answer, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, PRICES, pool } from "./fixtures.js";

let server: OpenAiServer;
let swarm: Swarm | undefined;
const dir = mkdtempSync(join(tmpdir(), "conclave-charge-outage-"));
before(async () => {
  server = await startOpenAiServer();
});
after(async () => {
  await swarm?.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a store blip while charging a paid model call neither sends nor charges it twice", async () => {
  const inner = openSqliteStore({ path: join(dir, "store.db") });
  let failNextSettle = false;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "applyLedgerOperation") {
        return async (...args: unknown[]) => {
          const op = args[0] as { id: string };
          if (failNextSettle && op.id.startsWith("settle:llm:")) {
            failNextSettle = false;
            const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
            throw new StoreError("applying a ledger operation: connection lost", { cause });
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
      if (runs++ === 0) failNextSettle = true; // one blip, while the first run charges its call
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
  assert.equal(runs, 1, "the handler ran once: the charge waited for the store");
  assert.equal(server.requests.length - sent, 1, "the model was asked once");
  assert.equal(100_000 - balance, 200, "the agent paid for one call");
  assert.equal(llmFees.length, 1, "one fee for the call");
});
