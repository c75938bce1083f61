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
import Database from "better-sqlite3";
import { ManualClock } from "../../src/core/clock.js";
import { ConfigError, UnroutableError } from "../../src/errors/index.js";
import { storeDedup } from "../../src/runtime/broker-dedup.js";
import type { Store } from "../../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import {
  createAmqpTransport,
  createSharedDedupStore,
  createWindowDedupStore,
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

/**
 * A repeat of an id claimed while the first publish is still under way
 * waits for its outcome: it used to be answered "duplicate" at once, and
 * when the first publish then failed nothing was stored and both enqueues
 * had reported success or duplicate (the message lost).
 */
describe("in-process dedup store: a repeat while the first publish is under way", () => {
  const WINDOW = 120_000;
  const pending = async (p: Promise<unknown>) =>
    (await Promise.race([
      p.then(() => "settled"),
      new Promise((r) => setImmediate(r, "pending")),
    ])) === "pending";

  test("is a duplicate once the first is confirmed", async () => {
    const store = createWindowDedupStore(new ManualClock(1000));
    assert.equal(await store.claim("a", WINDOW), true);
    const repeat = store.claim("a", WINDOW);
    assert.equal(await pending(repeat), true, "waits for the first publish");
    await store.confirm?.("a");
    assert.equal(await repeat, false);
  });

  test("claims the id itself once the first is released", async () => {
    const store = createWindowDedupStore(new ManualClock(1000));
    assert.equal(await store.claim("a", WINDOW), true);
    const repeats = [store.claim("a", WINDOW), store.claim("a", WINDOW)];
    await store.release?.("a");
    // One of them publishes; the other waits for that one in turn.
    assert.equal(await repeats[0], true);
    assert.equal(await pending(repeats[1] as Promise<boolean>), true);
    await store.confirm?.("a");
    assert.equal(await repeats[1], false);
  });

  test("stops waiting for a claim never settled once its window ends", async () => {
    const clock = new ManualClock(1000);
    const store = createWindowDedupStore(clock);
    assert.equal(await store.claim("a", 100), true);
    const repeat = store.claim("a", 100);
    assert.equal(await pending(repeat), true);
    clock.advance(100);
    assert.equal(await repeat, true);
  });

  test("the shared store settles its local claim too", async () => {
    const claims = memoryClaims();
    const a = createSharedDedupStore(claims);
    assert.equal(await a.claim("id-1", WINDOW), true);
    const repeat = a.claim("id-1", WINDOW);
    await a.release?.("id-1");
    assert.equal(await repeat, true, "the repeat publishes");
    await a.confirm?.("id-1");
    assert.equal(await a.claim("id-1", WINDOW), false);
    // Sent by another process: a local repeat waiting meanwhile is answered too.
    const b = createSharedDedupStore(claims);
    const first = b.claim("id-1", WINDOW);
    const second = b.claim("id-1", WINDOW);
    assert.deepEqual(await Promise.all([first, second]), [false, false]);
  });
});

const work = mkdtempSync(join(tmpdir(), "conclave-amqp-dedup-"));
after(() => rmSync(work, { recursive: true, force: true }));

describe("storeDedup: pruning its own keys", () => {
  const WINDOW = 1_000;
  const T0 = 1_700_000_000_000;
  let files = 0;

  /** A SQLite store on a fresh file, and the keys of its idempotency table. */
  const fresh = () => {
    const path = join(work, `prune-${files++}.db`);
    const store = openSqliteStore({ path });
    const keys = () => {
      const db = new Database(path, { readonly: true });
      try {
        const rows = db.prepare("select key from conclave_idempotency order by key").all();
        return (rows as { key: string }[]).map((row) => row.key);
      } finally {
        db.close();
      }
    };
    return { store, keys };
  };

  /** The store as `storeDedup` sees it, recording each prune; `prune` replaces the real one. */
  const watched = (
    store: Store,
    prune: Store["pruneIdempotencyKeys"] = (before, options) =>
      store.pruneIdempotencyKeys(before, options),
  ) => {
    const prunes: { before: number; prefix: string | undefined; done: Promise<number> }[] = [];
    return {
      prunes,
      claimIdempotencyKey: ((key, result, options) =>
        store.claimIdempotencyKey(key, result, options)) satisfies Store["claimIdempotencyKey"],
      pruneIdempotencyKeys: ((before, options) => {
        const done = prune(before, options);
        prunes.push({ before, prefix: options?.prefix, done });
        return done;
      }) satisfies Store["pruneIdempotencyKeys"],
    };
  };

  /** Lets a settled background prune finish its bookkeeping. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

  test("claims prune the dedup's old keys now and then, and leave young and foreign keys", async () => {
    const { store, keys } = fresh();
    const clock = new ManualClock(T0);
    try {
      await store.claimIdempotencyKey("consensus.propose:p1", "proposal", { at: T0 - 3_600_000 });
      const watchedStore = watched(store);
      const dedup = storeDedup(watchedStore, { clock, pruneEveryMs: 60_000, minKeepMs: 0 });

      assert.equal(await dedup.claim("old", WINDOW), true);
      await dedup.confirm?.("old");
      assert.equal(watchedStore.prunes.length, 1, "the first claim prunes what earlier runs left");
      assert.equal(await watchedStore.prunes[0]?.done, 0);

      clock.advance(59_000);
      assert.equal(await dedup.claim("young", WINDOW), true);
      await dedup.confirm?.("young");
      assert.equal(watchedStore.prunes.length, 1, "not again within pruneEveryMs");

      clock.advance(1_000);
      assert.equal(await dedup.claim("last", WINDOW), true);
      await dedup.confirm?.("last");
      assert.equal(watchedStore.prunes.length, 2, "again once pruneEveryMs has passed");
      const prune = watchedStore.prunes[1];
      assert.equal(prune?.prefix, "amqp.enqueue:");
      assert.equal(prune?.before, T0 + 60_000 - 2 * WINDOW, "keys older than twice the window");
      assert.equal(await prune?.done, 2, "both keys of the old enqueue");
      await settle();
      assert.deepEqual(keys(), [
        "amqp.enqueue:last#0",
        "amqp.enqueue:last#0!",
        "amqp.enqueue:young#0",
        "amqp.enqueue:young#0!",
        "consensus.propose:p1",
      ]);
    } finally {
      await store.close();
    }
  });

  test("a duplicate within the window is still caught after a prune, for the largest window seen", async () => {
    const { store, keys } = fresh();
    const clock = new ManualClock(T0);
    try {
      const watchedStore = watched(store);
      const dedup = storeDedup(watchedStore, { clock, pruneEveryMs: 100, minKeepMs: 0 });
      assert.equal(await dedup.claim("long", 5 * WINDOW), true);
      await dedup.confirm?.("long");
      assert.equal(await dedup.claim("old", WINDOW), true);
      await dedup.confirm?.("old");

      // Past twice the short window, within the long one.
      clock.advance(3 * WINDOW);
      assert.equal(await dedup.claim("recent", WINDOW), true);
      await dedup.confirm?.("recent");
      assert.equal(watchedStore.prunes.length, 2);
      assert.equal(watchedStore.prunes[1]?.before, T0 + 3 * WINDOW - 10 * WINDOW);
      assert.equal(await watchedStore.prunes[1]?.done, 0, "twice the largest window, not the last");

      clock.advance(WINDOW / 2);
      assert.equal(await dedup.claim("next", WINDOW), true);
      assert.equal(await watchedStore.prunes[2]?.done, 0);
      // Another process (no memory of its own) asks about the same ids.
      const otherStore = watched(store);
      const other = storeDedup(otherStore, { clock, pruneEveryMs: 60_000, minKeepMs: 0 });
      assert.equal(await other.claim("long", 5 * WINDOW), false, "still a duplicate");
      assert.equal(await other.claim("recent", WINDOW), false, "still a duplicate");
      assert.equal(await otherStore.prunes[0]?.done, 0);
      assert.ok(keys().includes("amqp.enqueue:old#0!"));
    } finally {
      await store.close();
    }
  });

  test("minKeepMs keeps keys longer than twice the window", async () => {
    const { store, keys } = fresh();
    const clock = new ManualClock(T0);
    try {
      const watchedStore = watched(store);
      const dedup = storeDedup(watchedStore, { clock, pruneEveryMs: 100 });
      assert.equal(await dedup.claim("id", WINDOW), true);
      clock.advance(10 * WINDOW);
      assert.equal(await dedup.claim("next", WINDOW), true);
      assert.equal(watchedStore.prunes[1]?.before, T0 + 10 * WINDOW - 600_000, "ten minutes");
      assert.equal(await watchedStore.prunes[1]?.done, 0);
      assert.ok(keys().includes("amqp.enqueue:id#0"));
    } finally {
      await store.close();
    }
  });

  test("a failing prune goes to onError, and the claim goes through", async () => {
    const { store } = fresh();
    const clock = new ManualClock(T0);
    try {
      const errors: Error[] = [];
      const failing = watched(store, async () => {
        throw new Error("database down while pruning");
      });
      const dedup = storeDedup(failing, {
        clock,
        pruneEveryMs: 100,
        onError: (error) => errors.push(error),
      });
      assert.equal(await dedup.claim("id-1", WINDOW), true);
      await dedup.confirm?.("id-1");
      await settle();
      assert.deepEqual(
        errors.map((e) => e.message),
        ["database down while pruning"],
      );
      assert.equal(await dedup.claim("id-1", WINDOW), false, "dedup still works");

      // The next prune is tried pruneEveryMs later, not on every claim.
      assert.equal(await dedup.claim("id-2", WINDOW), true);
      await settle();
      assert.equal(errors.length, 1);
      clock.advance(100);
      assert.equal(await dedup.claim("id-3", WINDOW), true);
      await settle();
      assert.equal(errors.length, 2);

      // Even a prune that throws before returning a promise, and a throwing hook.
      const throwing = watched(store, () => {
        throw new Error("refused at once");
      });
      const stubborn = storeDedup(throwing, {
        clock,
        onError: () => {
          throw new Error("the hook fails too");
        },
      });
      assert.equal(await stubborn.claim("id-4", WINDOW), true);
      await settle();
    } finally {
      await store.close();
    }
  });

  test("prunes never overlap, and a slow one holds up no claim", { timeout: 10_000 }, async () => {
    const { store } = fresh();
    const clock = new ManualClock(T0);
    try {
      const finish: (() => void)[] = [];
      const slow = watched(
        store,
        () => new Promise<number>((resolve) => finish.push(() => resolve(0))),
      );
      const dedup = storeDedup(slow, { clock, pruneEveryMs: 1_000 });
      assert.equal(await dedup.claim("id-1", WINDOW), true, "answered while the prune hangs");
      clock.advance(5_000);
      assert.equal(await dedup.claim("id-2", WINDOW), true);
      assert.equal(slow.prunes.length, 1, "no second prune while the first runs");

      finish[0]?.();
      await settle();
      assert.equal(await dedup.claim("id-3", WINDOW), true);
      assert.equal(slow.prunes.length, 2, "overdue, so the next claim prunes");
      finish[1]?.();
      await settle();
      clock.advance(999);
      assert.equal(await dedup.claim("id-4", WINDOW), true);
      assert.equal(slow.prunes.length, 2);
      clock.advance(1);
      assert.equal(await dedup.claim("id-5", WINDOW), true);
      assert.equal(slow.prunes.length, 3);
      finish[2]?.();
      await settle();
    } finally {
      await store.close();
    }
  });

  test("nonsense settings are refused", async () => {
    const { store } = fresh();
    try {
      assert.throws(() => storeDedup(store, { pruneEveryMs: 0 }), ConfigError);
      assert.throws(() => storeDedup(store, { minKeepMs: -1 }), ConfigError);
      assert.throws(() => storeDedup(store, { minKeepMs: Number.NaN }), ConfigError);
      storeDedup(store, { minKeepMs: 0 });
    } finally {
      await store.close();
    }
  });
});

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
      await declareTaskQueues(a.transport, prefix, {
        dlq: { maxDeliver: 100 },
        work: { maxDeliver: 5 },
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
