import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  rabbitmqServerAvailable,
  startRabbitmqNode,
} from "../../src/testkit/brokers/rabbitmq-server.js";
import { runTransportConformance } from "../../src/testkit/conformance/transport.js";
import { createAmqpTransport, deleteAmqpTopology } from "../../src/transport/amqp/index.js";
import type { QueueConfig, Transport } from "../../src/transport/port.js";

const sharedUrl = process.env.CONCLAVE_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
// With rabbitmq-server installed, each run gets a private node, so restart()
// can stop the broker itself and start it again on the same data directory
// and port; else the shared broker, where only the clients could restart.
const privateNode = rabbitmqServerAvailable();
const unreachable = privateNode ? undefined : await probe(sharedUrl);

if (unreachable === undefined) {
  runTransportConformance({
    name: "amqp (RabbitMQ quorum queues)",
    async create() {
      // A generous start timeout: the restart below waits for it too, on a loaded machine.
      const node = privateNode ? await startRabbitmqNode({ startTimeoutMs: 120_000 }) : undefined;
      const url = node?.amqpUrl ?? sharedUrl;
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
        ...(node && {
          async restart() {
            // A real broker restart: the clients go first (the AMQP transport
            // does not reconnect; its process would be restarted), then the
            // node stops (`rabbitmqctl stop`) and starts again on the same
            // data directory and port. Quorum queues and their unacked
            // messages must come back; acked ones must not.
            for (const t of connections.splice(0)) await t.close();
            await node.restart();
          },
        }),
        async destroy() {
          for (const t of connections.splice(0)) await t.close();
          if (node) await node.stop();
          else await deleteAmqpTopology({ url, exchange, queues });
        },
      };
    },
    ...(privateNode
      ? {}
      : {
          skip: { restart: "rabbitmq-server is not installed, so the broker cannot be restarted" },
        }),
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
