/**
 * Signed heads of the audit log on the bus: a node that appends decisions
 * publishes a signed head (coalesced: at most one per {@link HEAD_INTERVAL_MS}),
 * records it in its store, and every other node keeps the heads it sees from
 * trusted agents as witnesses in its own store. `conclave audit verify`
 * checks the log against them (docs/PROTOCOL.md, "Signed seals and signed heads").
 */
import type { KeyObject } from "node:crypto";
import {
  parseSignedHead,
  type SignedHead,
  signHead,
  signSeal,
  verifyHead,
} from "../../consensus/audit-anchor.js";
import type { Decision } from "../../consensus/seal.js";
import { toError } from "../../errors/index.js";
import type { Store } from "../../store/port.js";
import { decodeEnvelope, encodeEnvelope } from "../../wire/codec.js";
import { createSignedEnvelope } from "../../wire/signature.js";
import { subjects } from "../subjects.js";
import type { ConsensusContext } from "./context.js";

/** Event type (`<swarm>.event.consensus.head`) of a published signed head. */
export const HEAD_EVENT = "consensus.head";
/** Store meta key: the latest signed head a node of this store published (JSON). */
export const SIGNED_HEAD_META_KEY = "consensus.head.signed";
/** Store meta key: the heads seen from other nodes, the highest per signer (JSON object by signer). */
export const WITNESS_META_KEY = "consensus.witnesses";
/** A node publishes at most one head per this many ms; the last append of the window wins. */
export const HEAD_INTERVAL_MS = 250;

/** What the head publisher and witness read from their node. */
export type AuditHeadsContext = Pick<
  ConsensusContext,
  "swarm" | "transport" | "store" | "clock" | "limits" | "agents" | "keys" | "events"
>;

/** An agent of this node that signs heads. */
export interface HeadSigner {
  readonly id: string;
  readonly privateKey: KeyObject;
}

/** `decision` with its seal signed by `signer`: what the audit log stores. */
export function signedSeal(decision: Decision, signer: HeadSigner): Decision {
  return { ...decision, signature: signSeal(decision.seal, signer.id, signer.privateKey) };
}

/**
 * The signed heads a store holds: its own latest published head and the
 * heads witnessed from other nodes. Unreadable records are returned as the
 * reason, so a verifier can refuse them instead of skipping them.
 */
export async function storedHeads(store: Store): Promise<SignedHead[] | string> {
  const heads: SignedHead[] = [];
  const own = await store.getMeta(SIGNED_HEAD_META_KEY);
  if (own !== undefined) {
    const head = parseHeadText(own);
    if (typeof head === "string") return `the store's ${SIGNED_HEAD_META_KEY} record: ${head}`;
    heads.push(head);
  }
  const witnessed = await readWitnesses(store);
  if (typeof witnessed === "string") return `the store's ${WITNESS_META_KEY} record: ${witnessed}`;
  heads.push(...witnessed.values());
  return heads;
}

function parseHeadText(text: string): SignedHead | string {
  try {
    return parseSignedHead(JSON.parse(text));
  } catch {
    return "not JSON";
  }
}

async function readWitnesses(store: Store): Promise<Map<string, SignedHead> | string> {
  const text = await store.getMeta(WITNESS_META_KEY);
  const heads = new Map<string, SignedHead>();
  if (text === undefined || text === "") return heads;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null) return "not an object of heads";
  for (const [signer, raw] of Object.entries(value)) {
    const head = parseSignedHead(raw);
    if (typeof head === "string") return `the head of ${signer}: ${head}`;
    heads.set(signer, head);
  }
  return heads;
}

/**
 * Publishes this node's signed heads and keeps the heads of other nodes.
 * `appended` is cheap on the hot path: it notes the newest entry and
 * publishes at most once per interval.
 */
export class AuditHeads {
  readonly #node: AuditHeadsContext;
  readonly #intervalMs: number;
  #latest: { seq: number; hash: string; signer: HeadSigner } | undefined;
  #publishedAt = Number.NEGATIVE_INFINITY;
  #timer: (() => void) | undefined;
  #subscription: { unsubscribe(): void } | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(node: AuditHeadsContext, intervalMs = HEAD_INTERVAL_MS) {
    this.#node = node;
    this.#intervalMs = intervalMs;
  }

  /** Starts witnessing the heads other nodes publish. */
  start(): void {
    const { transport, swarm } = this.#node;
    this.#subscription ??= transport.subscribe(subjects.event(swarm, HEAD_EVENT), (m) =>
      this.#witness(m.data),
    );
  }

  /** Notes that `signer` appended entry `seq` with `hash`; a signed head follows within the interval. */
  appended(seq: number, hash: string, signer: HeadSigner): void {
    if (this.#closed || (this.#latest !== undefined && this.#latest.seq >= seq)) return;
    this.#latest = { seq, hash, signer };
    if (this.#timer !== undefined) return;
    const wait = this.#publishedAt + this.#intervalMs - this.#node.clock.now();
    if (wait <= 0) {
      this.#publish();
      return;
    }
    this.#timer = this.#node.clock.setTimer(() => {
      this.#timer = undefined;
      this.#publish();
    }, wait);
  }

  /** Publishes a pending head now (e.g. before closing) and waits for the store writes. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#timer();
      this.#timer = undefined;
      this.#publish();
    }
    await this.#writing;
  }

  /** Stops witnessing; a pending head is published first. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  #publish(): void {
    const latest = this.#latest;
    if (latest === undefined) return;
    this.#latest = undefined;
    const { swarm, clock } = this.#node;
    this.#publishedAt = clock.now();
    const head = signHead(
      { swarm, seq: latest.seq, headHash: latest.hash, ts: clock.now(), signer: latest.signer.id },
      latest.signer.privateKey,
    );
    this.#write(SIGNED_HEAD_META_KEY, async (store) => {
      const current = await store.getMeta(SIGNED_HEAD_META_KEY);
      const old = current === undefined ? undefined : parseHeadText(current);
      if (typeof old === "object" && old.seq >= head.seq) return;
      await store.setMeta(SIGNED_HEAD_META_KEY, JSON.stringify(head));
    });
    try {
      const envelope = createSignedEnvelope(
        { type: HEAD_EVENT, from: head.signer, body: head as never },
        latest.signer.privateKey,
        { clock },
      );
      this.#node.transport.publish(
        subjects.event(swarm, HEAD_EVENT),
        encodeEnvelope(envelope, { maxBytes: this.#node.limits.maxEnvelopeBytes }),
      );
    } catch (error) {
      this.#node.events.emit({
        type: "error",
        error: `publishing the audit head: ${toError(error).message}`,
      });
    }
  }

  /** Keeps a head another node published, once its signature checks out with a trusted key. */
  #witness(data: Uint8Array): void {
    let head: SignedHead | string;
    try {
      head = parseSignedHead(
        decodeEnvelope(data, { maxBytes: this.#node.limits.maxEnvelopeBytes }).body,
      );
    } catch {
      return; // Not ours to judge here: the event bus parks bad events.
    }
    if (typeof head === "string" || head.swarm !== this.#node.swarm) return;
    if (this.#node.agents.get(head.signer) !== undefined) return;
    const key = this.#node.keys.revoked(head.signer) ? undefined : this.#node.keys.key(head.signer);
    if (key === undefined || !verifyHead(head, key)) {
      this.#node.events.emit({
        type: "error",
        error: `refused an audit head from ${head.signer}: ${key === undefined ? "its key is not trusted here" : "its signature does not verify"}`,
      });
      return;
    }
    const seen = head;
    this.#write(WITNESS_META_KEY, async (store) => {
      const heads = await readWitnesses(store);
      const map = typeof heads === "string" ? new Map<string, SignedHead>() : heads;
      const old = map.get(seen.signer);
      if (old !== undefined && old.seq >= seen.seq) return;
      map.set(seen.signer, seen);
      await store.setMeta(WITNESS_META_KEY, JSON.stringify(Object.fromEntries(map)));
    });
  }

  /** Store writes one after another (read, compare, write). */
  #write(what: string, write: (store: Store) => Promise<void>): void {
    const run = () =>
      write(this.#node.store).catch((error: unknown) =>
        this.#node.events.emit({
          type: "error",
          error: `recording the audit head (${what}): ${toError(error).message}`,
        }),
      );
    this.#writing = this.#writing.then(run, run);
  }
}
