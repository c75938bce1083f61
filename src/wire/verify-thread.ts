/**
 * Ed25519 signature checks on a worker thread, so that a node receiving
 * messages from a broker spends its event loop on handling them and a second
 * core on checking their signatures.
 *
 * Checking a signature is about 50 µs of arithmetic (sodium-native; 100 µs
 * with node:crypto), the largest single cost of a task that crossed a broker
 * (`runtime.nats.tasks`). Handing it to a thread costs the event loop about
 * 4 µs: the checks asked for in one turn go to the thread as one message, and
 * come back as one.
 *
 * The contract is {@link Ed25519Implementation.verify}'s, asynchronously:
 * the same three inputs, the same answer. The thread runs sodium-native only;
 * with node:crypto (`CONCLAVE_CRYPTO=node`), on one CPU, with
 * `CONCLAVE_VERIFY_THREAD=off`, or when the thread cannot start or stops, the
 * check runs in the caller's thread instead: never lost, never refused for
 * want of a thread. The thread does not keep the process alive while no check
 * is pending.
 */

import type { KeyObject } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ConfigError } from "../errors/index.js";
import { ed25519, rawPublicKey } from "./ed25519.js";

/** Checks sent to the thread in one message, at most. */
const BATCH_MAX = 512;

/**
 * The thread's code: a CommonJS script, so that it runs the same from the
 * sources (tsx), from `dist/`, and on every Node version, with no loader.
 * A request is `{ id, texts, signatures, keys }` (the signing texts as
 * strings, the signatures as base64url, the raw 32-byte public keys); the
 * answer is `{ id, valid }`, a byte per check.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const sodium = require(workerData.sodium);
parentPort.on("message", ({ id, texts, signatures, keys }) => {
  const valid = new Uint8Array(texts.length);
  for (let i = 0; i < texts.length; i++) {
    const signature = Buffer.from(signatures[i], "base64url");
    valid[i] = signature.length === 64 &&
      sodium.crypto_sign_verify_detached(signature, Buffer.from(texts[i], "utf8"), keys[i]) ? 1 : 0;
  }
  parentPort.postMessage({ id, valid });
});
`;

interface Pending {
  readonly text: string;
  readonly signature: string;
  readonly publicKey: KeyObject;
  readonly resolve: (valid: boolean) => void;
}

/** One worker thread and the checks it has been asked for. */
class VerifyThread {
  readonly #worker: Worker;
  /** Checks asked for in this turn, sent together at its end. */
  #queued: Pending[] = [];
  /** Batches sent, by id, waiting for their answer. */
  readonly #sent = new Map<number, Pending[]>();
  #nextId = 0;
  #broken = false;

  constructor(sodiumPath: string) {
    this.#worker = new Worker(THREAD_SOURCE, {
      eval: true,
      // Plain CommonJS: none of the process's loaders or flags
      // (`--import tsx`, `--input-type=module`) apply to it.
      execArgv: [],
      workerData: { sodium: sodiumPath },
    });
    this.#worker.unref();
    this.#worker.on("message", (answer: { id: number; valid: Uint8Array }) => {
      const batch = this.#sent.get(answer.id);
      if (batch === undefined) return;
      this.#sent.delete(answer.id);
      if (this.#sent.size === 0 && this.#queued.length === 0) this.#worker.unref();
      for (let i = 0; i < batch.length; i++) batch[i]?.resolve(answer.valid[i] === 1);
    });
    // A thread that fails (out of memory, killed): what it was asked is
    // checked here instead, and so is everything after.
    const fail = () => this.#fail();
    this.#worker.on("error", fail);
    this.#worker.on("exit", fail);
  }

  get broken(): boolean {
    return this.#broken;
  }

  verify(text: string, signature: string, publicKey: KeyObject): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.#queued.length === 0) {
        if (this.#sent.size === 0) this.#worker.ref();
        setImmediate(() => this.#flush());
      }
      this.#queued.push({ text, signature, publicKey, resolve });
      if (this.#queued.length >= BATCH_MAX) this.#flush();
    });
  }

  #flush(): void {
    const batch = this.#queued;
    if (batch.length === 0) return;
    this.#queued = [];
    if (this.#broken) {
      for (const check of batch) check.resolve(verifyHere(check));
      return;
    }
    const id = this.#nextId++;
    this.#sent.set(id, batch);
    this.#worker.postMessage({
      id,
      texts: batch.map((c) => c.text),
      signatures: batch.map((c) => c.signature),
      keys: batch.map((c) => rawPublicKey(c.publicKey)),
    });
  }

  /** From now on every check runs in the caller's thread, the pending ones included. */
  #fail(): void {
    this.#broken = true;
    for (const batch of this.#sent.values()) {
      for (const check of batch) check.resolve(verifyHere(check));
    }
    this.#sent.clear();
    this.#flush();
  }

  /** Stops the thread; what it was asked and has not answered is checked here. */
  close(): Promise<number> {
    const stopped = this.#worker.terminate();
    this.#fail();
    return stopped;
  }
}

/** A check the thread could not answer, run in this one. */
function verifyHere(check: Pick<Pending, "text" | "signature" | "publicKey">): boolean {
  const signature = Buffer.from(check.signature, "base64url");
  return ed25519().verify(Buffer.from(check.text, "utf8"), signature, check.publicKey);
}

let thread: VerifyThread | null | undefined;

/**
 * Whether checks go to a thread: `CONCLAVE_VERIFY_THREAD` is `on` (the
 * default when the machine has more than one CPU) or `off`.
 */
export function verifyThreadWanted(
  setting: string | undefined,
  cpus: number = availableParallelism(),
): boolean {
  const wanted = setting?.trim().toLowerCase() || "auto";
  if (wanted === "off") return false;
  if (wanted === "on") return true;
  if (wanted !== "auto") {
    throw new ConfigError(
      `CONCLAVE_VERIFY_THREAD=${JSON.stringify(setting)} is not a choice: use "on" (check signatures on a worker thread), "off" (in the event loop's thread) or leave it unset (on when the machine has more than one CPU)`,
    );
  }
  return cpus > 1;
}

function currentThread(): VerifyThread | null {
  if (thread === undefined) {
    thread = null;
    if (
      verifyThreadWanted(process.env.CONCLAVE_VERIFY_THREAD) &&
      ed25519().name === "sodium-native"
    ) {
      try {
        thread = new VerifyThread(createRequire(import.meta.url).resolve("sodium-native"));
      } catch {
        thread = null; // no thread here: checks run in the caller's thread
      }
    }
  }
  return thread?.broken ? null : thread;
}

/**
 * Whether `signature` (base64url) is `publicKey`'s Ed25519 signature of the
 * UTF-8 of `text`, checked on the worker thread when there is one, else here.
 */
export function verifyOffThread(
  text: string,
  signature: string,
  publicKey: KeyObject,
): Promise<boolean> | boolean {
  const worker = currentThread();
  if (worker === null) return verifyHere({ text, signature, publicKey });
  return worker.verify(text, signature, publicKey);
}

/**
 * Stops the worker thread (the next check starts another): for tests and
 * benchmarks that compare the two ways.
 *
 * @internal
 */
export async function stopVerifyThread(): Promise<void> {
  const current = thread;
  thread = undefined;
  if (current) await current.close();
}

/**
 * Whether checks go to a worker thread right now (one was started and has
 * not failed): for tests.
 *
 * @internal
 */
export function verifyThreadRunning(): boolean {
  return thread !== undefined && thread !== null && !thread.broken;
}
