/**
 * RabbitMQ has no publish-side deduplication; the AMQP adapter's is a
 * `DedupStore`. The default one lives in the process. These tests check the
 * shared one (`createSharedDedupStore`, and `storeDedup` on the swarm store):
 * an envelope id enqueued by one transport is dropped when another
 * transport (another process, or the same node after a restart) enqueues it
 * again, while a publish that never got confirmed (its process died, or the
 * broker refused it) never blocks the id.
 *
 * The broker part needs RabbitMQ (skipped locally without it, failing in CI),
 * and runs once on a SQLite file and once on Postgres (same rule).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { UnroutableError } from "../../src/errors/index.js";
import { storeDedup } from "../../src/runtime/broker-dedup.js";
import type { Store } from "../../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  createAmqpTransport,
  createSharedDedupStore,
  type DedupStore,
  deleteAmqpTopology,
  type SharedClaims,
} from "../../src/transport/amqp/index.js";
import type { Transport } from "../../src/transport/port.js";
import {
  amqpMissing,
  amqpUrl,
  postgresMissing,
  postgresUrl,
} from "../integration/fixtures/processes.js";

const bytes = (s: string) => new TextEncoder().encode(s);

/** An insert-once table in memory, shared by the "processes" of a test. */
function memoryClaims(): SharedClaims & { keys(): string[] } {
  const table = new Map<string, unknown>();
  return {
    async claim(key, value) {
      if (table.has(key)) return { first: false, value: table.get(key) };
      table.set(key, value);
      return { first: true };
    },
    keys: () => [...table.keys()],
  };
}

describe("shared dedup store: the protocol", () => {
  const WINDOW = 120_000;

  test("an id published and confirmed by one process is a duplicate for another", async () => {
    const claims = memoryClaims();
    const a = createSharedDedupStore(claims);
    const b = createSharedDedupStore(claims);
    assert.equal(await a.claim("id-1", WINDOW), true);
    await a.confirm?.("id-1");
    assert.equal(await b.claim("id-1", WINDOW), false, "another process drops it");
    assert.equal(await a.claim("id-1", WINDOW), false, "so does the first one");
    assert.equal(await b.claim("id-2", WINDOW), true, "other ids go through");
  });

  test("a process that died between its claim and the confirm does not block the id", async () => {
    const claims = memoryClaims();
    const dead = createSharedDedupStore(claims);
    assert.equal(await dead.claim("id-1", WINDOW), true);
    // ... killed before the broker confirmed: no confirm, no release.
    const restarted = createSharedDedupStore(claims);
    assert.equal(await restarted.claim("id-1", WINDOW), true, "published again, not lost");
    await restarted.confirm?.("id-1");
    // The dead process's attempt was decided "abandoned"; a late confirm from
    // it changes nothing, and the second attempt's confirm counts.
    await dead.confirm?.("id-1");
    assert.equal(await createSharedDedupStore(claims).claim("id-1", WINDOW), false);
  });

  test("a refused publish releases the id for a retry from any process", async () => {
    const claims = memoryClaims();
    const a = createSharedDedupStore(claims);
    assert.equal(await a.claim("id-1", WINDOW), true);
    await a.release?.("id-1");
    const b = createSharedDedupStore(claims);
    assert.equal(await b.claim("id-1", WINDOW), true, "the retry goes through");
    await b.confirm?.("id-1");
    assert.equal(await a.claim("id-1", WINDOW), false, "and once confirmed, it counts");
  });

  test("after the window an id may be published again", async () => {
    const clock = new ManualClock(1_000_000);
    const claims = memoryClaims();
    const a = createSharedDedupStore(claims, { clock });
    assert.equal(await a.claim("id-1", 1000), true);
    await a.confirm?.("id-1");
    clock.advance(999);
    assert.equal(await createSharedDedupStore(claims, { clock }).claim("id-1", 1000), false);
    clock.advance(2);
    assert.equal(await createSharedDedupStore(claims, { clock }).claim("id-1", 1000), true);
  });

  test("a failing shared table fails the claim (the caller retries) and frees the id locally", async () => {
    let down = true;
    const claims = memoryClaims();
    const flaky: SharedClaims = {
      claim: (key, value) =>
        down ? Promise.reject(new Error("database down")) : claims.claim(key, value),
    };
    const a = createSharedDedupStore(flaky);
    await assert.rejects(a.claim("id-1", WINDOW), /database down/);
    down = false;
    assert.equal(await a.claim("id-1", WINDOW), true);
  });
});

const work = mkdtempSync(join(tmpdir(), "conclave-amqp-dedup-"));
after(() => rmSync(work, { recursive: true, force: true }));

interface Backend {
  readonly name: string;
  readonly missing: string | undefined;
  /** A new handle on the same database (as another process would open). */
  open(): Promise<Store>;
  destroy(): Promise<void>;
}

const sqlitePath = join(work, "swarm.db");
const pgSchema = `conclave_dedup_${randomBytes(5).toString("hex")}`;
const backends: Backend[] = [
  {
    name: "sqlite",
    missing: undefined,
    open: async () => openSqliteStore({ path: sqlitePath }),
    destroy: async () => {},
  },
  {
    name: "postgres",
    missing: await postgresMissing(),
    open: () => openPostgresStore({ url: postgresUrl, schema: pgSchema, poolSize: 2 }),
    destroy: () => dropPostgresSchema({ url: postgresUrl, schema: pgSchema }),
  },
];
const rabbitMissing = await amqpMissing();

for (const backend of backends) {
  const missing = rabbitMissing ?? backend.missing;
  const ci = process.env["CI"] === "true";
  if (missing !== undefined && !ci)
    console.log(`# skipping amqp dedup on ${backend.name}: ${missing}`);
  describe(`${backend.name}: amqp enqueue dedup across transports sharing the store`, {
    ...(missing !== undefined && !ci ? { skip: missing } : {}),
  }, () => {
    const exchange = `conclave-dedup-${randomBytes(4).toString("hex")}`;
    const prefix = `d${randomBytes(4).toString("hex")}`;
    const queues = [`${prefix}-work`, `${prefix}-dlq`];
    const transports: Transport[] = [];
    const stores: Store[] = [];

    const node = async (dedup?: (store: Store) => DedupStore) => {
      const store = await backend.open();
      stores.push(store);
      const transport = await createAmqpTransport({
        url: amqpUrl,
        exchange,
        ...(dedup ? { dedup: dedup(store) } : {}),
      });
      transports.push(transport);
      return { store, transport };
    };

    after(async () => {
      for (const t of transports) await t.close().catch(() => undefined);
      for (const s of stores) await s.close().catch(() => undefined);
      if (missing === undefined) {
        await deleteAmqpTopology({ url: amqpUrl, exchange, queues });
        await backend.destroy();
      }
    });

    test("the same id enqueued by two nodes, and again after a restart, is on the queue once", async () => {
      if (missing !== undefined) assert.fail(`${missing}; CI must provide it`);
      const a = await node(storeDedup);
      await a.transport.ensureQueue({
        name: `${prefix}-dlq`,
        subjects: `${prefix}.dlq.>`,
        ackWaitMs: 30_000,
        maxDeliver: 100,
        deadLetterSubject: `${prefix}.dlq.dlq`,
      });
      await a.transport.ensureQueue({
        name: `${prefix}-work`,
        subjects: `${prefix}.task.>`,
        ackWaitMs: 30_000,
        maxDeliver: 5,
        deadLetterSubject: `${prefix}.dlq.work`,
      });
      const b = await node(storeDedup);
      const id = `01J${randomBytes(8).toString("hex").toUpperCase()}`;
      const subject = `${prefix}.task.build`;

      assert.deepEqual(await a.transport.enqueue(subject, bytes("v1"), { msgId: id }), {
        duplicate: false,
      });
      assert.deepEqual(await b.transport.enqueue(subject, bytes("v1"), { msgId: id }), {
        duplicate: true,
      });
      // Node a restarts: new transport, new store handle, nothing in memory.
      await a.transport.close();
      await a.store.close();
      const restarted = await node(storeDedup);
      assert.deepEqual(await restarted.transport.enqueue(subject, bytes("v1"), { msgId: id }), {
        duplicate: true,
      });
      assert.equal((await b.transport.queueInfo(`${prefix}-work`)).pending, 1, "one copy");

      // An unroutable enqueue (no queue takes the subject) does not block the id.
      const lost = `${id}-x`;
      await assert.rejects(
        b.transport.enqueue(`${prefix}.nowhere.x`, bytes("v2"), { msgId: lost }),
        UnroutableError,
      );
      assert.deepEqual(await restarted.transport.enqueue(subject, bytes("v2"), { msgId: lost }), {
        duplicate: false,
      });
      assert.equal((await b.transport.queueInfo(`${prefix}-work`)).pending, 2);

      // Without the shared store (the default), each node only knows its own ids.
      const plain1 = await node();
      const plain2 = await node();
      const other = `${id}-plain`;
      await plain1.transport.enqueue(subject, bytes("v3"), { msgId: other });
      assert.deepEqual(await plain2.transport.enqueue(subject, bytes("v3"), { msgId: other }), {
        duplicate: false,
      });
      assert.equal((await b.transport.queueInfo(`${prefix}-work`)).pending, 4);
    });
  });
}
