import { resolve } from "node:path";
import { defaultKeysDir, defaultStoreUrl } from "./defaults.js";
import type { SwarmConfig } from "./schema.js";

/** What the command line may change in a loaded swarm file. */
export interface SwarmOverrides {
  /** Replaces `transport`. */
  readonly transport?: string;
  /** Replaces `store`. */
  readonly store?: string;
  /** Replaces `dataDir`; relative to the working directory, as a command-line path. */
  readonly dataDir?: string;
}

/**
 * Applies command-line overrides to a loaded swarm file. A new data folder
 * takes with it everything the file left to default there: the store
 * (`sqlite:<dataDir>/<swarm>.db`) and the keys (`<dataDir>/keys`), so a run's
 * queue journal, store and keys stay together. A `store` or `keysDir` the
 * file sets to another place stays where it is written (one the file sets to
 * exactly the default place moves too: the two cannot be told apart).
 *
 * @example
 * ```ts
 * const config = applyOverrides(await loadSwarmConfig("swarm.yaml"), { dataDir: "/tmp/run-2" });
 * config.store; // "sqlite:/tmp/run-2/<swarm>.db", unless swarm.yaml names a store
 * ```
 */
export function applyOverrides(config: SwarmConfig, overrides: SwarmOverrides): SwarmConfig {
  const dataDir = overrides.dataDir === undefined ? undefined : resolve(overrides.dataDir);
  const movesStore =
    dataDir !== undefined && config.store === defaultStoreUrl(config.swarm, config.dataDir);
  const movesKeys = dataDir !== undefined && config.keysDir === defaultKeysDir(config.dataDir);
  return Object.freeze({
    ...config,
    ...(overrides.transport === undefined ? {} : { transport: overrides.transport }),
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(movesStore ? { store: defaultStoreUrl(config.swarm, dataDir) } : {}),
    ...(movesKeys ? { keysDir: defaultKeysDir(dataDir) } : {}),
    ...(overrides.store === undefined ? {} : { store: overrides.store }),
  });
}
