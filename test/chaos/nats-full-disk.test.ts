/**
 * A NATS server whose JetStream store fills its disk (a size-limited tmpfs:
 * root only; skipped otherwise, saying why). What nats-server 2.9 does
 * there, found by this test: it stops answering publishes, logs nothing,
 * keeps not answering once space is back, and ignores SIGTERM; restarted,
 * it has every message it had acknowledged. nats-server 2.10 answers the
 * publish with its store's write error ("no space left on device",
 * JetStream error 10077, the code it also uses for "maximum messages
 * exceeded") and stores again once space is back. So what conclave must
 * hold to, whichever server is on PATH:
 *
 * - an enqueue the server could not store is never reported as done: on
 *   2.9 it fails with a `TimeoutError` whose message names the full disk as
 *   a cause to check; on 2.10+ with a `StoreFullError` (never a
 *   `QueueFullError`: the queue has no limit here);
 * - nothing acknowledged is lost: with space back and the server
 *   restarted, the same transport (it reconnects by itself) enqueues again
 *   and its consumer receives every message whose enqueue resolved.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { StoreFullError, TimeoutError } from "../../src/errors/index.js";
import {
  type NatsServer,
  natsServerAvailable,
  natsServerVersion,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createNatsTransport } from "../../src/transport/nats/nats-transport.js";
import { olderThan, parseServerVersion } from "../../src/transport/nats/sync-check.js";
import type { Transport } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";
import { cannotMount, mount, unmount } from "./tmpfs.js";

/** nats-server 2.10+ answers a publish its full store cannot take; 2.9 does not answer. */
function answersWhenFull(version: string): boolean {
  return parseServerVersion(version) !== undefined && !olderThan(version, [2, 10, 0]);
}

const skip = natsServerAvailable() ? cannotMount() : "no nats-server binary on PATH";

test("NATS on a full disk: enqueues fail typed, nothing acknowledged is lost after a restart", {
  ...(skip === undefined ? {} : { skip }),
  timeout: 120_000,
}, async () => {
  const disk = mkdtempSync(join(tmpdir(), "conclave-nats-full-"));
  let server: NatsServer | undefined;
  let bus: Transport | undefined;
  after(async () => {
    await bus?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    unmount(disk);
    rmSync(disk, { recursive: true, force: true });
  });
  mount(disk, "64m");
  server = await startNatsServer({ storeDir: disk });
  bus = await createNatsTransport({ servers: server.url, apiTimeoutMs: 2_000 });
  const { work } = await declareTaskQueues(bus, "full");
  // JetStream sized its store from the free space at start; a filler file
  // then takes most of the disk, so the store runs out of disk below that size.
  writeFileSync(join(disk, "filler"), new Uint8Array(50 * 1024 * 1024));

  const payload = new Uint8Array(64 * 1024).fill(65);
  const acknowledged: string[] = [];
  let failure: unknown;
  for (let i = 0; i < 1_000 && failure === undefined; i++) {
    const msgId = `m-${i}`;
    try {
      await bus.enqueue(`full.task.${i}`, payload, { msgId });
      acknowledged.push(msgId);
    } catch (error) {
      failure = error;
    }
  }
  assert.ok(failure !== undefined, "the disk never filled");
  assert.ok(
    acknowledged.length > 50,
    `only ${acknowledged.length} enqueues before the disk filled`,
  );
  if (answersWhenFull(natsServerVersion())) {
    assert.ok(failure instanceof StoreFullError, `a full disk surfaces as ${String(failure)}`);
    assert.match(failure.message, /no space left on device/);
    assert.match(failure.message, /Free space there/);
  } else {
    assert.ok(failure instanceof TimeoutError, `a full disk surfaces as ${String(failure)}`);
    assert.match(failure.message, /free disk space/);
  }

  // Space back, server restarted on the same store (SIGKILL: it ignores SIGTERM in this state).
  rmSync(join(disk, "filler"));
  await server.restart({ signal: "SIGKILL" });
  await until(
    async () =>
      bus!.enqueue("full.task.after", payload, { msgId: "after" }).then(
        () => true,
        () => false,
      ),
    30_000,
    "an enqueue after the restart",
  );

  const received = new Set<string>();
  bus.consume(
    work.name,
    async (delivery) => {
      received.add(delivery.msgId);
      await delivery.ack();
    },
    { maxInFlight: 64 },
  );
  await until(
    () => acknowledged.every((id) => received.has(id)) && received.has("after"),
    30_000,
    "every acknowledged message delivered",
  ).catch(() => undefined);
  const lost = acknowledged.filter((id) => !received.has(id));
  assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged messages lost`);
  assert.ok(received.has("after"), "the enqueue after the restart is delivered");
});
