/**
 * Two nodes declaring the same queue at once, against a real nats-server.
 * Each looks the stream up, finds none, and adds it. The node that loses the
 * race may be told "stream name already in use" or, as nats-server 2.9.10
 * answered one process of the `pg-cut` chaos scenario (seed 508), "subjects
 * overlap with an existing stream": the other node's stream, of the same
 * name, holds those subjects now. Neither is a conflict: the loser looks
 * again and finds the queue it wanted. A real overlap (another queue's
 * subjects) stays a ConfigError.
 *
 * The race is forced by a stream manager whose first `add` lets the other
 * node declare first and then answers as the server did.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { ConfigError } from "../../src/errors/index.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import type { JetStreamManager } from "../../src/transport/nats/driver.js";
import { loadDriver } from "../../src/transport/nats/driver.js";
import { createNatsTransport } from "../../src/transport/nats/nats-transport.js";
import { NatsTopology } from "../../src/transport/nats/topology.js";
import type { QueueConfig, Transport } from "../../src/transport/port.js";

const skip = natsServerAvailable() ? undefined : "no nats-server binary on PATH";

describe("declaring one queue from two nodes at once (NATS)", { ...(skip ? { skip } : {}) }, () => {
  let server: NatsServer;
  let other: Transport;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    server = await startNatsServer();
    other = await createNatsTransport({ servers: server.url });
  });
  after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await other?.close();
    await server?.stop();
  });

  /** A topology whose first stream `add` loses the race: `first` runs, then the server's answer `errCode`. */
  async function losingTopology(first: () => Promise<void>, errCode: number, description: string) {
    const driver = await loadDriver();
    const nc = await driver.core.connect({ servers: server.url });
    closers.push(() => nc.close());
    const jsm = await driver.jetstream.jetstreamManager(nc);
    let raced = false;
    const streams = new Proxy(jsm.streams, {
      get(target, key, receiver) {
        if (key !== "add") return Reflect.get(target, key, receiver);
        return async (...args: Parameters<JetStreamManager["streams"]["add"]>) => {
          if (raced) return target.add(...args);
          raced = true;
          await first();
          throw new driver.jetstream.JetStreamApiError({
            code: 400,
            err_code: errCode,
            description,
          });
        };
      },
    });
    const wrapped = new Proxy(jsm, {
      get: (target, key, receiver) =>
        key === "streams" ? streams : Reflect.get(target, key, receiver),
    });
    return new NatsTopology({
      driver,
      nc,
      js: driver.jetstream.jetstream(nc),
      jsm: wrapped,
      clock: systemClock,
      dedupWindowMs: 120_000,
      storage: "file",
      replicas: 1,
      ensureQueueRetryMs: 5_000,
      report: () => undefined,
      isClosed: () => false,
    });
  }

  const queue = (name: string, subjects: string): QueueConfig => ({
    name,
    subjects,
    ackWaitMs: 30_000,
    maxDeliver: 3,
    deadLetterSubject: `${name}.dead`,
  });

  for (const [errCode, description] of [
    [10065, "subjects overlap with an existing stream"],
    [10058, "stream name already in use with a different configuration"],
  ] as const) {
    test(`the loser told "${description}" finds the queue the winner made`, async () => {
      const name = `race${errCode}`;
      const dead = queue(`${name}-dlq`, `${name}.dlq.>`);
      await other.ensureQueue({ ...dead, deadLetterSubject: `${name}.dlq.dead` });
      const work = {
        ...queue(`${name}-work`, `${name}.task.>`),
        deadLetterSubject: `${name}.dlq.work`,
      };
      const topology = await losingTopology(() => other.ensureQueue(work), errCode, description);
      await topology.ensureQueue(work);
      await other.enqueue(`${name}.task.a`, new Uint8Array([1]), { msgId: `${name}-1` });
    });
  }

  test("a real overlap, another queue's subjects, is still a ConfigError", async () => {
    await other.ensureQueue({
      ...queue("owner-dlq", "owner.dlq.>"),
      deadLetterSubject: "owner.dlq.dead",
    });
    await other.ensureQueue({
      ...queue("owner", "owner.task.>"),
      deadLetterSubject: "owner.dlq.x",
    });
    const topology = await losingTopology(
      async () => undefined,
      10065,
      "subjects overlap with an existing stream",
    );
    await assert.rejects(
      topology.ensureQueue({
        ...queue("intruder", "owner.task.>"),
        deadLetterSubject: "owner.dlq.y",
      }),
      (error: unknown) => error instanceof ConfigError && /overlap/.test(error.message),
    );
  });
});
