import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import {
  type AuditLogVerdict,
  type DeclaredVoter,
  HEAD_META_KEY,
  readAuditLog,
  verifyAuditLog,
} from "../runtime/consensus/audit-log.js";
import type { Store } from "../store/port.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";

/** The registry snapshot's public keys, by agent id. */
async function registryKeys(store: Store): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const { id, card } of await store.agentCards()) {
    const publicKey = (card as { publicKey?: unknown } | null)?.publicKey;
    if (typeof publicKey === "string") keys.set(id, publicKey);
  }
  return keys;
}

/** The swarm file's agents as voters: the role, weight and pinned key each may vote with. */
function declaredVoters(config: SwarmFile): Map<string, DeclaredVoter> {
  return new Map(
    config.agents.map((a) => [
      a.id,
      { role: a.role, weight: a.weight, ...(a.publicKey ? { publicKey: a.publicKey } : {}) },
    ]),
  );
}

/**
 * `conclave audit verify`: recomputes every entry of the audit log offline
 * (each decision's votes against the voters' public keys, cross-checked with
 * the registry snapshot; each tally against its protocol's rule; each seal;
 * each link) and prints the count. Returns the exit code: 0 when all hold,
 * 1 naming the first bad entry.
 */
export async function verifyAudit(target: StoreTarget, json: boolean): Promise<number> {
  const { store, resolved } = await openStoreTarget(target, { create: false });
  const config = resolved.config;
  let verdict: AuditLogVerdict;
  try {
    const head = await store.getMeta(HEAD_META_KEY);
    verdict = verifyAuditLog(await readAuditLog(store), {
      registry: await registryKeys(store),
      ...(head === undefined ? {} : { head }),
      ...(config ? { privileged: config.privileged, roles: Object.keys(config.roles) } : {}),
      ...(config?.admission === "declared" ? { declared: declaredVoters(config) } : {}),
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
