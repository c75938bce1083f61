import { randomBytes } from "node:crypto";
import { mkdir, open, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { toError } from "../errors/index.js";
import { refuseOpenFolder } from "../identity/key-file.js";

/** A write holds the file's lock for milliseconds; one held this long was left by a dead process. */
const STALE_LOCK_MS = 10_000;

/** Far more than any swarm's agents need; a larger file is not ours. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The public keys this node's handshakes proved, kept in a file so that a
 * node restarted while a peer's node is down (a broker node killed with
 * both) still verifies the tasks that peer signed and queued before: they
 * would otherwise wait for a handshake nobody can answer and be
 * dead-lettered for an unknown signer (chaos `amqp-cluster-kill` seed 501).
 * What it holds is what the node would trust in memory had it not
 * restarted: an agent revoked since is forgotten on start from the audit
 * log, and an agent announcing another key is proved anew.
 *
 * The file holds public keys only, as JSON: `{"swarm": "…", "signers":
 * {"<agent id>": "<public key, as on its card>"}}`. Several processes of
 * one swarm may share it (one `keysDir`): each write, holding a lock file
 * beside it (`<file>.lock`), merges what the file holds with what this
 * node proved, then replaces the file in one rename.
 * It decides whom a node trusts, so it is read only as a key file is: a
 * regular file, written by its owner only (mode 0600), in a folder group
 * and others cannot write to; otherwise it is reported and not used.
 */
export class ProvedSigners {
  readonly #path: string;
  readonly #swarm: string;
  readonly #report: (error: string) => void;
  readonly #proved = new Map<string, string>();
  /**
   * What this process's own handshakes proved: only these are written over
   * the file. A key merely loaded from it may have been forgotten by another
   * process since (its agent revoked), and must not be written back.
   */
  readonly #provedHere = new Map<string, string>();
  readonly #forgotten = new Set<string>();
  #writing: Promise<void> | undefined;
  #again = false;

  constructor(path: string, swarm: string, report: (error: string) => void) {
    this.#path = path;
    this.#swarm = swarm;
    this.#report = report;
  }

  /** What the file holds (none when it is missing or not this swarm's; a bad file is reported). */
  async load(): Promise<ReadonlyMap<string, string>> {
    const held = await this.#read();
    for (const [id, key] of held) this.#proved.set(id, key);
    return held;
  }

  /** Keeps a key a handshake proved (written in the background). */
  remember(agentId: string, publicKey: string): void {
    if (this.#provedHere.get(agentId) === publicKey) return;
    this.#proved.set(agentId, publicKey);
    this.#provedHere.set(agentId, publicKey);
    this.#forgotten.delete(agentId);
    this.#write();
  }

  /** Drops an agent (revoked). */
  forget(agentId: string): void {
    if (!this.#proved.delete(agentId)) return;
    this.#provedHere.delete(agentId);
    this.#forgotten.add(agentId);
    this.#write();
  }

  /** Resolves once what was remembered so far is written. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #read(): Promise<Map<string, string>> {
    let text: string;
    try {
      // Stat the open handle, not the path, so the file checked is the file read.
      const handle = await open(this.#path, "r");
      try {
        const stat = await handle.stat();
        const problem = !stat.isFile()
          ? "is not a regular file"
          : process.platform !== "win32" && (stat.mode & 0o022) !== 0
            ? "is writable by group or others (run chmod 600 on it)"
            : stat.size > MAX_FILE_BYTES
              ? "is too large"
              : undefined;
        if (problem !== undefined) {
          this.#report(`proved signers ${this.#path} ${problem}; it is not used`);
          return new Map();
        }
        await refuseOpenFolder(dirname(this.#path));
        text = await handle.readFile("utf8");
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        this.#report(`proved signers ${this.#path} not used: ${toError(error).message}`);
      }
      return new Map();
    }
    try {
      const file = JSON.parse(text) as { swarm?: unknown; signers?: unknown };
      if (file.swarm !== this.#swarm) return new Map();
      const signers = file.signers as Record<string, unknown>;
      return new Map(
        Object.entries(signers).filter((e): e is [string, string] => typeof e[1] === "string"),
      );
    } catch (error) {
      this.#report(
        `proved signers ${this.#path} is not valid (${toError(error).message}); it is rewritten as this node proves keys again`,
      );
      return new Map();
    }
  }

  /**
   * Runs `update` holding `<file>.lock` (created exclusively, removed after).
   * A lock older than {@link STALE_LOCK_MS} was left by a process that died
   * holding it, and is taken over.
   */
  async #locked(update: () => Promise<void>): Promise<void> {
    const lock = `${this.#path}.lock`;
    for (;;) {
      try {
        await (await open(lock, "wx", 0o600)).close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const since = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (since > STALE_LOCK_MS) await unlink(lock).catch(() => undefined);
      else await sleep(2 + Math.floor(Math.random() * 10));
    }
    try {
      await update();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }

  #write(): void {
    if (this.#writing !== undefined) {
      this.#again = true;
      return;
    }
    this.#writing = (async () => {
      do {
        this.#again = false;
        try {
          await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
          // Under the lock: a process that read the file before another's
          // rename would otherwise rename its copy over it, dropping a key.
          await this.#locked(async () => {
            const merged = await this.#read();
            for (const id of this.#forgotten) merged.delete(id);
            for (const [id, key] of this.#provedHere) merged.set(id, key);
            const text = JSON.stringify({
              swarm: this.#swarm,
              signers: Object.fromEntries(merged),
            });
            const temporary = `${this.#path}.${randomBytes(6).toString("hex")}.tmp`;
            await writeFile(temporary, `${text}\n`, { mode: 0o600 });
            await rename(temporary, this.#path);
          });
        } catch (error) {
          this.#report(`writing proved signers ${this.#path}: ${toError(error).message}`);
        }
      } while (this.#again);
    })().finally(() => {
      this.#writing = undefined;
    });
  }
}
