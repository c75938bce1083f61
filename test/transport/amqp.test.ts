import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { createAmqpTransport, deleteAmqpTopology } from "../../src/transport/amqp/index.js";
import type { QueueConfig, Transport } from "../../src/transport/port.js";
import { runTransportConformance } from "../conformance/transport.js";

const url = process.env.CONCLAVE_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const unreachable = await probe(url);

if (unreachable === undefined) {
  runTransportConformance({
    name: "amqp (RabbitMQ quorum queues)",
    async create() {
      // A fresh exchange per run; queue names are randomised by the suite.
      const exchange = `conclave-test-${randomBytes(5).toString("hex")}`;
      const queues = new Set<string>();
      const connections: Transport[] = [];
      return {
        async connect() {
          const transport = recordQueues(await createAmqpTransport({ url, exchange }), queues);
          connections.push(transport);
          return transport;
        },
        async restart() {
          // Closes every connection; the durable state lives in the broker,
          // which keeps running. This is a client restart, not a broker restart.
          for (const t of connections.splice(0)) await t.close();
        },
        async destroy() {
          for (const t of connections.splice(0)) await t.close();
          await deleteAmqpTopology({ url, exchange, queues });
        },
      };
    },
  });
} else if (process.env.CI === "true") {
  test("amqp (RabbitMQ quorum queues): transport conformance", () => {
    throw new Error(`RabbitMQ is required in CI but unreachable at ${unreachable}`);
  });
} else {
  console.log(`# skipping the amqp conformance suite: RabbitMQ unreachable (${unreachable})`);
  test("amqp (RabbitMQ quorum queues): transport conformance", (t) => {
    t.skip(`RabbitMQ unreachable (${unreachable}); start it or set CONCLAVE_AMQP_URL`);
  });
}

/** Undefined when RabbitMQ answers, else why not (without credentials). */
async function probe(target: string): Promise<string | undefined> {
  const { connect } = await import("amqplib");
  try {
    const connection = await connect(target, { timeout: 2000 });
    await connection.close();
    return undefined;
  } catch (error) {
    const host = new URL(target).host;
    return `${host}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Remembers the queues declared through `transport`, so destroy() can delete them. */
function recordQueues(transport: Transport, names: Set<string>): Transport {
  return new Proxy(transport, {
    get(target, property) {
      if (property === "ensureQueue") {
        return (config: QueueConfig) => {
          names.add(config.name);
          return target.ensureQueue(config);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
