/**
 * Nodes (swarm instances) of one swarm on one in-process broker, sharing one
 * store as every node of a swarm shares Postgres: how the runtime tests put
 * several nodes side by side without a real broker.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { createSwarm, type Swarm, type SwarmConfig } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

/** What every node gets: the swarm's options without its transport, store and node id. */
export type SharedNodeOptions = Omit<SwarmConfig, "transport" | "store" | "nodeId" | "keys">;

export function sharedBrokerNodes(options: SharedNodeOptions) {
  const dir = mkdtempSync(join(tmpdir(), `conclave-${options.name}-`));
  const broker = new MemoryBroker({ journalPath: join(dir, "journal.db") });
  const made: Swarm[] = [];
  /** A node named `name`; its agents' keys come from `keys` (fresh ones by default); `overrides` change its options. */
  const node = (
    name: string,
    keys: SwarmConfig["keys"] = () => generateAgentKeyPair(),
    overrides: Partial<SharedNodeOptions> = {},
  ) => {
    const swarm = createSwarm({
      ...options,
      ...overrides,
      transport: createMemoryTransport({ broker }),
      store: openSqliteStore({ path: join(dir, "store.db") }),
      keys,
      nodeId: name,
    });
    made.push(swarm);
    return swarm;
  };
  return {
    node,
    /** A bare connection to the bus, as any other client has. */
    raw: () => createMemoryTransport({ broker }),
    async cleanup() {
      for (const s of made) await s.close();
      broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
