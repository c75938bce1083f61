import { existsSync } from "node:fs";
import { loadSwarmConfig } from "../config/load.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConfigError } from "../errors/index.js";
import {
  type AuditLogVerdict,
  HEAD_META_KEY,
  readAuditLog,
  verifyAuditLog,
} from "../runtime/consensus/audit-log.js";
import { openStore } from "../runtime/from-config.js";
import type { Store } from "../store/port.js";

/** Which audit log to verify: a store URL, or the store of a swarm file (whose privileged rules are then checked too). */
export interface AuditTarget {
  readonly store?: string;
  readonly swarm?: string;
}

async function open(target: AuditTarget): Promise<{ store: Store; config?: SwarmFile }> {
  let config: SwarmFile | undefined;
  let url = target.store;
  if (target.swarm) {
    config = await loadSwarmConfig(target.swarm);
    url ??= config.store;
  }
  if (!url) {
    throw new ConfigError(
      "name the audit log: --store sqlite:<path> | postgres://…, or --swarm <swarm.yaml>",
    );
  }
  if (url.startsWith("sqlite:") && url !== "sqlite::memory:") {
    const file = url.slice("sqlite:".length);
    if (!existsSync(file)) throw new ConfigError(`no store at ${file}; check --store or --swarm`);
  }
  const store = await openStore({ store: url } as SwarmFile);
  return config ? { store, config } : { store };
}

/** The registry snapshot's public keys, by agent id. */
async function registryKeys(store: Store): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const { id, card } of await store.agentCards()) {
    const publicKey = (card as { publicKey?: unknown } | null)?.publicKey;
    if (typeof publicKey === "string") keys.set(id, publicKey);
  }
  return keys;
}

/**
 * `conclave audit verify`: recomputes every entry of the audit log offline
 * (each decision's votes against the voters' public keys, cross-checked with
 * the registry snapshot; each tally against its protocol's rule; each seal;
 * each link) and prints the count. Returns the exit code: 0 when all hold,
 * 1 naming the first bad entry.
 */
export async function verifyAudit(target: AuditTarget, json: boolean): Promise<number> {
  const { store, config } = await open(target);
  let verdict: AuditLogVerdict;
  try {
    const head = await store.getMeta(HEAD_META_KEY);
    verdict = verifyAuditLog(await readAuditLog(store), {
      registry: await registryKeys(store),
      ...(head === undefined ? {} : { head }),
      ...(config ? { privileged: config.privileged, roles: Object.keys(config.roles) } : {}),
    });
  } finally {
    await store.close();
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify(verdict.ok ? verdict : { ...verdict, firstBad: verdict.seq })}\n`,
    );
  } else if (verdict.ok) {
    const o = verdict.outcomes;
    process.stdout.write(
      `audit log verified: ${verdict.entries} entries, ${verdict.decisions} decisions (${o.approved} approved, ${o.rejected} rejected, ${o.vetoed} vetoed, ${o["no-quorum"]} no-quorum), ${verdict.evidence} pieces of Byzantine evidence kept\n`,
    );
  } else {
    const what = verdict.proposal
      ? ` (decision on proposal ${verdict.proposal.id}, ${verdict.proposal.action})`
      : "";
    process.stdout.write(
      `audit log BROKEN at entry ${verdict.seq}${what}: ${verdict.reason}\n  ${verdict.entries} entries before it verified\n`,
    );
  }
  return verdict.ok ? 0 : 1;
}
