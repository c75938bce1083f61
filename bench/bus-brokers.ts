/**
 * Broker benchmarks: conclave's NATS JetStream and RabbitMQ transports (and
 * the whole runtime on them) against the raw clients, and against BullMQ on
 * Redis, each measured in the same run with the same payloads, message
 * counts and in-flight limits. A broker that cannot be reached gives a
 * result with value NaN and the reason in `notes`; nothing here throws.
 *
 * Brokers: `CONCLAVE_NATS_URL` (default nats://127.0.0.1:4222, JetStream on),
 * `CONCLAVE_AMQP_URL` (default amqp://guest:guest@127.0.0.1:5672),
 * `CONCLAVE_REDIS_URL` (default redis://127.0.0.1:6379). Every stream,
 * queue and exchange gets a random name and is deleted afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type { Queue } from "bullmq";
import { createSwarm } from "../src/runtime/swarm.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { ephemeralKeys } from "../src/testkit/index.js";
import { createAmqpTransport, deleteAmqpTopology } from "../src/transport/amqp/index.js";
import { createMemoryTransport } from "../src/transport/memory/memory-transport.js";
import { createNatsTransport, deleteNatsQueue } from "../src/transport/nats/index.js";
import type { Delivery, Transport } from "../src/transport/port.js";
import { stopVerifyThread } from "../src/wire/verify-thread.js";
import { type Bench, type BenchResult, percentile, timed } from "./harness.js";

type Result = Omit<BenchResult, "machine" | "ratio">;

export const NATS_URL = process.env.CONCLAVE_NATS_URL ?? "nats://127.0.0.1:4222";
const AMQP_URL = process.env.CONCLAVE_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const REDIS_URL = process.env.CONCLAVE_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Tasks per timed run, enqueues kept in flight by the producer, deliveries held by the consumer. */
const TASKS = 20_000;
const WINDOW = 1_000;
const IN_FLIGHT = 256;
/** Timed runs per side (best kept), after one untimed warm-up run per side. */
const RUNS = 3;
const WARMUP_TASKS = 2_000;
/**
 * Round trips measured per side, after a warm-up, in blocks alternating
 * between conclave and the raw client. RabbitMQ gets fewer: with amqplib's
 * default socket (Nagle's algorithm on, as conclave opens it) a confirmed
 * publish at one in flight takes about 45 ms.
 */
const LATENCY_SAMPLES = { memory: 2_000, nats: 1_000, amqp: 500 } as const;
const LATENCY_WARMUP = { memory: 200, nats: 200, amqp: 50 } as const;
const LATENCY_BLOCKS = 4;
/** A bench that has not finished by then (a broker that stopped answering) gives up with NaN. */
const BENCH_LIMIT_MS = 240_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---- shared helpers ----------------------------------------------------------

/** A task-shaped JSON body of about 200 bytes, different for each `i`. */
function taskBody(i: number): Record<string, unknown> {
  return {
    id: `01JD${String(i).padStart(22, "0")}`,
    type: "task.job",
    from: "bench-producer",
    ts: 1_700_000_000_000 + i,
    conv: "01JD0000000000000000000CONV",
    body: { i, file: `src/module-${i % 97}.ts`, action: "review", priority: i % 3 },
  };
}

function payloads(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => encoder.encode(JSON.stringify(taskBody(i))));
}

/** What every handler does with a task: decode the JSON (as an agent would) and look at it. */
function work(data: Uint8Array): void {
  const task = JSON.parse(decoder.decode(data)) as { body?: { i?: number } };
  if (typeof task.body?.i !== "number") throw new Error("bad task");
}

/** Runs `op(0..n-1)` with at most `window` calls pending at once (a sliding window). */
async function windowed(n: number, window: number, op: (i: number) => Promise<unknown>) {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await op(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
}

/** A promise resolved after `n` calls of `tick()`. */
function countdown(n: number): { tick(): void; done: Promise<void> } {
  let left = n;
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  if (n === 0) resolve();
  return {
    tick() {
      if (--left === 0) resolve();
    },
    done,
  };
}

export const rid = () => randomBytes(4).toString("hex");
export const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
export const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
export const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ")} (1/5/15 min)`;
export const fmt = (x: number) => x.toLocaleString("en-US");

/** Whether a TCP connection to host:port opens within `ms`; the reason when not. */
function probe(url: string, defaultPort: number, ms = 2_000): Promise<string | undefined> {
  const u = new URL(url);
  const host = u.hostname || "127.0.0.1";
  const port = Number(u.port || defaultPort);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const finish = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(ms, () => finish(`no answer from ${host}:${port} within ${ms} ms`));
    socket.once("connect", () => finish(undefined));
    socket.once("error", (e) => finish(`${host}:${port}: ${e.message}`));
  });
}

function reachable(broker: "nats" | "amqp" | "redis"): Promise<string | undefined> {
  if (broker === "nats") return probe(NATS_URL, 4222);
  if (broker === "amqp") return probe(AMQP_URL, 5672);
  return probe(REDIS_URL, 6379);
}

/** The result of a bench that could not run. */
function unavailable(
  shape: Omit<Result, "value" | "baselineValue" | "notes">,
  why: string,
): Result {
  return {
    ...shape,
    value: Number.NaN,
    baselineValue: shape.baseline === null ? null : Number.NaN,
    ...(shape.goal === undefined ? {} : { met: false }),
    notes: `not measured: ${why}`,
  };
}

/**
 * Runs `body` when every broker in `needs` answers; otherwise (or when the
 * bench fails) returns a NaN result saying why.
 */
export async function guarded(
  shape: Omit<Result, "value" | "baselineValue" | "notes">,
  needs: readonly ("nats" | "amqp" | "redis")[],
  body: () => Promise<Result>,
): Promise<Result> {
  for (const broker of needs) {
    const why = await reachable(broker);
    if (why) return unavailable(shape, `${broker} unreachable (${why})`);
  }
  try {
    return await withinLimit(body());
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return unavailable(shape, `failed: ${message}`);
  }
}

/** `work`, or a rejection once BENCH_LIMIT_MS has passed. */
async function withinLimit<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no result within ${BENCH_LIMIT_MS / 1000} s`)),
      BENCH_LIMIT_MS,
    );
    timer.unref();
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Timed runs of several sides, interleaved (a, b, a, b, ...) so machine load hits both alike. */
export async function interleaved(
  runs: number,
  sides: readonly (() => Promise<number>)[],
): Promise<number[]> {
  const top = sides.map(() => 0);
  for (let r = 0; r < runs; r++) {
    for (const [i, side] of sides.entries()) top[i] = Math.max(top[i] as number, await side());
  }
  return top;
}

// ---- conclave transport side (NATS and AMQP alike) ---------------------------

interface ConclaveQueue {
  readonly bus: Transport;
  readonly queue: string;
  readonly subject: string;
}

async function declareQueues(bus: Transport, prefix: string): Promise<ConclaveQueue> {
  await bus.ensureQueue({
    name: `${prefix}-dlq`,
    subjects: `${prefix}.dlq.>`,
    ackWaitMs: 30_000,
    maxDeliver: 1000,
    deadLetterSubject: `${prefix}.dlq.dlq`,
  });
  await bus.ensureQueue({
    name: `${prefix}-work`,
    subjects: `${prefix}.task.>`,
    ackWaitMs: 30_000,
    maxDeliver: 5,
    deadLetterSubject: `${prefix}.dlq.work`,
  });
  return { bus, queue: `${prefix}-work`, subject: `${prefix}.task.worker.job` };
}

/**
 * One run through a conclave transport: a consumer (IN_FLIGHT held at most)
 * decodes and acks while the producer enqueues `n` tasks (WINDOW in flight,
 * each with a msgId). Returns tasks/s from the first enqueue to the last ack.
 */
async function conclaveRun(
  q: ConclaveQueue,
  data: (i: number) => Uint8Array,
  n: number,
  run: string,
): Promise<number> {
  const all = countdown(n);
  const consumer = q.bus.consume(
    q.queue,
    async (d: Delivery) => {
      work(d.data);
      await d.ack();
      all.tick();
    },
    { maxInFlight: IN_FLIGHT },
  );
  try {
    const ms = await timed(async () => {
      await windowed(n, WINDOW, (i) => q.bus.enqueue(q.subject, data(i), { msgId: `${run}-${i}` }));
      await all.done;
    });
    return rate(n, ms);
  } finally {
    await consumer.drain();
  }
}

// ---- raw JetStream side -----------------------------------------------------------

interface RawNats {
  readonly nc: NatsConnection;
  readonly js: import("@nats-io/jetstream").JetStreamClient;
  readonly jsm: import("@nats-io/jetstream").JetStreamManager;
  readonly stream: string;
  readonly subject: string;
  close(): Promise<void>;
}

/**
 * A work-queue stream (file storage, 2 min dedup window) with a durable pull
 * consumer, as conclave declares; the consumer's `max_ack_pending` holds it
 * to IN_FLIGHT unacked messages, the bound conclave's consumer keeps itself.
 */
async function rawNats(prefix: string): Promise<RawNats> {
  const { connect, nanos } = await import("@nats-io/transport-node");
  const jsmod = await import("@nats-io/jetstream");
  const nc = await connect({ servers: NATS_URL, name: "bench-raw", timeout: 5_000 });
  const jsm = await jsmod.jetstreamManager(nc);
  const js = jsmod.jetstream(nc);
  const stream = `${prefix}-raw`;
  await jsm.streams.add({
    name: stream,
    subjects: [`${prefix}.raw.>`],
    retention: jsmod.RetentionPolicy.Workqueue,
    storage: jsmod.StorageType.File,
    duplicate_window: nanos(120_000),
  });
  await jsm.consumers.add(stream, {
    durable_name: "raw",
    ack_policy: jsmod.AckPolicy.Explicit,
    deliver_policy: jsmod.DeliverPolicy.All,
    ack_wait: nanos(30_000),
    // The same bound as conclave's maxInFlight: at most IN_FLIGHT unacked.
    max_ack_pending: IN_FLIGHT,
  });
  return {
    nc,
    js,
    jsm,
    stream,
    subject: `${prefix}.raw.worker.job`,
    async close() {
      await jsm.streams.delete(stream).catch(() => false);
      await nc.close();
    },
  };
}

/**
 * One run with the bare driver: `js.publish` with `msgID` (WINDOW in flight),
 * a pull consumer via `consume({ max_messages: IN_FLIGHT })`, the same decode,
 * then `ackAck()` (acked once the server confirms, as conclave's `ack()`), or
 * with `confirm: false` a fire-and-forget `ack()` and one flush at the end.
 */
async function rawNatsRun(
  raw: RawNats,
  data: (i: number) => Uint8Array,
  n: number,
  run: string,
  confirm = true,
): Promise<number> {
  const consumer = await raw.js.consumers.get(raw.stream, "raw");
  const messages = await consumer.consume({ max_messages: IN_FLIGHT });
  const all = countdown(n);
  const handle = (m: JsMsg) => {
    work(m.data);
    if (confirm) {
      void m.ackAck().then(all.tick);
    } else {
      m.ack();
      all.tick();
    }
  };
  const loop = (async () => {
    for await (const m of messages) handle(m);
  })();
  try {
    const ms = await timed(async () => {
      await windowed(n, WINDOW, (i) =>
        raw.js.publish(raw.subject, data(i), { msgID: `${run}-${i}` }),
      );
      await all.done;
      if (!confirm) await raw.nc.flush();
    });
    return rate(n, ms);
  } finally {
    await messages.close();
    await loop;
  }
}

// ---- raw amqplib side -------------------------------------------------------------

interface RawAmqp {
  readonly model: ChannelModel;
  readonly pub: ConfirmChannel;
  readonly sub: Channel;
  readonly exchange: string;
  readonly queue: string;
  readonly subject: string;
  close(): Promise<void>;
}

/**
 * A durable topic exchange and a quorum queue bound to it, as conclave
 * declares. amqplib's defaults, as conclave uses them (Nagle's algorithm on),
 * unless `noDelay`.
 */
async function rawAmqp(prefix: string, noDelay = false): Promise<RawAmqp> {
  const amqp = await import("amqplib");
  const model = await amqp.connect(AMQP_URL, noDelay ? { noDelay: true } : {});
  model.on("error", () => undefined);
  const pub = await model.createConfirmChannel();
  const sub = await model.createChannel();
  const exchange = `${prefix}-raw${noDelay ? "-nd" : ""}`;
  const queue = `${prefix}-raw${noDelay ? "-nd" : ""}-work`;
  await pub.assertExchange(exchange, "topic", { durable: true });
  await pub.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
  await pub.bindQueue(queue, exchange, `${prefix}.raw.*.#`);
  return {
    model,
    pub,
    sub,
    exchange,
    queue,
    subject: `${prefix}.raw.worker.job`,
    async close() {
      await pub.deleteQueue(queue).catch(() => undefined);
      await pub.deleteExchange(exchange).catch(() => undefined);
      await model.close().catch(() => undefined);
    },
  };
}

function rawAmqpPublish(raw: RawAmqp, content: Buffer, messageId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    raw.pub.publish(
      raw.exchange,
      raw.subject,
      content,
      { persistent: true, mandatory: true, messageId },
      (error) => (error ? reject(error) : resolve()),
    );
  });
}

/**
 * One run with bare amqplib: confirmed, persistent, mandatory publishes to
 * the topic exchange (WINDOW awaiting their confirm), a consumer on its own
 * channel with prefetch IN_FLIGHT, the same decode, then `ack`.
 */
async function rawAmqpRun(
  raw: RawAmqp,
  data: (i: number) => Uint8Array,
  n: number,
  run: string,
): Promise<number> {
  const all = countdown(n);
  await raw.sub.prefetch(IN_FLIGHT);
  const { consumerTag } = await raw.sub.consume(
    raw.queue,
    (m: ConsumeMessage | null) => {
      if (!m) return;
      work(m.content);
      raw.sub.ack(m);
      all.tick();
    },
    { noAck: false },
  );
  try {
    const ms = await timed(async () => {
      await windowed(n, WINDOW, (i) => rawAmqpPublish(raw, toBuffer(data(i)), `${run}-${i}`));
      await all.done;
    });
    return rate(n, ms);
  } finally {
    await raw.sub.cancel(consumerTag);
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// ---- 1. bus.nats.tasks ------------------------------------------------------------

const natsTasks: Bench = () => {
  const shape = {
    name: "bus.nats.tasks",
    unit: "tasks/s",
    baseline: "raw @nats-io/jetstream: publish with msgID + pull consume + ackAck",
    goal: "≥ 0.8 × raw JetStream",
  } as const;
  return guarded(shape, ["nats"], async () => {
    const prefix = `bench-${rid()}`;
    const bus = await createNatsTransport({ servers: NATS_URL, connectTimeoutMs: 5_000 });
    const raw = await rawNats(prefix);
    try {
      const q = await declareQueues(bus, prefix);
      const data = payloads(TASKS);
      const at = (i: number) => data[i] as Uint8Array;
      await conclaveRun(q, at, WARMUP_TASKS, `w-${rid()}`);
      await rawNatsRun(raw, at, WARMUP_TASKS, `w-${rid()}`);
      const [value, baselineValue, plainAck] = (await interleaved(RUNS, [
        () => conclaveRun(q, at, TASKS, rid()),
        () => rawNatsRun(raw, at, TASKS, rid()),
        () => rawNatsRun(raw, at, TASKS, rid(), false),
      ])) as [number, number, number];
      return {
        ...shape,
        value,
        baselineValue,
        met: value >= 0.8 * baselineValue,
        notes:
          `${fmt(TASKS)} tasks of ~${data[0]?.byteLength} bytes per run, best of ${RUNS} interleaved runs after a warm-up; ` +
          `producer keeps ${WINDOW} enqueues in flight, one consumer holds at most ${IN_FLIGHT}; handler = JSON decode, then ack. ` +
          `conclave: Transport.enqueue (JetStream publish with Nats-Msg-Id, awaits the PubAck) → NatsConsumer (sized fetch() pulls) → Delivery.ack() (the same +ACK with a reply subject as ackAck, awaiting the server's confirmation; both round trips through one reply-inbox subscription instead of the driver's request()). ` +
          `raw: the same stream config (work queue, file storage, 2 min dedup window), js.publish with msgID, consumer.consume({max_messages: ${IN_FLIGHT}}), ackAck. ` +
          `raw with fire-and-forget ack() instead: ${fmt(plainAck)} tasks/s (conclave/that = ${round2(value / plainAck)}). ${load()}`,
      };
    } finally {
      await deleteNatsQueue(bus, `${prefix}-work`).catch(() => false);
      await deleteNatsQueue(bus, `${prefix}-dlq`).catch(() => false);
      await bus.close();
      await raw.close();
    }
  });
};

// ---- 2. bus.amqp.tasks ------------------------------------------------------------

const amqpTasks: Bench = () => {
  const shape = {
    name: "bus.amqp.tasks",
    unit: "tasks/s",
    baseline:
      "raw amqplib: confirm-channel persistent publish to a quorum queue + prefetch consume + ack",
    goal: "≥ 0.8 × raw amqplib",
  } as const;
  return guarded(shape, ["amqp"], async () => {
    const prefix = `bench-${rid()}`;
    const exchange = `${prefix}-conclave`;
    const bus = await createAmqpTransport({ url: AMQP_URL, exchange, connectTimeoutMs: 5_000 });
    const raw = await rawAmqp(prefix);
    try {
      const q = await declareQueues(bus, prefix);
      const data = payloads(TASKS);
      const at = (i: number) => data[i] as Uint8Array;
      await conclaveRun(q, at, WARMUP_TASKS, `w-${rid()}`);
      await rawAmqpRun(raw, at, WARMUP_TASKS, `w-${rid()}`);
      const [value, baselineValue] = (await interleaved(RUNS, [
        () => conclaveRun(q, at, TASKS, rid()),
        () => rawAmqpRun(raw, at, TASKS, rid()),
      ])) as [number, number];
      return {
        ...shape,
        value,
        baselineValue,
        met: value >= 0.8 * baselineValue,
        notes:
          `${fmt(TASKS)} tasks of ~${data[0]?.byteLength} bytes per run, best of ${RUNS} interleaved runs after a warm-up; ` +
          `producer keeps ${WINDOW} enqueues in flight, one consumer with prefetch ${IN_FLIGHT}; handler = JSON decode, then ack. ` +
          `conclave: Transport.enqueue (in-process msgId dedup claim, confirmed persistent mandatory publish on a topic exchange) → AmqpConsumer (own channel, prefetch, lease timers) → Delivery.ack() (basic.ack). ` +
          `raw: one connection, a confirm channel publishing persistent mandatory messages with messageId to a topic exchange bound to a quorum queue, a second channel consuming with prefetch ${IN_FLIGHT}, basic.ack. ${load()}`,
      };
    } finally {
      await bus.close().catch(() => undefined);
      await raw.close();
      await deleteAmqpTopology({
        url: AMQP_URL,
        exchange,
        queues: [`${prefix}-work`, `${prefix}-dlq`],
      }).catch(() => undefined);
    }
  });
};

// ---- runtime.nats.tasks / runtime.amqp.tasks ---------------------------------

/**
 * The whole runtime path on a broker: `n` tasks planned in one `once()` (each
 * an Ed25519-signed envelope committed to the SQLite outbox, then enqueued),
 * consumed by 4 worker agents (decode, schema check, signature check,
 * handler, completion marker + effect committed to the store, ack).
 */
async function runtimeOn(kind: "nats" | "amqp", n: number): Promise<number> {
  const name = `bench-${rid()}`;
  const exchange = `${name}-x`;
  const transport =
    kind === "nats"
      ? await createNatsTransport({ servers: NATS_URL, connectTimeoutMs: 5_000 })
      : await createAmqpTransport({ url: AMQP_URL, exchange, connectTimeoutMs: 5_000 });
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-"));
  const queues = [`${name}-task-lead`, `${name}-task-worker`, `${name}-dlq`];
  const swarm = createSwarm({
    name,
    transport,
    store: openSqliteStore({ path: join(dir, "store.db") }),
    keys: ephemeralKeys(),
    roles: { lead: {}, worker: { tasks: ["job"] } },
  });
  try {
    const all = countdown(n);
    swarm.agent({ id: "lead", role: "lead" }).onStart(async (ctx) => {
      await ctx.once("plan", (plan) => {
        for (let i = 0; i < n; i++) plan.submit("worker", "job", { i, file: `src/m${i % 97}.ts` });
      });
    });
    for (let w = 0; w < 4; w++) {
      swarm.agent({ id: `w${w}`, role: "worker", concurrency: 64 }).handle("job", (ctx) => {
        ctx.effect("done", ctx.task.id);
        all.tick();
      });
    }
    const ms = await timed(async () => {
      await swarm.start();
      await all.done;
    });
    await swarm.drain();
    return rate(n, ms);
  } finally {
    await swarm.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    if (kind === "nats") {
      const admin = await createNatsTransport({ servers: NATS_URL, connectTimeoutMs: 5_000 });
      for (const q of queues) await deleteNatsQueue(admin, q).catch(() => false);
      await admin.close();
    } else {
      await deleteAmqpTopology({ url: AMQP_URL, exchange, queues }).catch(() => undefined);
    }
  }
}

const RUNTIME_TASKS = 5_000;

/**
 * Runs `fn` with signature checks on the worker thread (`on`, the default on
 * a machine with more than one CPU) or in the event loop's thread (`off`).
 */
async function withVerifyThread<T>(setting: "on" | "off", fn: () => Promise<T>): Promise<T> {
  const saved = process.env.CONCLAVE_VERIFY_THREAD;
  process.env.CONCLAVE_VERIFY_THREAD = setting;
  await stopVerifyThread(); // the next check reads the setting again
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.CONCLAVE_VERIFY_THREAD;
    else process.env.CONCLAVE_VERIFY_THREAD = saved;
    await stopVerifyThread();
  }
}

function runtimeBench(kind: "nats" | "amqp"): Bench {
  const shape = {
    name: `runtime.${kind}.tasks`,
    unit: "tasks/s",
    baseline: null,
  } as const;
  return () =>
    guarded(shape, [kind], async () => {
      await runtimeOn(kind, 500); // warm-up: JIT, broker connections, SQLite
      const [value, inline] = (await interleaved(RUNS, [
        () => withVerifyThread("on", () => runtimeOn(kind, RUNTIME_TASKS)),
        () => withVerifyThread("off", () => runtimeOn(kind, RUNTIME_TASKS)),
      ])) as [number, number];
      return {
        ...shape,
        value,
        baselineValue: null,
        notes:
          `${fmt(RUNTIME_TASKS)} signed tasks per run (best of ${RUNS}, fresh swarm, queues and SQLite store each run) planned in one once(), ` +
          `handled by 4 agents (concurrency 64 each) over ${kind === "nats" ? "JetStream" : "RabbitMQ quorum queues"}: ` +
          `Ed25519 sign + outbox commit, enqueue, decode + schema, verify, handler, store commit, ack; timed from swarm.start() (includes declaring the queues). ` +
          `Signatures checked on the worker thread (the default with more than one CPU); with CONCLAVE_VERIFY_THREAD=off, interleaved: ${fmt(inline)} tasks/s (${round2(value / inline)} ×). ${load()}`,
      };
    });
}

// ---- 3. bus.nats.vs-bullmq --------------------------------------------------------

/** How the Redis server persists data (AOF, RDB snapshots), for the notes. */
async function describeRedisPersistence(queue: Queue): Promise<string> {
  try {
    // BullMQ's default client is ioredis, which has CONFIG.
    const client = (await queue.client) as unknown as {
      config(op: "GET", key: string): Promise<unknown>;
    };
    const aof = (await client.config("GET", "appendonly")) as string[];
    const save = (await client.config("GET", "save")) as string[];
    const appendonly = aof[1] === "yes" ? "appends every write to its AOF" : "has no AOF";
    const snapshots = save[1] ? `RDB snapshots "${save[1]}"` : "no RDB snapshots";
    return `${appendonly} and ${snapshots}`;
  } catch {
    return "persistence could not be read (CONFIG GET refused)";
  }
}

const BULL_CHUNK = 1_000;

const vsBullmq: Bench = () => {
  const shape = {
    name: "bus.nats.vs-bullmq",
    unit: "tasks/s",
    baseline: "BullMQ 5 on Redis: Queue.addBulk + Worker",
    goal: "≥ 1.5 × BullMQ",
  } as const;
  return guarded(shape, ["nats", "redis"], async () => {
    const { Queue, Worker } = await import("bullmq");
    const redis = new URL(REDIS_URL);
    const connection = {
      host: redis.hostname || "127.0.0.1",
      port: Number(redis.port || 6379),
      ...(redis.password ? { password: decodeURIComponent(redis.password) } : {}),
      maxRetriesPerRequest: null,
    };
    const prefix = `bench-${rid()}`;
    const bus = await createNatsTransport({ servers: NATS_URL, connectTimeoutMs: 5_000 });
    const memBus = await createNatsTransport({
      servers: NATS_URL,
      connectTimeoutMs: 5_000,
      storage: "memory",
    });
    const bullName = `${prefix}-bull`;
    const queue = new Queue(bullName, { connection });
    let completed = countdown(0);
    const worker = new Worker(
      bullName,
      async (job) => {
        const task = job.data as { body?: { i?: number } };
        if (typeof task.body?.i !== "number") throw new Error("bad task");
      },
      { connection, concurrency: IN_FLIGHT, autorun: true },
    );
    worker.on("completed", () => completed.tick());
    worker.on("error", () => undefined);
    await worker.waitUntilReady();

    const bullRun = async (n: number, run: string): Promise<number> => {
      completed = countdown(n);
      const ms = await timed(async () => {
        const chunks: number[] = [];
        for (let i = 0; i < n; i += BULL_CHUNK) chunks.push(i);
        // WINDOW tasks in flight, as the conclave producer: one addBulk of BULL_CHUNK at a time.
        await windowed(chunks.length, Math.max(1, WINDOW / BULL_CHUNK), (c) => {
          const from = chunks[c] as number;
          const jobs = [];
          for (let i = from; i < Math.min(n, from + BULL_CHUNK); i++) {
            jobs.push({
              name: "job",
              data: taskBody(i),
              opts: { jobId: `${run}-${i}`, removeOnComplete: true, removeOnFail: 1000 },
            });
          }
          return queue.addBulk(jobs);
        });
        await completed.done;
      });
      return rate(n, ms);
    };

    const redisPersistence = await describeRedisPersistence(queue);
    try {
      const q = await declareQueues(bus, prefix);
      const qm = await declareQueues(memBus, `${prefix}-mem`);
      // The conclave side serialises each task, as BullMQ does (JSON.stringify in add).
      const encode = (i: number) => encoder.encode(JSON.stringify(taskBody(i)));
      await conclaveRun(q, encode, WARMUP_TASKS, `w-${rid()}`);
      await conclaveRun(qm, encode, WARMUP_TASKS, `w-${rid()}`);
      await bullRun(WARMUP_TASKS, `w-${rid()}`);
      const [value, baselineValue, inMemory] = (await interleaved(RUNS, [
        () => conclaveRun(q, encode, TASKS, rid()),
        () => bullRun(TASKS, rid()),
        () => conclaveRun(qm, encode, TASKS, rid()),
      ])) as [number, number, number];
      return {
        ...shape,
        value,
        baselineValue,
        met: value >= 1.5 * baselineValue,
        notes:
          `${fmt(TASKS)} tasks per run, best of ${RUNS} interleaved runs after a warm-up; each side serialises every task to JSON on enqueue and decodes it for the handler (a no-op check). ` +
          `conclave: JetStream transport (file storage), Transport.enqueue with msgId, ${WINDOW} in flight, one consumer with maxInFlight ${IN_FLIGHT}, ack confirmed by the server. ` +
          `BullMQ: Queue.addBulk in chunks of ${BULL_CHUNK} (one chunk in flight = ${WINDOW} tasks), jobId = the same dedup id, removeOnComplete; one Worker with concurrency ${IN_FLIGHT}; completion counted from the worker's "completed" events. ` +
          `Durability differs: JetStream file storage writes every task to disk (no fsync per message by default), while this Redis ${redisPersistence}; ` +
          `conclave on a memory-storage stream (like for like with that): ${fmt(inMemory)} tasks/s (${round2(inMemory / baselineValue)} × BullMQ). ${load()}`,
      };
    } finally {
      await worker.close().catch(() => undefined);
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close().catch(() => undefined);
      await deleteNatsQueue(bus, `${prefix}-work`).catch(() => false);
      await deleteNatsQueue(bus, `${prefix}-dlq`).catch(() => false);
      await deleteNatsQueue(memBus, `${prefix}-mem-work`).catch(() => false);
      await deleteNatsQueue(memBus, `${prefix}-mem-dlq`).catch(() => false);
      await bus.close();
      await memBus.close();
    }
  });
};

// ---- 4. latency -------------------------------------------------------------------

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly base?: { readonly p50: number; readonly p99: number };
  readonly notes: string;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

function summary(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: round3(percentile(sorted, 50)), p99: round3(percentile(sorted, 99)) };
}

/**
 * Sequential round trips (one task in flight) through a conclave transport:
 * time from calling `enqueue` to the handler starting; the handler acks and
 * the next task is enqueued once the ack and the enqueue have both resolved.
 */
async function conclaveLatency(q: ConclaveQueue, count: number, run: string): Promise<number[]> {
  const samples: number[] = [];
  let started: (t: number) => void = () => {};
  let acked: () => void = () => {};
  const consumer = q.bus.consume(
    q.queue,
    async (d) => {
      started(now());
      await d.ack();
      acked();
    },
    { maxInFlight: 1 },
  );
  try {
    const data = encoder.encode(JSON.stringify(taskBody(0)));
    for (let i = 0; i < count; i++) {
      const start = new Promise<number>((r) => {
        started = r;
      });
      const ack = new Promise<void>((r) => {
        acked = r;
      });
      const t0 = now();
      const enq = q.bus.enqueue(q.subject, data, { msgId: `${run}-${i}` });
      const t1 = await start;
      await Promise.all([enq, ack]);
      samples.push(t1 - t0);
    }
  } finally {
    await consumer.drain();
  }
  return samples;
}

async function rawNatsLatency(raw: RawNats, count: number, run: string): Promise<number[]> {
  const consumer = await raw.js.consumers.get(raw.stream, "raw");
  const messages = await consumer.consume({ max_messages: 1 });
  let started: (m: JsMsg) => void = () => {};
  const loop = (async () => {
    for await (const m of messages) started(m);
  })();
  const samples: number[] = [];
  const data = encoder.encode(JSON.stringify(taskBody(0)));
  try {
    for (let i = 0; i < count; i++) {
      let t1 = 0;
      const start = new Promise<JsMsg>((r) => {
        started = (m) => {
          t1 = now();
          r(m);
        };
      });
      const t0 = now();
      const enq = raw.js.publish(raw.subject, data, { msgID: `${run}-${i}` });
      const m = await start;
      await Promise.all([enq, m.ackAck()]);
      samples.push(t1 - t0);
    }
  } finally {
    await messages.close();
    await loop;
  }
  return samples;
}

async function rawAmqpLatency(raw: RawAmqp, count: number, run: string): Promise<number[]> {
  let started: (t: number) => void = () => {};
  await raw.sub.prefetch(1);
  const { consumerTag } = await raw.sub.consume(
    raw.queue,
    (m) => {
      if (!m) return;
      started(now());
      raw.sub.ack(m);
    },
    { noAck: false },
  );
  const samples: number[] = [];
  const data = Buffer.from(JSON.stringify(taskBody(0)));
  try {
    for (let i = 0; i < count; i++) {
      const start = new Promise<number>((r) => {
        started = r;
      });
      const t0 = now();
      const enq = rawAmqpPublish(raw, data, `${run}-${i}`);
      const t1 = await start;
      await enq;
      samples.push(t1 - t0);
    }
  } finally {
    await raw.sub.cancel(consumerTag);
  }
  return samples;
}

/** Warm-up, then LATENCY_BLOCKS alternating blocks of conclave and raw round trips. */
async function alternate(
  kind: "nats" | "amqp",
  mineFn: (count: number, run: string) => Promise<number[]>,
  rawFn: (count: number, run: string) => Promise<number[]>,
): Promise<{ mine: { p50: number; p99: number }; base: { p50: number; p99: number } }> {
  await mineFn(LATENCY_WARMUP[kind], `w-${rid()}`);
  await rawFn(LATENCY_WARMUP[kind], `w-${rid()}`);
  const mine: number[] = [];
  const base: number[] = [];
  const block = Math.ceil(LATENCY_SAMPLES[kind] / LATENCY_BLOCKS);
  for (let b = 0; b < LATENCY_BLOCKS; b++) {
    mine.push(...(await mineFn(block, rid())));
    base.push(...(await rawFn(block, rid())));
  }
  return { mine: summary(mine), base: summary(base) };
}

const ROUND_TRIP =
  "task round trip at one in flight: enqueue called → handler starts (then ack, and the next task once the ack and the enqueue resolved)";

async function memoryLatency(): Promise<Latency> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-"));
  try {
    const bus = createMemoryTransport({ journalPath: join(dir, "journal.db") });
    try {
      const q = await declareQueues(bus, "bench");
      await conclaveLatency(q, LATENCY_WARMUP.memory, "w");
      const s = summary(await conclaveLatency(q, LATENCY_SAMPLES.memory, "m"));
      return {
        ...s,
        notes: `${ROUND_TRIP}; in-process transport with the SQLite journal (WAL, synchronous NORMAL), consumer maxInFlight 1, ${fmt(LATENCY_SAMPLES.memory)} samples after ${LATENCY_WARMUP.memory} warm-up. No baseline: there is no raw equivalent. ${load()}`,
      };
    } finally {
      await bus.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function natsLatency(): Promise<Latency> {
  const prefix = `bench-${rid()}`;
  const bus = await createNatsTransport({ servers: NATS_URL, connectTimeoutMs: 5_000 });
  const raw = await rawNats(prefix);
  try {
    const q = await declareQueues(bus, prefix);
    const { mine, base } = await alternate(
      "nats",
      (count, run) => conclaveLatency(q, count, run),
      (count, run) => rawNatsLatency(raw, count, run),
    );
    return {
      ...mine,
      base,
      notes: `${ROUND_TRIP}; ${fmt(LATENCY_SAMPLES.nats)} samples per side after ${LATENCY_WARMUP.nats} warm-up, in ${LATENCY_BLOCKS} alternating blocks. conclave: JetStream transport (enqueue awaits the PubAck; consumer maxInFlight 1, as an agent of concurrency 1: one fetch() of 1 at a time; ack confirmed by the server, as ackAck). raw: js.publish with msgID → consume({max_messages: 1}) → ackAck on the same stream config. ${load()}`,
    };
  } finally {
    await deleteNatsQueue(bus, `${prefix}-work`).catch(() => false);
    await deleteNatsQueue(bus, `${prefix}-dlq`).catch(() => false);
    await bus.close();
    await raw.close();
  }
}

async function amqpLatency(): Promise<Latency> {
  const prefix = `bench-${rid()}`;
  const exchange = `${prefix}-conclave`;
  const bus = await createAmqpTransport({ url: AMQP_URL, exchange, connectTimeoutMs: 5_000 });
  const raw = await rawAmqp(prefix);
  const fast = await rawAmqp(prefix, true);
  try {
    const q = await declareQueues(bus, prefix);
    const { mine, base } = await alternate(
      "amqp",
      (count, run) => conclaveLatency(q, count, run),
      (count, run) => rawAmqpLatency(raw, count, run),
    );
    await rawAmqpLatency(fast, LATENCY_WARMUP.amqp, `w-${rid()}`);
    const noDelay = summary(await rawAmqpLatency(fast, LATENCY_SAMPLES.amqp, rid()));
    return {
      ...mine,
      base,
      notes:
        `${ROUND_TRIP}; ${fmt(LATENCY_SAMPLES.amqp)} samples per side after ${LATENCY_WARMUP.amqp} warm-up, in ${LATENCY_BLOCKS} alternating blocks. ` +
        `conclave: AMQP transport (confirmed persistent publish to a quorum queue; consumer prefetch 1). raw: amqplib confirm-channel persistent publish → consume with prefetch 1 → ack, same queue type and exchange routing. ` +
        `Both use amqplib's default socket (noDelay false: Nagle's algorithm), which holds the tail of each publish until the broker's delayed ACK, about 40 ms; ` +
        `raw amqplib with { noDelay: true }: p50 ${noDelay.p50} ms, p99 ${noDelay.p99} ms. ${load()}`,
    };
  } finally {
    await bus.close().catch(() => undefined);
    await raw.close();
    await fast.close();
    await deleteAmqpTopology({
      url: AMQP_URL,
      exchange,
      queues: [`${prefix}-work`, `${prefix}-dlq`],
    }).catch(() => undefined);
  }
}

/** Each transport is measured once; its p50 and p99 benches share the measurement. */
const latencyRuns = new Map<string, Promise<Latency | { readonly why: string }>>();

function latencyBench(
  kind: "memory" | "nats" | "amqp",
  which: "p50" | "p99",
  measure: () => Promise<Latency>,
): Bench {
  const baseline =
    kind === "nats"
      ? "raw @nats-io/jetstream publish → pull consume"
      : kind === "amqp"
        ? "raw amqplib confirm publish → consume"
        : null;
  const shape = { name: `latency.${kind}.${which}`, unit: "ms", baseline } as const;
  return async () => {
    let shared = latencyRuns.get(kind);
    if (!shared) {
      shared = (async () => {
        const why = kind === "memory" ? undefined : await reachable(kind);
        if (why) return { why: `${kind} unreachable (${why})` };
        try {
          return await withinLimit(measure());
        } catch (error) {
          return { why: `failed: ${error instanceof Error ? error.message : String(error)}` };
        }
      })();
      latencyRuns.set(kind, shared);
    }
    const l = await shared;
    if ("why" in l) return unavailable(shape, l.why);
    return {
      ...shape,
      value: l[which],
      baselineValue: l.base ? l.base[which] : null,
      notes: l.notes,
    };
  };
}

export const brokerBenches: Record<string, Bench> = {
  "bus.nats.tasks": natsTasks,
  "runtime.nats.tasks": runtimeBench("nats"),
  "bus.amqp.tasks": amqpTasks,
  "runtime.amqp.tasks": runtimeBench("amqp"),
  "bus.nats.vs-bullmq": vsBullmq,
  "latency.memory.p50": latencyBench("memory", "p50", memoryLatency),
  "latency.memory.p99": latencyBench("memory", "p99", memoryLatency),
  "latency.nats.p50": latencyBench("nats", "p50", natsLatency),
  "latency.nats.p99": latencyBench("nats", "p99", natsLatency),
  "latency.amqp.p50": latencyBench("amqp", "p50", amqpLatency),
  "latency.amqp.p99": latencyBench("amqp", "p99", amqpLatency),
};
