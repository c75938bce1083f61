/**
 * The test kit (`conclave/testkit`): an embedded swarm in a temporary folder
 * with fresh keys, torn down by one call; the conformance suites every
 * transport and store of conclave passes, for someone writing a third one
 * (run them under `node --test`); and launchers of private brokers on
 * loopback (nats-server, RabbitMQ nodes and clusters) for tests that need
 * their own.
 *
 * @example
 * ```ts
 * // my-store.test.ts, run with `node --test`
 * import { runStoreConformance } from "conclave/testkit";
 * runStoreConformance({ name: "my-store", create: async () => ({ store, reopen, destroy }) });
 * ```
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateAgentKeyPair } from "../identity/keys.js";
import { createSwarm, type Swarm, type SwarmConfig } from "../runtime/swarm.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import { createMemoryTransport } from "../transport/memory/memory-transport.js";

export {
  type NatsCluster,
  type NatsClusterNode,
  type NatsClusterOptions,
  type NatsServer,
  type NatsServerOptions,
  natsServerAvailable,
  natsServerVersion,
  startNatsCluster,
  startNatsServer,
} from "./brokers/nats-server.js";
export { type RabbitmqCluster, startRabbitmqCluster } from "./brokers/rabbitmq-cluster.js";
export {
  type RabbitmqNode,
  type RabbitmqNodeOptions,
  rabbitmqServerAvailable,
  startRabbitmqNode,
} from "./brokers/rabbitmq-server.js";
export { declareTaskQueues } from "./conformance/queues.js";
export * from "./conformance/store.js";
export {
  runTransportConformance,
  type ScenarioFlag,
  type TransportBackend,
  type TransportConformanceOptions,
} from "./conformance/transport.js";

/** What {@link createTestSwarm} returns. */
export interface TestSwarm {
  /** The swarm, not started: add agents, then `start()`. */
  readonly swarm: Swarm;
  /** The temporary folder holding the journal and the store. */
  readonly dir: string;
  /** Drains the swarm and deletes its folder. */
  cleanup(): Promise<void>;
}

/** Fresh, unsaved key pairs: for tests and benchmarks only. */
export function ephemeralKeys(): SwarmConfig["keys"] {
  return () => generateAgentKeyPair();
}

/**
 * An embedded swarm (memory transport journaled in SQLite, SQLite store) in a
 * new temporary folder.
 *
 * @example
 * ```ts
 * const { swarm, cleanup } = createTestSwarm({ roles: { dev: { tasks: ["code"] } } });
 * ```
 */
export function createTestSwarm(
  config: Partial<Omit<SwarmConfig, "transport" | "store">> & Pick<SwarmConfig, "roles">,
): TestSwarm {
  const dir = mkdtempSync(join(tmpdir(), "conclave-test-"));
  const swarm = createSwarm({
    name: "test",
    keys: ephemeralKeys(),
    ...config,
    transport: createMemoryTransport({ journalPath: join(dir, "journal.db") }),
    store: openSqliteStore({ path: join(dir, "store.db") }),
  });
  return {
    swarm,
    dir,
    async cleanup() {
      await swarm.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
