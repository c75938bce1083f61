/**
 * The ledger under several OS processes and under `kill -9`, on SQLite (one
 * file) and Postgres (one random schema):
 *
 * - processes doing random transfers, most of them retries of ids another
 *   process used, some reusing an id for a different operation: afterwards
 *   the sum of accounts is what was minted, nothing is negative, balances
 *   match the entries, and the operations stored are exactly the distinct
 *   ids some process was told it applied;
 * - a process applying multi-entry operations in a tight loop, killed with
 *   SIGKILL at a random moment: no partial operation is left (every
 *   operation's entries sum to zero, balances match the entries), and every
 *   operation it was told it applied is stored.
 */
import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { agentAccount, operations } from "../../src/ledger/index.js";
import type { Store } from "../../src/store/port.js";
import {
  type LedgerBackend,
  type LedgerDatabase,
  postgresBackend,
  sqliteBackend,
  testOptions,
} from "./ledger-backends.js";

const workerScript = fileURLToPath(new URL("./fixtures/ledger-worker.ts", import.meta.url));
const AGENTS = 6;
const FUNDING = 300;

interface Worker {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  readonly lines: AsyncIterator<string>;
  readonly exited: Promise<unknown[]>;
}

function startWorker(
  database: LedgerDatabase,
  mode: "transfers" | "crash",
  worker: number,
  ms: number,
): Worker {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      workerScript,
      database.backend,
      database.target,
      database.schema,
      mode,
      String(worker),
      String(AGENTS),
      String(ms),
    ],
    { cwd: process.cwd(), stdio: ["pipe", "pipe", "inherit"], timeout: 60_000 },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines, exited: once(child, "exit") };
}

async function funded(backend: LedgerBackend): Promise<{ database: LedgerDatabase; store: Store }> {
  if (backend.fail) throw new Error(backend.fail);
  const database = await backend.create();
  const store = await database.open();
  for (let i = 0; i < AGENTS; i++) {
    await store.applyLedgerOperation(
      operations.mint(`fund-${i}`, agentAccount(`w${i}`), FUNDING, 0),
    );
  }
  return { database, store };
}

async function assertConsistent(store: Store, what: string): Promise<void> {
  const check = await store.ledgerCheck();
  assert.equal(check.minted, AGENTS * FUNDING, `${what}: nothing minted but the funding`);
  assert.equal(check.sum, check.minted, `${what}: sum of accounts = minted`);
  assert.deepEqual(check.negative, [], `${what}: no negative balance`);
  assert.deepEqual(check.mismatched, [], `${what}: balances match the entries`);
  assert.deepEqual(check.unbalanced, [], `${what}: no partial or unbalanced operation`);
}

interface TransfersReport {
  applied: string[];
  replayed: string[];
  conflicts: string[];
  refused: number;
  errors: string[];
}

function concurrentTransfers(backend: LedgerBackend, processes: number, ms: number): void {
  test(`${backend.name}: ${processes} processes of random transfers and retries keep the ledger exact`, {
    ...testOptions(backend),
    timeout: 60_000,
  }, async (t) => {
    const { database, store } = await funded(backend);
    try {
      const workers = Array.from({ length: processes }, (_, i) =>
        startWorker(database, "transfers", i, ms),
      );
      for (const w of workers) assert.equal((await w.lines.next()).value, "ready");
      for (const w of workers) w.child.stdin.end("go\n");
      const reports = await Promise.all(
        workers.map(async (w) => {
          const line = (await w.lines.next()).value as string | undefined;
          const [code] = await w.exited;
          assert.equal(code, 0, "the worker process succeeded");
          return JSON.parse(line ?? "") as TransfersReport;
        }),
      );
      for (const r of reports) assert.deepEqual(r.errors, [], "no unexpected error");
      const applied = reports.flatMap((r) => r.applied);
      assert.equal(new Set(applied).size, applied.length, "no id applied twice, by any process");
      const appliedIds = new Set(applied);
      for (const r of reports) {
        for (const id of [...r.replayed, ...r.conflicts]) {
          assert.ok(appliedIds.has(id), `${id} was reported as used, so some process applied it`);
        }
      }
      const replays = reports.reduce((n, r) => n + r.replayed.length, 0);
      assert.ok(replays > 0, "retries of used ids happened");
      assert.ok(
        reports.every((r) => r.applied.length > 0),
        `every process applied operations (${reports.map((r) => r.applied.length).join(", ")})`,
      );

      const check = await store.ledgerCheck();
      t.diagnostic(
        `applied ${applied.length}, replayed ${replays}, conflicts ${reports.reduce((n, r) => n + r.conflicts.length, 0)}, refused ${reports.reduce((n, r) => n + r.refused, 0)}`,
      );
      assert.equal(check.operations, AGENTS + applied.length, "one row per distinct accepted id");
      await assertConsistent(store, "after the processes");
      const stored = new Set((await store.ledgerOperations({ limit: 100_000 })).map((o) => o.id));
      for (const id of applied) assert.ok(stored.has(id), `${id} is stored`);
    } finally {
      await store.close();
      await database.destroy();
    }
  });
}

function killedMidOperation(backend: LedgerBackend, rounds: number): void {
  test(`${backend.name}: kill -9 in the middle of multi-entry operations leaves no partial operation`, {
    ...testOptions(backend),
    timeout: 60_000,
  }, async (t) => {
    const { database, store } = await funded(backend);
    await store.close();
    try {
      let before = AGENTS;
      for (let round = 0; round < rounds; round++) {
        const worker = startWorker(database, "crash", round, 0);
        assert.equal((await worker.lines.next()).value, "ready");
        worker.child.stdin.end("go\n");
        const confirmed: string[] = [];
        const errors: string[] = [];
        // Read until a few operations went through, then kill at a random moment.
        const reading = (async () => {
          for (;;) {
            const { value, done } = await worker.lines.next();
            if (done) return;
            if (value.startsWith("applied ")) confirmed.push(value.slice(8));
            else errors.push(value);
          }
        })();
        while (confirmed.length < 20) {
          if (worker.child.exitCode !== null) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 300));
        worker.child.kill("SIGKILL");
        const [, signal] = await worker.exited;
        await reading;
        assert.equal(signal, "SIGKILL", "the worker was killed, not finished");
        assert.deepEqual(errors, [], "no unexpected error before the kill");

        const reopened = await database.open();
        try {
          await assertConsistent(reopened, `after kill ${round + 1}`);
          const check = await reopened.ledgerCheck();
          assert.ok(
            check.operations >= before + confirmed.length,
            `every confirmed operation is stored (${check.operations} ≥ ${before} + ${confirmed.length})`,
          );
          t.diagnostic(
            `kill ${round + 1}: ${check.operations - before} operations since the last kill, ${confirmed.length} confirmed`,
          );
          before = check.operations;
          const stored = new Set(
            (await reopened.ledgerOperations({ limit: 1_000_000 })).map((o) => o.id),
          );
          for (const id of confirmed) assert.ok(stored.has(id), `${id} survived the kill`);
        } finally {
          await reopened.close();
        }
      }
    } finally {
      await database.destroy();
    }
  });
}

describe("ledger across processes", () => {
  concurrentTransfers(postgresBackend, 4, 3000);
  concurrentTransfers(sqliteBackend, 3, 1500);
  killedMidOperation(postgresBackend, 3);
  killedMidOperation(sqliteBackend, 3);
});
