/**
 * Ledger benchmarks: transfers through `store.applyLedgerOperation` (rules
 * checked, idempotency record, entries, maintained balances, all in one
 * transaction per group-committed batch) against the raw driver writing the
 * same rows, measured in the same run.
 *
 * - `ledger.sqlite.transfers`: one SQLite store (prepared hot path) against
 *   raw better-sqlite3, same schema, same pragmas (WAL, synchronous=NORMAL).
 * - `ledger.postgres.transfers`: four store handles (four clients, each its
 *   own pool) on one schema against four raw `pg` clients. Postgres:
 *   `CONCLAVE_BENCH_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/test);
 *   a random schema, dropped afterwards. Unreachable: value NaN, the reason
 *   in `notes`; nothing here throws.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import {
  agentAccount,
  type LedgerOperation,
  operationFingerprint,
  operations,
} from "../src/ledger/index.js";
import type { Store } from "../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../src/store/postgres-store.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { type Bench, type BenchResult, timed } from "./harness.js";

type Result = Omit<BenchResult, "machine" | "ratio">;

const POSTGRES_URL =
  process.env["CONCLAVE_BENCH_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
/** Agent accounts the transfers move credits between. */
const ACCOUNTS = 1000;
const FUNDING = 1_000_000;

/** Transfers between random funded agents, never overdrawing (amounts 1–100, funding 1,000,000). */
function transfers(prefix: string, n: number, seed: number): LedgerOperation[] {
  let state = seed >>> 0;
  const next = (max: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % max;
  };
  return Array.from({ length: n }, (_, i) => {
    const from = next(ACCOUNTS);
    const to = (from + 1 + next(ACCOUNTS - 1)) % ACCOUNTS;
    return operations.transfer(
      `${prefix}${i}`,
      agentAccount(`a${from}`),
      agentAccount(`a${to}`),
      1 + next(100),
      1_700_000_000_000 + i,
    );
  });
}

async function fund(store: Store): Promise<void> {
  await Promise.all(
    Array.from({ length: ACCOUNTS }, (_, i) =>
      store.applyLedgerOperation(operations.mint(`fund-${i}`, agentAccount(`a${i}`), FUNDING, 0)),
    ),
  );
}

/** Applies `ops` through the store, `window` calls in flight; throws unless every one applied. */
async function applyAll(
  store: Store,
  ops: readonly LedgerOperation[],
  window: number,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < ops.length) {
      const op = ops[next++] as LedgerOperation;
      const { applied } = await store.applyLedgerOperation(op);
      if (!applied) throw new Error(`bench transfer ${op.id} was not applied`);
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
}

async function assertExact(store: Store, expected: number): Promise<void> {
  const check = await store.ledgerCheck();
  if (
    check.sum !== check.minted ||
    check.minted !== ACCOUNTS * FUNDING ||
    check.mismatched.length + check.negative.length + check.unbalanced.length > 0 ||
    check.operations !== ACCOUNTS + expected
  ) {
    throw new Error(`ledger inconsistent after the bench: ${JSON.stringify(check)}`);
  }
}

// ---- SQLite ------------------------------------------------------------------

/**
 * `ledger.sqlite.transfers`: 50,000 transfers, 1,000 calls in flight, into
 * one store. Baseline: raw better-sqlite3 with prepared statements writing
 * the same rows per transfer in one transaction (operation row, two entry
 * rows, two balance updates), one transaction per transfer, with no rule
 * checks and no idempotency lookups.
 */
export const sqliteTransfers: Bench = async () => {
  const n = 50_000;
  const window = 1000;
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-ledger-"));
  try {
    const store = openSqliteStore({ path: join(dir, "store.db") });
    await fund(store);
    const warm = transfers("warm-", 5000, 1);
    await applyAll(store, warm, window);
    const ops = transfers("t-", n, 2);
    const ms = await timed(() => applyAll(store, ops, window));
    await assertExact(store, warm.length + n);
    const replayMs = await timed(async () => {
      await Promise.all(ops.slice(0, 10_000).map((o) => store.applyLedgerOperation(o)));
    });
    await store.close();

    // The same schema (the store's migrations), then raw statements only.
    const rawPath = join(dir, "raw.db");
    const created = openSqliteStore({ path: rawPath });
    await created.ready();
    await created.close();
    const db = new Database(rawPath);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const insertOperation = db.prepare(
      "insert into conclave_ledger_operations (id, kind, fingerprint, memo, at) values (?, ?, ?, ?, ?)",
    );
    const insertEntry = db.prepare(
      "insert into conclave_ledger_entries (operation_id, seq, account, delta) values (?, ?, ?, ?)",
    );
    const insertBalance = db.prepare(
      "insert into conclave_ledger_balances (account, balance) values (?, ?)",
    );
    const updateBalance = db.prepare(
      "update conclave_ledger_balances set balance = balance + ? where account = ?",
    );
    db.transaction(() => {
      for (let i = 0; i < ACCOUNTS; i++) insertBalance.run(agentAccount(`a${i}`), FUNDING);
    })();
    const rawOps = transfers("raw-", n, 2).map((o) => ({
      o,
      fingerprint: operationFingerprint(o),
      memo: JSON.stringify(o.memo),
    }));
    const transfer = db.transaction((t: (typeof rawOps)[number]) => {
      insertOperation.run(t.o.id, t.o.kind, t.fingerprint, t.memo, t.o.at);
      t.o.entries.forEach((e, seq) => {
        insertEntry.run(t.o.id, seq, e.account, e.delta);
      });
      for (const e of t.o.entries) updateBalance.run(e.delta, e.account);
    });
    const baselineMs = await timed(() => {
      for (const t of rawOps) transfer(t);
    });
    // For scale: the same raw writes, 256 transfers per transaction.
    const batchedOps = transfers("rawb-", n, 2).map((o) => ({
      o,
      fingerprint: operationFingerprint(o),
      memo: JSON.stringify(o.memo),
    }));
    const batch = db.transaction((ts: typeof rawOps) => {
      for (const t of ts) transfer(t);
    });
    const batchedMs = await timed(() => {
      for (let i = 0; i < batchedOps.length; i += 256) batch(batchedOps.slice(i, i + 256));
    });
    db.close();

    const value = Math.round((n / ms) * 1000);
    return {
      name: "ledger.sqlite.transfers",
      value,
      unit: "transfers/s",
      baseline:
        "raw better-sqlite3: operation row + 2 entries + 2 balance updates, one transaction per transfer",
      baselineValue: Math.round((n / baselineMs) * 1000),
      goal: "≥ 10,000 transfers/s",
      met: value >= 10_000,
      notes: `${n} transfers among ${ACCOUNTS} agents, ${window} calls in flight, group-committed (one transaction per batch of up to 256; each operation still checked, idempotent and refusable on its own); the baseline checks nothing and commits each transfer alone; the same raw writes 256 transfers per transaction: ${Math.round((n / batchedMs) * 1000)}/s; replays of applied ids: ${Math.round((10_000 / replayMs) * 1000)}/s; ledger checked exact afterwards`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

// ---- Postgres ------------------------------------------------------------------

const CLIENTS = 4;

/**
 * `ledger.postgres.transfers`: 4 store handles (4 clients, each with its own
 * pool), 20,000 transfers in all, 256 calls in flight per client, between
 * the same 1,000 agents (clients contend for the same rows). Baseline: 4
 * raw `pg` clients writing the same rows per transfer, one transaction per
 * transfer (begin, operation row, two entry rows, two balance updates,
 * commit), with no rule checks, locks or idempotency lookups.
 */
export const postgresTransfers: Bench = async () => {
  const n = 20_000;
  const window = 256;
  const schema = `conclave_bench_${randomBytes(6).toString("hex")}`;
  const base = {
    name: "ledger.postgres.transfers",
    unit: "transfers/s",
    baseline: `${CLIENTS} raw pg clients: begin, operation row + 2 entries + 2 balance updates, commit, per transfer`,
    goal: "≥ 3,000 transfers/s",
  };
  const probe = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await probe.connect();
  } catch (error) {
    return {
      ...base,
      value: Number.NaN,
      baselineValue: Number.NaN,
      met: false,
      notes: `Postgres at ${POSTGRES_URL} is unreachable (${error instanceof Error ? error.message : String(error)}); set CONCLAVE_BENCH_POSTGRES_URL`,
    } satisfies Result;
  } finally {
    await probe.end().catch(() => {});
  }
  const stores: Store[] = [];
  try {
    for (let c = 0; c < CLIENTS; c++) {
      stores.push(await openPostgresStore({ url: POSTGRES_URL, schema, poolSize: 2 }));
    }
    const [first] = stores as [Store];
    await fund(first);
    const perClient = (prefix: string, count: number) =>
      stores.map((_, c) => transfers(`${prefix}${c}-`, count / CLIENTS, 100 + c));
    const warm = perClient("warm-", 2000);
    await Promise.all(stores.map((s, c) => applyAll(s, warm[c] ?? [], window)));
    const ops = perClient("t-", n);
    const ms = await timed(async () => {
      await Promise.all(stores.map((s, c) => applyAll(s, ops[c] ?? [], window)));
    });
    await assertExact(first, 2000 + n);
    for (const s of stores) await s.close();
    stores.length = 0;

    const baseline = await rawPostgres(schema, n);
    const value = Math.round((n / ms) * 1000);
    return {
      ...base,
      value,
      baselineValue: Math.round((n / baseline.perTransferMs) * 1000),
      met: value >= 3000,
      notes: `${n} transfers among ${ACCOUNTS} agents from ${CLIENTS} clients, ${window} calls in flight each, group-committed per client (batches of up to 256: placeholder insert, select … for update in account order, idempotency lookup, inserts, upsert); synchronous_commit as the server has it; the baseline checks nothing and commits each transfer alone; raw pg batching 256 transfers per transaction (multi-row inserts, unnest update, still no checks): ${Math.round((n / baseline.batchedMs) * 1000)}/s; ledger checked exact afterwards`,
    } satisfies Result;
  } finally {
    for (const s of stores) await s.close().catch(() => {});
    await dropPostgresSchema({ url: POSTGRES_URL, schema }).catch(() => {});
  }
};

/** Raw pg on fresh tables of the same schema: per-transfer transactions, then batched. */
async function rawPostgres(
  schema: string,
  n: number,
): Promise<{ perTransferMs: number; batchedMs: number }> {
  const clients = Array.from(
    { length: CLIENTS },
    () => new pg.Client({ connectionString: POSTGRES_URL }),
  );
  await Promise.all(clients.map((c) => c.connect()));
  try {
    const [admin] = clients as [pg.Client];
    const reset = async () => {
      await admin.query(`set search_path to "${schema}"`);
      await admin.query(
        "truncate conclave_ledger_operations, conclave_ledger_entries, conclave_ledger_balances",
      );
      await admin.query(
        "insert into conclave_ledger_balances (account, balance) select 'agent:a' || i, $1 from generate_series(0, $2 - 1) i",
        [FUNDING, ACCOUNTS],
      );
    };
    for (const c of clients) await c.query(`set search_path to "${schema}"`);
    const prepare = (prefix: string) =>
      clients.map((_, c) =>
        transfers(`${prefix}${c}-`, n / CLIENTS, 100 + c).map((o) => ({
          o,
          fingerprint: operationFingerprint(o),
          memo: JSON.stringify(o.memo),
        })),
      );

    await reset();
    const single = prepare("raw-");
    const perTransferMs = await timed(async () => {
      await Promise.all(
        clients.map(async (client, c) => {
          for (const { o, fingerprint, memo } of single[c] ?? []) {
            const [from, to] = o.entries as [
              LedgerOperation["entries"][0],
              LedgerOperation["entries"][0],
            ];
            await client.query("begin");
            await client.query({
              name: "op",
              text: "insert into conclave_ledger_operations (id, kind, fingerprint, memo, at) values ($1, $2, $3, $4, $5)",
              values: [o.id, o.kind, fingerprint, memo, o.at],
            });
            for (const [seq, e] of [from, to].entries()) {
              await client.query({
                name: "entry",
                text: "insert into conclave_ledger_entries (operation_id, seq, account, delta) values ($1, $2, $3, $4)",
                values: [o.id, seq, e.account, e.delta],
              });
            }
            // In account order, as a careful raw implementation would, to avoid deadlocks.
            for (const e of [from, to].sort((a, b) => (a.account < b.account ? -1 : 1))) {
              await client.query({
                name: "balance",
                text: "update conclave_ledger_balances set balance = balance + $1 where account = $2",
                values: [e.delta, e.account],
              });
            }
            await client.query("commit");
          }
        }),
      );
    });

    await reset();
    const batched = prepare("rawb-");
    const batchedMs = await timed(async () => {
      await Promise.all(
        clients.map(async (client, c) => {
          const mine = batched[c] ?? [];
          for (let i = 0; i < mine.length; i += 256) {
            const batch = mine.slice(i, i + 256);
            const deltas = new Map<string, number>();
            for (const { o } of batch)
              for (const e of o.entries)
                deltas.set(e.account, (deltas.get(e.account) ?? 0) + e.delta);
            const accounts = [...deltas.keys()].sort();
            await client.query("begin");
            await client.query(
              "insert into conclave_ledger_operations (id, kind, fingerprint, memo, at) select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])",
              [
                batch.map((t) => t.o.id),
                batch.map((t) => t.o.kind),
                batch.map((t) => t.fingerprint),
                batch.map((t) => t.memo),
                batch.map((t) => t.o.at),
              ],
            );
            const entries = batch.flatMap((t) =>
              t.o.entries.map((e, seq) => [t.o.id, seq, e.account, e.delta] as const),
            );
            await client.query(
              "insert into conclave_ledger_entries (operation_id, seq, account, delta) select * from unnest($1::text[], $2::int[], $3::text[], $4::bigint[])",
              [
                entries.map((e) => e[0]),
                entries.map((e) => e[1]),
                entries.map((e) => e[2]),
                entries.map((e) => e[3]),
              ],
            );
            await client.query(
              `update conclave_ledger_balances b set balance = b.balance + u.delta
               from (select * from unnest($1::text[], $2::bigint[]) as u(account, delta) order by account collate "C") u
               where b.account = u.account`,
              [accounts, accounts.map((a) => deltas.get(a))],
            );
            await client.query("commit");
          }
        }),
      );
    });
    return { perTransferMs, batchedMs };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

export const ledgerBenches: Record<string, Bench> = {
  "ledger.sqlite.transfers": sqliteTransfers,
  "ledger.postgres.transfers": postgresTransfers,
};
