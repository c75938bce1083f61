import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, lstat, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { KeyError } from "../errors/index.js";
import { agentIdPattern } from "../wire/envelope.js";
import {
  type AgentKeyPair,
  agentKeyPairFromSeed,
  encodePublicKey,
  generateAgentKeyPair,
  privateKeySeed,
} from "./keys.js";

/** Per-call options of {@link saveAgentKey}. */
export interface SaveAgentKeyOptions {
  /** Replace an existing key file. Off by default: losing a key loses an identity. */
  readonly overwrite?: boolean;
}

/** A key file is a few hundred bytes; anything much larger is not one. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

const keyFileSchema = z.object({
  agent: z.string(),
  alg: z.literal("ed25519"),
  seed: z.string().regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/),
  publicKey: z.string(),
});

/**
 * Where the key of `agentId` lives under `dir`: `<dir>/<agentId>.key`.
 *
 * @throws KeyError if `agentId` is not a valid agent id (which also keeps it
 *   from escaping `dir`).
 */
export function agentKeyPath(dir: string, agentId: string): string {
  if (typeof agentId !== "string" || !agentIdPattern.test(agentId)) {
    throw new KeyError(
      `"${String(agentId).slice(0, 140)}" is not an agent id: use 1-128 characters of A-Z a-z 0-9 _ -`,
    );
  }
  return join(dir, `${agentId}.key`);
}

/**
 * Writes an agent's key pair to `<dir>/<agentId>.key` with mode 0600,
 * creating `dir` with mode 0700 if needed. The write is atomic (temporary
 * file, fsync, then link or rename), so a crash never leaves half a key.
 * Returns the path written.
 *
 * The file is JSON: `{"agent", "alg": "ed25519", "seed", "publicKey"}`, with
 * the 32-byte seed and public key in base64url without padding.
 *
 * @throws KeyError if the file exists and `overwrite` is not set, if the pair
 *   is not a matching Ed25519 pair, or if the file cannot be written.
 *
 * @example
 * ```ts
 * await saveAgentKey(".conclave/keys", "dev-1", generateAgentKeyPair());
 * ```
 */
export async function saveAgentKey(
  dir: string,
  agentId: string,
  pair: AgentKeyPair,
  options: SaveAgentKeyOptions = {},
): Promise<string> {
  const path = agentKeyPath(dir, agentId);
  const outcome = await writeKeyFile(dir, path, agentId, pair, options.overwrite === true);
  if (outcome === "exists") {
    throw new KeyError(
      `key file ${path} already exists; load it with loadAgentKey, or pass { overwrite: true } to replace this agent's identity`,
    );
  }
  return path;
}

/**
 * Reads the key pair of `agentId` from `<dir>/<agentId>.key`.
 *
 * @throws KeyError if the file is missing, readable or writable by group or
 *   others (the message gives the `chmod 600` to run), malformed, written for
 *   another agent, or if its public key does not match its seed.
 *
 * @example
 * ```ts
 * const keys = await loadAgentKey(".conclave/keys", "dev-1");
 * ```
 */
export async function loadAgentKey(dir: string, agentId: string): Promise<AgentKeyPair> {
  const path = agentKeyPath(dir, agentId);
  const found = await readKeyFile(path, agentId);
  if (!found) {
    throw new KeyError(
      `no key file for agent "${agentId}" at ${path}; restore it, or create one with loadOrCreateAgentKey`,
    );
  }
  return found.pair;
}

/**
 * Reads the key file at `path` whatever its name, with the same checks as
 * {@link loadAgentKey} (a regular file, mode 0600 in a folder only its owner
 * writes, well formed, public key matching the seed), and returns the agent
 * it was written for with its pair.
 *
 * @throws KeyError if the file is missing or fails one of those checks.
 */
export async function loadKeyFile(path: string): Promise<{ agent: string; pair: AgentKeyPair }> {
  const found = await readKeyFile(path, undefined);
  if (!found) throw new KeyError(`no key file at ${path}; check the path`);
  return found;
}

/**
 * Loads the key pair of `agentId`, or generates and saves one if there is
 * none yet. Safe to race: if two processes create at once, both end up with
 * the one that was written first.
 *
 * @throws KeyError as {@link loadAgentKey} and {@link saveAgentKey} do.
 *
 * @example
 * ```ts
 * const keys = await loadOrCreateAgentKey(swarm.keyDir, "dev-1");
 * ```
 */
export async function loadOrCreateAgentKey(dir: string, agentId: string): Promise<AgentKeyPair> {
  const path = agentKeyPath(dir, agentId);
  const existing = await readKeyFile(path, agentId);
  if (existing) return existing.pair;
  const pair = generateAgentKeyPair();
  if ((await writeKeyFile(dir, path, agentId, pair, false)) === "written") return pair;
  return loadAgentKey(dir, agentId);
}

/**
 * Refuses a key folder that group or others may write to: whoever can write
 * there can replace an agent's key file with their own.
 */
export async function refuseOpenFolder(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const mode = (await stat(dir)).mode;
  if ((mode & 0o022) !== 0) {
    const shown = (mode & 0o777).toString(8).padStart(4, "0");
    throw new KeyError(
      `key folder ${dir} is writable by group or others (mode ${shown}); anyone who can write there can replace a key: run chmod 700 ${dir}`,
    );
  }
}

/**
 * Opening a named pipe for reading waits for a writer: without O_NONBLOCK a
 * key path that is one (or links to one) would hang before it is checked.
 * It changes nothing for a regular file.
 */
const READ_WITHOUT_WAITING =
  process.platform === "win32" ? "r" : constants.O_RDONLY | constants.O_NONBLOCK;

/** The key stored at `path` (for `agentId` when given), or undefined if there is no file. */
async function readKeyFile(
  path: string,
  agentId: string | undefined,
): Promise<{ agent: string; pair: AgentKeyPair } | undefined> {
  let text: string;
  try {
    // Stat the open handle, not the path, so the file checked is the file read.
    const handle = await open(path, READ_WITHOUT_WAITING);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new KeyError(`key file ${path} is not a regular file`);
      await refuseOpenFolder(dirname(path));
      if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
        const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
        throw new KeyError(
          `key file ${path} is accessible by group or others (mode ${mode}); a private key must be readable by its owner only: run chmod 600 ${path}`,
        );
      }
      if (stat.size > MAX_KEY_FILE_BYTES)
        throw new KeyError(`key file ${path} is too large to be a key file`);
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof KeyError) throw err;
    if (errorCode(err) === "ENOENT") return undefined;
    throw new KeyError(`cannot read key file ${path}: ${messageOf(err)}`, { cause: err });
  }
  return parseKeyFile(text, path, agentId);
}

function parseKeyFile(
  text: string,
  path: string,
  agentId: string | undefined,
): { agent: string; pair: AgentKeyPair } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new KeyError(`key file ${path} is not JSON; restore it from a backup`, { cause: err });
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join(".") || "(root)"))];
    throw new KeyError(
      `key file ${path} is malformed (bad ${fields.join(", ")}); expected {"agent","alg":"ed25519","seed","publicKey"}`,
      { cause: parsed.error },
    );
  }
  const file = parsed.data;
  if (agentId !== undefined && file.agent !== agentId) {
    throw new KeyError(`key file ${path} belongs to agent "${file.agent}", not "${agentId}"`);
  }
  const pair = agentKeyPairFromSeed(Buffer.from(file.seed, "base64url"));
  if (encodePublicKey(pair.publicKey) !== file.publicKey) {
    throw new KeyError(
      `key file ${path}: publicKey does not match seed; the file is corrupt or was edited, restore it from a backup`,
    );
  }
  return { agent: file.agent, pair };
}

async function writeKeyFile(
  dir: string,
  path: string,
  agentId: string,
  pair: AgentKeyPair,
  overwrite: boolean,
): Promise<"written" | "exists"> {
  const seed = privateKeySeed(pair.privateKey);
  const publicKey = encodePublicKey(pair.publicKey);
  if (encodePublicKey(pair.privateKey) !== publicKey) {
    throw new KeyError(`the public and private keys given for agent "${agentId}" are not a pair`);
  }
  const content = `${JSON.stringify(
    { agent: agentId, alg: "ed25519", seed: Buffer.from(seed).toString("base64url"), publicKey },
    null,
    2,
  )}\n`;
  const temp = join(dir, `.${agentId}.key.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // A key there would be refused when read: refuse to write it.
    await refuseOpenFolder(dir);
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(content, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    const outcome = overwrite ? await replace(temp, path) : await publishOnce(temp, path);
    await syncDirectory(dir);
    return outcome;
  } catch (err) {
    throw new KeyError(`cannot write key file ${path}: ${messageOf(err)}`, { cause: err });
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function replace(temp: string, path: string): Promise<"written"> {
  await rename(temp, path);
  return "written";
}

/** A hard link fails if the target exists, which makes "create unless present" atomic. */
async function publishOnce(temp: string, path: string): Promise<"written" | "exists"> {
  try {
    await link(temp, path);
    return "written";
  } catch (err) {
    const code = errorCode(err);
    if (code === "EEXIST") return "exists";
    if (code === undefined || !NO_HARD_LINKS.has(code)) throw err;
  }
  // Without hard links (FAT, some network shares) the check and the rename are two steps.
  if (await exists(path)) return "exists";
  await rename(temp, path);
  return "written";
}

const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (errorCode(err) === "ENOENT") return false;
    throw err;
  }
}

/** Makes the new directory entry durable; not every platform allows it, hence best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // A rename that is not yet durable is still atomic; nothing better to do here.
  }
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
