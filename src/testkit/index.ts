/**
 * Helpers for testing swarms: an embedded swarm in a temporary folder with
 * fresh keys, torn down by one call.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateAgentKeyPair } from "../identity/keys.js";
import { createSwarm, type Swarm, type SwarmConfig } from "../runtime/swarm.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import { createMemoryTransport } from "../transport/memory/memory-transport.js";

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
