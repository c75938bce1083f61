/**
 * The Byzantine evidence a round keeps, bounded. Anyone who can publish on
 * the bus can replay an honest voter's signed vote, or send forgeries in
 * another's name, as often as they like: kept in full, every copy would be
 * sealed into the decision (a decision of megabytes, each copy blaming the
 * voter it names). A round keeps the first
 * {@link EVIDENCE_PER_SENDER_KIND} pieces of evidence per claimed sender
 * and kind, {@link EVIDENCE_MAX} in all, drops exact repeats of what it
 * kept without a word, and notes in its last piece how many more it did not
 * keep. Pure: no IO, no clock.
 */
import type { Envelope } from "../wire/envelope.js";
import type { ByzantineEvidence } from "./types.js";

/** Most pieces of evidence of one kind one round keeps against one claimed sender. */
export const EVIDENCE_PER_SENDER_KIND = 4;

/** Most pieces of evidence one round keeps in all. */
export const EVIDENCE_MAX = 64;

type EvidenceKind = ByzantineEvidence["kind"];

/** Names a message as received: its id and signature (every other field is signed). */
function messageKey(message: Envelope): string {
  return `${String(message.id)}/${String(message.sig)}`;
}

/**
 * A round's evidence: what it keeps of the misbehaviour it saw, in the
 * order it saw it.
 *
 * @example
 * ```ts
 * const log = new EvidenceLog();
 * const kept = log.add(evidence); // undefined: a repeat, or over the bounds
 * const decisionEvidence = log.list();
 * ```
 */
export class EvidenceLog {
  readonly #kept: ByzantineEvidence[] = [];
  /** The messages of the kept evidence, by kind and claimed sender: what a repeat would match. */
  readonly #seen = new Set<string>();
  /** How many pieces are kept, by kind and claimed sender. */
  readonly #named = new Map<string, number>();
  readonly #dropped = new Map<EvidenceKind, number>();

  /**
   * Keeps `evidence` when fewer than {@link EVIDENCE_PER_SENDER_KIND} of its
   * kind against its claimed sender, and fewer than {@link EVIDENCE_MAX} in
   * all, are kept; returns it then. An
   * exact repeat of kept evidence (the same messages, e.g. a replayed copy)
   * is dropped silently; other evidence over the bounds is dropped and
   * counted. Returns undefined for what it drops.
   */
  add(evidence: ByzantineEvidence): ByzantineEvidence | undefined {
    const copy = `${evidence.kind}|${evidence.agent}|${evidence.messages.map(messageKey).join(",")}`;
    if (this.#seen.has(copy)) return undefined;
    const named = `${evidence.kind}|${evidence.agent}`;
    const against = this.#named.get(named) ?? 0;
    if (against >= EVIDENCE_PER_SENDER_KIND || this.#kept.length >= EVIDENCE_MAX) {
      this.#dropped.set(evidence.kind, (this.#dropped.get(evidence.kind) ?? 0) + 1);
      return undefined;
    }
    this.#seen.add(copy);
    this.#named.set(named, against + 1);
    this.#kept.push(evidence);
    return evidence;
  }

  /**
   * The evidence kept, in the order it was seen; when some was dropped for
   * the bounds, the last piece's `detail` says how much, by kind.
   */
  list(): ByzantineEvidence[] {
    const kept = this.#kept.slice();
    const last = kept.at(-1);
    if (this.#dropped.size === 0 || last === undefined) return kept;
    let total = 0;
    const kinds: string[] = [];
    for (const [kind, count] of this.#dropped) {
      total += count;
      kinds.push(`${kind} ${count}`);
    }
    kept[kept.length - 1] = {
      ...last,
      detail: `${last.detail} [and ${total} more pieces of evidence not kept (${kinds.join(", ")}): a round keeps ${EVIDENCE_PER_SENDER_KIND} per claimed sender and kind, ${EVIDENCE_MAX} in all]`,
    };
    return kept;
  }
}
