import { test } from "node:test";
import { natsServerAvailable, startNatsServer } from "../../src/testkit/brokers/nats-server.js";
import { runTransportConformance } from "../../src/testkit/conformance/transport.js";
import { createNatsTransport } from "../../src/transport/nats/index.js";
import type { Transport } from "../../src/transport/port.js";

if (natsServerAvailable()) {
  runTransportConformance({
    name: "nats (JetStream)",
    async create() {
      // A private server per run, so restart() can stop it and start it
      // again on the same port with the same store directory.
      const server = await startNatsServer({ jetstream: true });
      const connections: Transport[] = [];
      return {
        async connect() {
          const t = await createNatsTransport({
            servers: server.url,
            reconnectTimeWaitMs: 100,
            onError: () => undefined,
          });
          connections.push(t);
          return t;
        },
        async restart() {
          // A graceful broker restart (SIGTERM: the server writes its state
          // out first); the open connections reconnect by themselves. A kill -9
          // is tested apart (test/transport/nats-broker.test.ts): nats-server
          // 2.9 persists acks a few seconds behind, so after a crash acked
          // messages may come back (at-least-once holds, nothing is lost).
          await server.restart({ signal: "SIGTERM" });
        },
        async destroy() {
          for (const t of connections) await t.close();
          await server.stop();
        },
      };
    },
    // The server expires leases on its own clock, which keeps running when
    // this process is starved of CPU (a loaded CI machine); double every wait.
    timeScale: 2,
  });
} else if (process.env.CI === "true") {
  test("nats (JetStream): transport conformance", () => {
    throw new Error(
      "nats-server is not on PATH; CI must install it (v2.9+) to test the NATS adapter",
    );
  });
} else {
  test("nats (JetStream): transport conformance", (t) => {
    t.skip("nats-server is not on PATH; install it (v2.9+) to run the NATS adapter's tests");
  });
}
