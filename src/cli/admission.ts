import { open } from "node:fs/promises";
import { loadSwarmConfig } from "../config/load.js";
import { systemClock } from "../core/clock.js";
import { ConfigError } from "../errors/index.js";
import { type AgentKeyPair, decodePublicKey, encodePublicKey } from "../identity/index.js";
import { loadKeyFile } from "../identity/key-file.js";
import { issueCredential } from "../registry/admission.js";
import { OPERATOR_ID, signRevocation } from "../registry/revocation.js";
import { openTransport } from "../runtime/from-config.js";
import { REVOKED_AUDIT_KIND } from "../runtime/revocations.js";
import { subjects } from "../runtime/subjects.js";
import { openStore } from "../store/open-store.js";
import { encodeEnvelope } from "../wire/codec.js";
import { agentIdPattern } from "../wire/envelope.js";
import { writingTo } from "./output-path.js";

/**
 * Reads the operator's key file (`conclave keys gen operator` writes
 * `<dir>/operator.key`) under whatever name it has: the swarm file's
 * `operator.publicKey`, not the file's name, says whether it is the operator's.
 */
export async function loadOperatorKey(file: string): Promise<AgentKeyPair> {
  return (await loadKeyFile(file)).pair;
}

/** Parses a duration such as `30d`, `12h`, `45m`, `90s` or plain milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new ConfigError(`"${text}" is not a duration; write e.g. 30d, 12h, 45m or 90s`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (match[2] ?? "ms") as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(match[1]) * unit;
}

export interface AdmitOptions {
  readonly swarm: string;
  readonly role: string;
  /** The agent's public key, base64url (`conclave keys gen` prints it). */
  readonly key: string;
  readonly operatorKey: string;
  readonly ttl: string;
  readonly weight?: number;
  readonly owner?: string;
  /** Write the credential here (mode 0600) instead of stdout. */
  readonly out?: string;
}

/**
 * `conclave admit`: a membership credential for `agent`, signed with the
 * operator's key. Nodes of a swarm with `admission: credential` and that
 * operator key admit a card carrying it (`agents[].credential` on the
 * agent's own node), until it expires.
 */
export async function admitAgent(agent: string, options: AdmitOptions): Promise<number> {
  // Checked before anything is issued: nodes refuse a credential that breaks these.
  if (!agentIdPattern.test(agent)) {
    throw new ConfigError(
      `"${agent.slice(0, 140)}" is not an agent id: use 1-128 characters of A-Z a-z 0-9 _ -`,
    );
  }
  if (options.owner !== undefined && (options.owner.length === 0 || options.owner.length > 256)) {
    throw new ConfigError(`--owner must be 1 to 256 characters, got ${options.owner.length}`);
  }
  const ttl = parseDuration(options.ttl);
  if (ttl <= 0) {
    throw new ConfigError(
      `--ttl ${options.ttl} would sign a credential already expired; write a time above zero, e.g. 30d, 12h or 45m`,
    );
  }
  const now = Date.now();
  const notAfter = now + ttl;
  // Past 8.64e15 ms a Date (and the credential's expiry shown) is invalid.
  if (!Number.isSafeInteger(notAfter) || notAfter > 8.64e15) {
    throw new ConfigError(
      `--ttl ${options.ttl} ends too far in the future for a credential; write a shorter one, e.g. 365d`,
    );
  }
  const config = await loadSwarmConfig(options.swarm);
  if (!(options.role in config.roles)) {
    throw new ConfigError(
      `role "${options.role}" is not defined in ${options.swarm}; roles: ${Object.keys(config.roles).join(", ")}`,
    );
  }
  try {
    decodePublicKey(options.key);
  } catch (cause) {
    throw new ConfigError(
      `--key must be the agent's base64url public key (conclave keys gen prints it), got "${options.key.slice(0, 60)}"`,
      [],
      { cause },
    );
  }
  // Nodes check a credential against the file's operator key: without one, none is accepted.
  if (!config.operator) {
    throw new ConfigError(
      `${options.swarm} names no operator key; add operator: { publicKey: … } (conclave keys gen operator prints it) so nodes accept the operator's credentials`,
    );
  }
  const operator = await loadOperatorKey(options.operatorKey);
  if (config.operator.publicKey !== encodePublicKey(operator.publicKey)) {
    throw new ConfigError(
      `${options.operatorKey} is not the operator key of ${options.swarm} (operator.publicKey); nodes would refuse the credential`,
    );
  }
  const credential = issueCredential(
    {
      swarm: config.swarm,
      agent,
      role: options.role,
      publicKey: options.key,
      ...(options.weight === undefined ? {} : { weight: options.weight }),
      ...(options.owner === undefined ? {} : { owner: options.owner }),
      issuedAt: now,
      notAfter,
    },
    operator.privateKey,
  );
  const text = `${JSON.stringify(credential, null, 2)}\n`;
  if (options.out) {
    const out = options.out;
    await writingTo({ what: "the credential", path: out, option: "--out" }, () =>
      writePrivately(out, text),
    );
    process.stderr.write(
      `credential for ${agent} (${options.role}) written to ${options.out}, valid until ${new Date(credential.notAfter).toISOString()}\n`,
    );
  } else {
    process.stdout.write(text);
  }
  return 0;
}

/**
 * Writes `text` to `path` with mode 0600. A mode given when opening applies
 * only to a file created then: one that exists (a renewal written over the
 * last credential) is narrowed before anything is written to it.
 */
async function writePrivately(path: string, text: string): Promise<void> {
  const handle = await open(path, "w", 0o600);
  try {
    if (process.platform !== "win32") await handle.chmod(0o600);
    await handle.writeFile(text, "utf8");
  } finally {
    await handle.close();
  }
}

export interface RevokeOptions {
  readonly swarm: string;
  readonly operatorKey: string;
  readonly reason?: string;
  readonly json: boolean;
}

/**
 * `conclave revoke`: a revocation signed with the operator's key, recorded
 * in the swarm's audit log (nodes that start later learn it there) and
 * broadcast to every running node, which refuses the agent from then on and
 * stops it if it hosts it.
 */
export async function revokeAgent(agent: string, options: RevokeOptions): Promise<number> {
  const config = await loadSwarmConfig(options.swarm);
  if (!config.operator) {
    throw new ConfigError(
      `${options.swarm} names no operator key; add operator: { publicKey: … } (conclave keys gen operator prints it) so nodes accept the operator's revocations`,
    );
  }
  const operator = await loadOperatorKey(options.operatorKey);
  if (config.operator.publicKey !== encodePublicKey(operator.publicKey)) {
    throw new ConfigError(
      `${options.operatorKey} is not the operator key of ${options.swarm}; nodes would refuse the revocation`,
    );
  }
  const envelope = signRevocation(
    {
      agent,
      authority: "operator",
      swarm: config.swarm,
      ...(options.reason ? { reason: options.reason } : {}),
    },
    { id: OPERATOR_ID, privateKey: operator.privateKey },
    systemClock,
  );
  const store = await openStore(config.store, { create: false });
  try {
    const entry = await store.appendAudit({ kind: REVOKED_AUDIT_KIND, data: envelope });
    // On a broker every node hears it now; the embedded transport lives in
    // its swarm's process, which reads it from the audit log within seconds.
    if (config.transport !== "memory") {
      const transport = await openTransport(config);
      try {
        transport.publish(
          subjects.revoke(config.swarm),
          encodeEnvelope(envelope, { maxBytes: config.limits.maxEnvelopeBytes }),
        );
        await transport.drain();
      } catch (error) {
        await transport.close().catch(() => undefined);
        throw error;
      }
    }
    const out = { agent, revoked: true, auditSeq: entry.seq, envelope: envelope.id };
    process.stdout.write(
      options.json ? `${JSON.stringify(out)}\n` : `revoked ${agent} (audit entry ${entry.seq})\n`,
    );
  } finally {
    await store.close();
  }
  return 0;
}
