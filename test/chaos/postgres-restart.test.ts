/**
 * A Postgres server restart (not a cut link: the server itself goes away
 * and comes back), between and during store operations, on a private
 * server this test may stop (test/helpers/postgres-server.ts).
 *
 * What the runtime relies on (src/runtime/store-outage.ts): every failure
 * while the server is down, shutting down (57P01 after `pg_ctl stop -m
 * fast`, a crash with `-m immediate`) or starting up (57P03) is a
 * `StoreError` that `isStoreUnreachable` recognises, so the caller waits
 * and calls again; once the server is back the same handle works without
 * reopening; and a call repeated after an answer that was lost applies
 * nothing twice (ledger operations are idempotent by id).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { agentAccount } from "../../src/ledger/accounts.js";
import { operations } from "../../src/ledger/operations.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres-store.js";
import { isStoreUnreachable } from "../../src/store/unreachable.js";
import {
  type PostgresServer,
  postgresServerMissing,
  startPostgresServer,
} from "../helpers/postgres-server.js";

const missing = postgresServerMissing();

/** Calls `call` until it succeeds; each failure must be "unreachable" (else it is thrown). Counts those. */
async function retrying<T>(call: () => Promise<T>, failures: unknown[]): Promise<T> {
  const end = Date.now() + 30_000;
  for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
    try {
      return await call();
    } catch (error) {
      if (!isStoreUnreachable(error) || Date.now() > end) throw error;
      failures.push(error);
      await sleep(wait);
    }
  }
}

describe("a Postgres server restart", { ...(missing ? { skip: missing } : {}) }, () => {
  let server: PostgresServer;
  let store: PostgresStore;
  const lead = agentAccount("lead");

  before(async () => {
    server = await startPostgresServer();
    const schema = `restart_${randomBytes(5).toString("hex")}`;
    store = await openPostgresStore({ url: server.url, schema, poolSize: 4 });
    await store.applyLedgerOperation(operations.mint("mint-lead", lead, 1_000, Date.now()));
  });

  after(async () => {
    await store?.close().catch(() => undefined);
    await server?.destroy();
  });

  test("between operations (stop -m fast): the next call fails as unreachable or succeeds, and the same handle works", async () => {
    const failures: unknown[] = [];
    await retrying(() => store.balance(lead), failures);
    await server.restart("fast");
    const op = operations.transfer("between-1", lead, agentAccount("dev-1"), 10, Date.now());
    assert.deepEqual(await retrying(() => store.applyLedgerOperation(op), failures), {
      applied: true,
    });
    assert.deepEqual(await store.applyLedgerOperation(op), { applied: false });
    assert.equal(await store.balance(agentAccount("dev-1")), 10);
  });

  test("while operations run (stop -m fast, then -m immediate): every one completes, each applied once", async () => {
    const failures: unknown[] = [];
    const total = 60;
    let started = 0;
    let done = 0;
    const worker = async (w: number) => {
      while (started < total) {
        const i = started++;
        const op = operations.transfer(
          `during-${i}`,
          lead,
          agentAccount(`dev-${w}`),
          1,
          Date.now(),
        );
        await retrying(() => store.applyLedgerOperation(op), failures);
        done++;
        await sleep(20);
      }
    };
    const restarts = (async () => {
      while (done < 10) await sleep(5);
      await server.stop("fast");
      await sleep(400);
      await server.start();
      while (done < 35) await sleep(5);
      await server.stop("immediate");
      await sleep(400);
      // The first start after a crash replays the WAL.
      await server.start();
    })();
    await Promise.all([restarts, ...[1, 2, 3, 4].map(worker)]);

    assert.equal(done, total);
    assert.ok(failures.length > 0, "no call was in flight during either restart: nothing tested");
    const check = await store.ledgerCheck();
    assert.equal(check.sum, check.minted);
    assert.deepEqual([check.negative, check.mismatched, check.unbalanced], [[], [], []]);
    const during = (await store.ledgerEntries({ account: lead })).filter((e) =>
      e.operationId.startsWith("during-"),
    );
    assert.equal(during.length, total, "each transfer debited the lead exactly once");
    assert.equal(await store.balance(lead), 1_000 - 10 - total);
  });
});
