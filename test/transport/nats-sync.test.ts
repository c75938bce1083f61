/**
 * `broker.syncEveryWrite` on NATS: only the server can fsync each JetStream
 * write (`jetstream { sync_interval: always }`, nats-server 2.10+), so the
 * transport checks what it can see from a client connection (the server's
 * version) and reports a server that cannot honour the setting, saying what
 * to change; the transport keeps working with the server's weaker promise.
 * Against a real private nats-server: the one on PATH, whatever its version.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { openTransport } from "../../src/runtime/from-config.js";
import {
  type NatsServer,
  natsServerAvailable,
  natsServerVersion,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport, SyncNotStrictError } from "../../src/transport/nats/index.js";
import {
  parseServerVersion,
  ReplicationUnsafeError,
  replicationProblem,
  syncProblem,
} from "../../src/transport/nats/sync-check.js";
import type { Transport } from "../../src/transport/port.js";
import { MINIMAL } from "../config/helpers.js";
import { until } from "../helpers/until.js";

const natsMissing = natsServerAvailable() ? undefined : "nats-server is not on PATH";

describe("syncProblem: which servers cannot fsync every write", () => {
  test("a server before 2.10 cannot, and the message says what to set", () => {
    const message = syncProblem("2.9.10", 1);
    assert.ok(message, "2.9.10 has no sync_interval setting");
    assert.match(message, /broker\.syncEveryWrite/);
    assert.match(message, /nats-server 2\.9\.10/);
    assert.match(message, /jetstream \{ sync_interval: always \}/);
    assert.match(message, /replicas: 3/);
  });

  test("2.10 and later can (only their own config says whether they do)", () => {
    assert.equal(syncProblem("2.10.0", 1), undefined);
    assert.equal(syncProblem("2.12.1", 1), undefined);
    assert.equal(syncProblem("3.0.0", 1), undefined);
  });

  test("an unreadable version is not reported", () => {
    assert.equal(syncProblem(undefined, 1), undefined);
    assert.equal(syncProblem("dev", 1), undefined);
    assert.deepEqual(parseServerVersion("v2.11.3-beta.1"), [2, 11, 3]);
  });
});

describe("replicationProblem: which servers lose replicated queues' messages", () => {
  test("a server before 2.10 does, and the message says what to run", () => {
    const message = replicationProblem("2.9.10");
    assert.ok(message);
    assert.match(message, /broker\.replicas > 1 on nats-server 2\.9\.10/);
    assert.match(message, /nats-server 2\.10 or later/);
    assert.equal(replicationProblem("2.10.27"), undefined);
    assert.equal(replicationProblem("3.0.0"), undefined);
    assert.equal(replicationProblem("dev"), undefined);
  });
});

describe("a NATS transport asked to fsync every write", { skip: natsMissing }, () => {
  const version = natsServerVersion();
  const canSyncAlways = syncProblem(version, 1) === undefined;
  let server: NatsServer;
  const opened: Transport[] = [];

  before(async () => {
    // A server that can is started with the strict setting, as a user would run it.
    server = await startNatsServer(
      canSyncAlways ? { config: "jetstream { sync_interval: always }\n" } : {},
    );
  });
  after(async () => {
    for (const t of opened) await t.close().catch(() => undefined);
    await server?.stop();
  });

  async function connect(syncEveryWrite: boolean, reported: Error[]): Promise<Transport> {
    const t = await createNatsTransport({
      servers: server.url,
      syncEveryWrite,
      onError: (error) => reported.push(error),
    });
    opened.push(t);
    return t;
  }

  async function roundTrip(t: Transport, queue: string): Promise<void> {
    await t.ensureQueue({
      name: `${queue}-dlq`,
      subjects: `${queue}.dlq.>`,
      ackWaitMs: 30_000,
      maxDeliver: 1,
      deadLetterSubject: `${queue}.dlq.dlq`,
    });
    await t.ensureQueue({
      name: `${queue}-work`,
      subjects: `${queue}.task.>`,
      ackWaitMs: 30_000,
      maxDeliver: 3,
      deadLetterSubject: `${queue}.dlq.work`,
    });
    const got: string[] = [];
    t.consume(
      `${queue}-work`,
      async (d) => {
        got.push(new TextDecoder().decode(d.data));
        await d.ack();
      },
      { maxInFlight: 1 },
    );
    const result = await t.enqueue(`${queue}.task.a`, new TextEncoder().encode("hello"), {
      msgId: `${queue}-1`,
    });
    assert.equal(result.duplicate, false);
    await until(() => got.length === 1, 10_000, "the enqueued message delivered");
    assert.deepEqual(got, ["hello"]);
  }

  test(`reports a server that cannot (nats-server ${version}) and still works`, async () => {
    const reported: Error[] = [];
    const t = await connect(true, reported);
    await roundTrip(t, "syncstrict");
    if (canSyncAlways) {
      assert.deepEqual(reported, [], "a 2.10+ server started with sync_interval: always");
    } else {
      assert.equal(reported.length, 1, "one report, at connect");
      const [error] = reported;
      assert.ok(error instanceof SyncNotStrictError);
      assert.equal(error.code, "E_SYNC_NOT_STRICT");
      assert.match(error.message, /sync_interval: always/);
      assert.match(error.message, new RegExp(`nats-server ${version.replace(/\./g, "\\.")}`));
    }
  });

  test(`replicated queues: reported on a server before 2.10 (this one: ${version})`, async () => {
    const reported: Error[] = [];
    const t = await createNatsTransport({
      servers: server.url,
      replicas: 3,
      onError: (error) => reported.push(error),
    });
    opened.push(t);
    if (replicationProblem(version) === undefined) {
      assert.deepEqual(reported, []);
    } else {
      assert.equal(reported.length, 1, "one report, at connect");
      assert.ok(reported[0] instanceof ReplicationUnsafeError);
      assert.equal(reported[0].code, "E_REPLICATION_UNSAFE");
      assert.match(reported[0].message, /nats-server 2\.10 or later/);
    }
  });

  test("without syncEveryWrite nothing is reported", async () => {
    const reported: Error[] = [];
    const t = await connect(false, reported);
    await roundTrip(t, "syncdefault");
    assert.deepEqual(reported, []);
  });

  test("broker.syncEveryWrite in a swarm file reaches the transport", {
    skip: canSyncAlways,
  }, async () => {
    const config = parseSwarmConfig(
      `${MINIMAL}transport: ${server.url}\nbroker:\n  syncEveryWrite: true\n`,
      { baseDir: "/tmp", env: {} },
    );
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    try {
      const t = await openTransport(config);
      opened.push(t);
      await until(
        () => warnings.some((w) => w.includes("sync_interval: always")),
        5_000,
        "a process warning naming sync_interval: always",
      );
    } finally {
      process.off("warning", onWarning);
    }
  });
});
