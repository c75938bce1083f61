import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { loadSwarmConfig } from "../config/load.js";
import { applyOverrides } from "../config/overrides.js";
import { redactUrl } from "../config/redact.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConfigError } from "../errors/index.js";
import { openStore, parseStoreUrl } from "../store/open-store.js";
import type { Store } from "../store/port.js";
import { DEMO_DATA_DIR, demoConfig } from "./demo.js";

/**
 * Which store a ledger or audit command works on, as the command line names
 * it. With neither `store` nor `swarm`, {@link resolveStoreTarget} picks the
 * default: `./swarm.yaml`'s store, else the demo's.
 */
export interface StoreTarget {
  /** A store URL (`sqlite:<path>` or `postgres://…`); wins over the swarm file's. */
  readonly store?: string;
  /** A swarm file: its store, and its rules (the audit checks the privileged actions). */
  readonly swarm?: string;
  /** The data folder the swarm ran with (`up --data-dir`): its default store moves there. */
  readonly dataDir?: string;
}

/** The store a command will open, and where that choice came from. */
export interface ResolvedStoreTarget {
  readonly url: string;
  /** The swarm file the store belongs to, when one was named or found. */
  readonly config?: SwarmFile;
  /** Where this store came from, when the command line did not name it: e.g. `./swarm.yaml`. */
  readonly chosenBy?: string;
}

/** The default swarm file of the ledger and audit commands, in the working directory. */
export const LOCAL_SWARM_FILE = "swarm.yaml";

/**
 * The top-level keys of a swarm file that the store commands read besides
 * typed fields (agents, humans) that could not hold an unset `${VAR}` as
 * written anyway. A variable unset elsewhere (a remote role's token, an MCP
 * server's, the gateway's, the broker's password in `transport`) is needed
 * only to run the swarm, so reading its store does not ask for it.
 */
const READ_BY_STORE_COMMANDS = ["swarm", "store", "dataDir", "keysDir", "privileged", "admission"];

/**
 * Picks the store a ledger or audit command opens: `--store` if given;
 * else the store of `--swarm`; else, with neither, the store of
 * `./swarm.yaml` when the working directory has one, or else the demo's
 * (`.conclave/demo/review-swarm.db`) when `conclave demo` ran here. A
 * `--data-dir` moves a swarm file's default store as `up --data-dir` does.
 * The swarm file needs only the variables of the fields these commands read
 * (see {@link READ_BY_STORE_COMMANDS}).
 *
 * @throws ConfigError when nothing names a store and neither default exists.
 */
export async function resolveStoreTarget(
  target: StoreTarget,
  cwd: string = process.cwd(),
): Promise<ResolvedStoreTarget> {
  const overrides = target.dataDir === undefined ? {} : { dataDir: target.dataDir };
  const load = async (file: string) =>
    applyOverrides(
      await loadSwarmConfig(file, { variablesNeededOnlyUnder: READ_BY_STORE_COMMANDS }),
      overrides,
    );
  const config = target.swarm === undefined ? undefined : await load(target.swarm);
  if (target.store !== undefined) return { url: target.store, ...(config ? { config } : {}) };
  if (config) return { url: config.store, config, chosenBy: target.swarm };
  const local = join(cwd, LOCAL_SWARM_FILE);
  if (existsSync(local)) {
    const found = await load(local);
    return { url: found.store, config: found, chosenBy: `./${LOCAL_SWARM_FILE}` };
  }
  const demo = await demoConfig({ dataDir: resolve(cwd, target.dataDir ?? DEMO_DATA_DIR) });
  const demoStore = parseStoreUrl(demo.store);
  const demoPath = demoStore.kind === "sqlite" ? demoStore.path : "";
  if (existsSync(demoPath))
    return { url: demo.store, config: demo, chosenBy: "the last conclave demo here" };
  throw new ConfigError(
    `name the store: --store sqlite:<path> | postgres://…, or --swarm <swarm.yaml>; there is no ./${LOCAL_SWARM_FILE} here and no demo store at ${relative(cwd, demoPath)} (conclave demo makes one)`,
  );
}

/** Options of {@link openStoreTarget}. */
export interface OpenStoreTargetOptions {
  /** Create a missing store (commands that write); reading commands pass false. */
  readonly create: boolean;
  /** Says on stderr which store was chosen when the command line did not name it. */
  readonly announce?: (line: string) => void;
}

/**
 * Resolves a target (see {@link resolveStoreTarget}) and opens its store;
 * when the store was chosen by default, says which one on stderr (never on
 * stdout, which `--json` keeps for JSON).
 */
export async function openStoreTarget(
  target: StoreTarget,
  options: OpenStoreTargetOptions,
): Promise<{ store: Store; resolved: ResolvedStoreTarget }> {
  const resolved = await resolveStoreTarget(target);
  const announce = options.announce ?? ((line) => process.stderr.write(`${line}\n`));
  if (resolved.chosenBy !== undefined) {
    const verb = options.create ? "using" : "reading";
    announce(`${verb} store ${redactUrl(resolved.url)} (from ${resolved.chosenBy})`);
  }
  const store = await openStore(resolved.url, { create: options.create });
  return { store, resolved };
}
