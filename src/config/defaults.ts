import { join } from "node:path";

/**
 * The store a swarm file gets when it names none: a SQLite file named after
 * the swarm, in its data folder. The schema applies it, and `applyOverrides`
 * recognises it, so a store left to default moves with the data folder.
 */
export function defaultStoreUrl(swarm: string, dataDir: string): string {
  return `sqlite:${join(dataDir, `${swarm}.db`)}`;
}

/** The key folder a swarm file gets when it names none. */
export function defaultKeysDir(dataDir: string): string {
  return join(dataDir, "keys");
}
