/**
 * Whether this node's clock is the one that is off. A heartbeat signed
 * further from our clock than the allowed skew is refused, and so are ours
 * by the others: a node whose clock is minutes off learns nobody's cards,
 * takes tasks it cannot verify and dead-letters them after their retries
 * (docs/CHAOS.md, Finding 12). A node cannot tell from one peer which clock
 * is wrong, but when every other node it hears — at least two — is off in
 * the same direction, the odd one out is this node: it should stop taking
 * tasks (they wait in their queues for the others) and say so, until a
 * heartbeat is accepted again.
 *
 * Pure bookkeeping: the membership feeds it verdicts, the node acts on
 * `outlier()`.
 */

/** What is known of one remote node's clock, from its last heartbeat. */
interface Verdict {
  /** Its clock minus ours, when its heartbeat was refused for skew; undefined when accepted. */
  readonly offsetMs: number | undefined;
  readonly at: number;
}

/** This node's clock, judged against every other node heard recently. */
export interface ClockOutlier {
  /** The median of the peers' clocks minus ours. */
  readonly offsetMs: number;
  /** The other nodes heard, all refused for skew. */
  readonly peers: number;
}

/** Peers that must agree before this node blames its own clock. */
const MIN_PEERS = 2;

export class ClockWatch {
  readonly #verdicts = new Map<string, Verdict>();
  readonly #forgetAfterMs: number;

  /** `forgetAfterMs`: a node not heard for this long no longer counts (the registry's `leftAfterMs`). */
  constructor(forgetAfterMs: number) {
    this.#forgetAfterMs = forgetAfterMs;
  }

  /** A remote node's heartbeat was accepted. */
  accepted(node: string, now: number): void {
    this.#verdicts.set(node, { offsetMs: undefined, at: now });
  }

  /**
   * A remote node's heartbeat was refused for skew; `offsetMs` is its clock
   * minus ours. Ignored while a heartbeat of that node accepted within the
   * window stands: that node's clock agreed with ours moments ago, so this
   * one is a replay (or was delivered late), not a clock that is off. A node
   * refused for a whole window after its last acceptance counts again.
   */
  skewed(node: string, offsetMs: number, now: number): void {
    const last = this.#verdicts.get(node);
    if (
      last?.offsetMs === undefined &&
      last !== undefined &&
      now - last.at <= this.#forgetAfterMs
    ) {
      return;
    }
    this.#verdicts.set(node, { offsetMs, at: now });
  }

  /**
   * This node's clock is the odd one out: at least two other nodes heard
   * recently, every one refused for skew, all on the same side of our clock.
   */
  outlier(now: number): ClockOutlier | undefined {
    const offsets: number[] = [];
    for (const [node, verdict] of this.#verdicts) {
      if (now - verdict.at > this.#forgetAfterMs) {
        this.#verdicts.delete(node);
        continue;
      }
      if (verdict.offsetMs === undefined) return undefined;
      offsets.push(verdict.offsetMs);
    }
    if (offsets.length < MIN_PEERS) return undefined;
    const ahead = offsets.filter((o) => o > 0).length;
    if (ahead !== 0 && ahead !== offsets.length) return undefined;
    offsets.sort((a, b) => a - b);
    return { offsetMs: offsets[Math.floor(offsets.length / 2)] as number, peers: offsets.length };
  }
}
