import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { parseSignedHead, type SignedHead } from "../consensus/audit-anchor.js";
import type { AuditLogVerdict } from "../consensus/audit-verify.js";
import { ConfigError } from "../errors/index.js";
import { agentKeyPath, loadAgentKey } from "../identity/key-file.js";
import { encodePublicKey } from "../identity/keys.js";
import { SIGNED_HEAD_META_KEY } from "../runtime/consensus/audit-heads.js";
import { verifyStoredAuditLog } from "../runtime/consensus/audit-log.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";
import { timeText } from "./time-text.js";

/** Options of {@link verifyAudit}. */
export interface VerifyAuditOptions {
  readonly json: boolean;
  /** Files of signed heads (`conclave audit head --json`) the log must agree with. */
  readonly heads?: readonly string[];
  /** Refuse decisions whose seal is not signed (logged before seals were signed). */
  readonly requireSigned?: boolean;
}

/**
 * `conclave audit verify`: recomputes every entry of the audit log offline
 * (each decision's votes against the voters' public keys, cross-checked with
 * the registry snapshot; each tally against its protocol's rule; each seal,
 * its signature and each link) and checks it against the signed heads the
 * store witnessed and those given with `--head`. Returns the exit code: 0
 * when all hold, 1 naming the first bad entry.
 *
 * @throws ConfigError (exit 2) when a head file cannot be read.
 */
export async function verifyAudit(target: StoreTarget, opts: VerifyAuditOptions): Promise<number> {
  const heads: SignedHead[] = [];
  for (const file of opts.heads ?? []) heads.push(...(await readHeadFile(file)));
  const { store, resolved } = await openStoreTarget(target, { create: false });
  const config = resolved.config;
  let verdict: AuditLogVerdict;
  try {
    verdict = await verifyStoredAuditLog(store, config, {
      heads,
      keys: await folderKeys(config),
      ...(opts.requireSigned ? { requireSigned: true } : {}),
    });
  } finally {
    await store.close();
  }
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify(verdict.ok ? verdict : { ...verdict, firstBad: verdict.seq })}\n`,
    );
  } else if (verdict.ok) {
    const o = verdict.outcomes;
    const unsigned =
      verdict.unsigned > 0
        ? `; ${verdict.unsigned} decisions logged before seals were signed rest on the store alone`
        : "";
    process.stdout.write(
      `audit log verified: ${verdict.entries} entries, ${verdict.decisions} decisions (${o.approved} approved, ${o.rejected} rejected, ${o.vetoed} vetoed, ${o["no-quorum"]} no-quorum), ${verdict.evidence} pieces of Byzantine evidence kept; ${verdict.signed} seals signed, ${verdict.headsChecked} signed heads agree${unsigned}\n`,
    );
  } else {
    const what = verdict.proposal
      ? ` (decision on proposal ${verdict.proposal.id}, ${verdict.proposal.action})`
      : "";
    // A head that disagrees is checked after every entry: only those before the broken one count.
    const before = Math.min(verdict.entries, verdict.seq - 1);
    process.stdout.write(
      `audit log BROKEN at entry ${verdict.seq}${what}: ${verdict.reason}\n  ${before} entries before it verified\n`,
    );
  }
  return verdict.ok ? 0 : 1;
}

/**
 * `conclave audit head`: prints the latest signed head a node of this store
 * published, as text or (`--json`) as the head itself, the file `audit
 * verify --head` reads. Exit 1 when the store holds none.
 */
export async function showAuditHead(target: StoreTarget, json: boolean): Promise<number> {
  const { store } = await openStoreTarget(target, { create: false });
  let text: string | undefined;
  try {
    text = await store.getMeta(SIGNED_HEAD_META_KEY);
  } finally {
    await store.close();
  }
  const head = text === undefined ? undefined : parseHeadJson(text);
  if (head === undefined || typeof head === "string") {
    process.stderr.write(
      `conclave: the store holds no ${head === undefined ? "" : "readable "}signed head${head === undefined ? " (no decision was sealed since seals were signed)" : `: ${head}`}\n`,
    );
    return 1;
  }
  process.stdout.write(
    json
      ? `${JSON.stringify(head)}\n`
      : `swarm ${head.swarm}: entry ${head.seq}, hash ${head.headHash}\n  signed by ${head.signer} at ${timeText(head.ts)}: ${head.sig}\n`,
  );
  return 0;
}

function parseHeadJson(text: string): SignedHead | string {
  try {
    return parseSignedHead(JSON.parse(text));
  } catch {
    return "not JSON";
  }
}

/** The heads in a file: one head, or an array of heads (JSON). */
async function readHeadFile(file: string): Promise<SignedHead[]> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new ConfigError(
      `cannot read the head file ${file} (${error instanceof Error ? error.message : String(error)}): write it with conclave audit head --json > ${file}`,
    );
  }
  // An empty list would check the log against nothing, and pass.
  if (Array.isArray(value) && value.length === 0) {
    throw new ConfigError(
      `head file ${file} holds no head: write one with conclave audit head --json > ${file}`,
    );
  }
  const heads: SignedHead[] = [];
  for (const item of Array.isArray(value) ? value : [value]) {
    const head = parseSignedHead(item);
    if (typeof head === "string") throw new ConfigError(`head file ${file}: ${head}`);
    heads.push(head);
  }
  return heads;
}

/** The public keys of the swarm file's agents found in its key folder (trusted from outside the store). */
async function folderKeys(config: SwarmFile | undefined): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  if (config === undefined) return keys;
  for (const agent of config.agents) {
    if (!existsSync(agentKeyPath(config.keysDir, agent.id))) continue;
    try {
      keys.set(agent.id, encodePublicKey((await loadAgentKey(config.keysDir, agent.id)).publicKey));
    } catch {
      // An unreadable key file vouches for nothing; the registry and the log's own keys remain.
    }
  }
  return keys;
}
