import { type AuditLogVerdict, verifyStoredAuditLog } from "../runtime/consensus/audit-log.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";

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
    verdict = await verifyStoredAuditLog(store, config);
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
