/**
 * Several OS processes writing one store at once, each through its own
 * connection: the case a swarm spread over processes (or machines) creates.
 * Shared by the SQLite and Postgres multi-process tests.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { verifyAuditChain } from "../../src/store/audit-chain.js";
import type { Store } from "../../src/store/port.js";

const writerScript = fileURLToPath(new URL("./fixtures/concurrent-writer.ts", import.meta.url));

interface WriterReport {
  applied: string[];
  seqs: number[];
  firstClaims: string[];
}

/**
 * Starts `writers` processes on a store nobody has opened yet, then checks
 * through `open()`: every task applied exactly once, the audit chain
 * gap-free and intact, each idempotency key claimed once.
 */
export async function checkConcurrentWriters(options: {
  backend: "sqlite" | "postgres";
  target: string;
  schema?: string;
  writers: number;
  open: () => Promise<Store>;
}): Promise<void> {
  const tasks = 200;
  const audits = 30;
  const children = Array.from({ length: options.writers }, (_, writer) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        writerScript,
        options.backend,
        options.target,
        options.schema ?? "-",
        String(writer),
        String(tasks),
        String(audits),
      ],
      { cwd: process.cwd(), stdio: ["pipe", "pipe", "inherit"], timeout: 60_000 },
    );
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const exited = once(child, "exit");
    return { child, lines, exited };
  });
  // Everyone loaded, then everyone goes at once.
  for (const { lines } of children) assert.equal((await lines.next()).value, "ready");
  for (const { child } of children) child.stdin.end("go\n");
  const reports = await Promise.all(
    children.map(async ({ lines, exited }) => {
      const report = (await lines.next()).value as string | undefined;
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, "the writer process succeeded");
      return JSON.parse(report ?? "") as WriterReport;
    }),
  );

  const applied = reports.flatMap((r) => r.applied).sort();
  assert.equal(applied.length, tasks, "each task applied by exactly one process");
  assert.equal(new Set(applied).size, tasks);
  const claimed = reports.flatMap((r) => r.firstClaims);
  assert.equal(claimed.length, 20, "each key claimed first by exactly one process");
  assert.equal(new Set(claimed).size, 20);
  const seqs = reports.flatMap((r) => r.seqs).sort((a, b) => a - b);
  assert.deepEqual(
    seqs,
    Array.from({ length: options.writers * audits }, (_, i) => i + 1),
  );

  const store = await options.open();
  try {
    assert.deepEqual(await store.effectStats("multi"), {
      kind: "multi",
      keys: tasks,
      duplicateKeys: 0,
    });
    assert.equal((await store.pendingOutbox({ limit: 10_000 })).length, tasks);
    const log = await store.auditLog();
    assert.equal(log.length, options.writers * audits);
    assert.equal(verifyAuditChain(log), undefined);
    const status = await store.schemaStatus();
    assert.deepEqual(
      status.applied.map((m) => m.name),
      status.known,
      "migrated once, to the latest version",
    );
  } finally {
    await store.close();
  }
}
