import type { Random } from "../core/random.js";
import type { AgentCard } from "../registry/agent-card.js";

/**
 * The ordering rules behind the router, as pure functions over explicit
 * state so they can be tested and reused (e.g. by the simulator) without a
 * router instance.
 */

/** How the router ranks candidates. */
export const routingStrategies = ["round-robin", "least-loaded", "reputation"] as const;

/**
 * - `round-robin`: rotate through the candidates, fair even while agents join and leave;
 * - `least-loaded`: fewest requests in flight first, ties in round-robin order;
 * - `reputation`: best learned score first (EWMA of success and latency), with
 *   occasional exploration of another candidate.
 */
export type RoutingStrategy = (typeof routingStrategies)[number];

/** What the router has learned about one agent. */
export interface Reputation {
  /** EWMA of outcomes, 1 = always succeeded. Starts at the optimistic prior 1. */
  readonly success: number;
  /** EWMA of successful-call latency in ms; 0 until the first success. */
  readonly latencyMs: number;
  /** Number of outcomes recorded. */
  readonly samples: number;
}

/** The reputation of an agent never seen: optimistic, so that it gets tried. */
export const unknownReputation: Reputation = Object.freeze({
  success: 1,
  latencyMs: 0,
  samples: 0,
});

/** Exponentially weighted moving average: `alpha` is the weight of the new sample. */
export function ewma(previous: number, sample: number, alpha: number): number {
  return previous + alpha * (sample - previous);
}

/**
 * Folds one outcome into a reputation. Latency learns from successes only:
 * a failure's latency (often a timeout, or an instant refusal) says nothing
 * about how fast the agent serves, and failures already lower `success`. The
 * first latency sample replaces the 0 prior instead of being averaged with it,
 * as TCP does for its round-trip estimate.
 */
export function updateReputation(
  previous: Reputation,
  outcome: { readonly ok: boolean; readonly latencyMs: number },
  alpha: number,
): Reputation {
  const success = ewma(previous.success, outcome.ok ? 1 : 0, alpha);
  const latencyMs = !outcome.ok
    ? previous.latencyMs
    : previous.latencyMs > 0
      ? ewma(previous.latencyMs, Math.max(0, outcome.latencyMs), alpha)
      : Math.max(0, outcome.latencyMs);
  return { success, latencyMs, samples: previous.samples + 1 };
}

/**
 * Higher is better: success rate discounted by latency, halved when latency
 * equals `latencyScaleMs`. In [0, 1].
 */
export function reputationScore(reputation: Reputation, latencyScaleMs: number): number {
  return reputation.success / (1 + reputation.latencyMs / latencyScaleMs);
}

/** Candidates sorted by id with duplicate ids removed; a copy, the input is not touched. */
export function sortById(candidates: readonly AgentCard[]): AgentCard[] {
  const sorted = [...candidates];
  let inOrder = true;
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1]!.id >= sorted[i]!.id) {
      inOrder = false;
      break;
    }
  }
  if (inOrder) return sorted;
  sorted.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.filter((card, i) => i === 0 || sorted[i - 1]!.id !== card.id);
}

/**
 * Id-sorted candidates rotated to start just after `lastId` (the previous
 * pick). Keying the cursor on an id rather than an index keeps the rotation
 * fair when candidates join or leave between calls.
 */
export function rotateAfter(sorted: readonly AgentCard[], lastId: string | undefined): AgentCard[] {
  if (lastId === undefined || sorted.length < 2) return [...sorted];
  let start = 0;
  while (start < sorted.length && sorted[start]!.id <= lastId) start++;
  if (start === sorted.length) start = 0;
  return [...sorted.slice(start), ...sorted.slice(0, start)];
}

/** Stable sort by a key, ascending; equal keys keep the incoming (rotated) order. */
export function orderByKey(cards: readonly AgentCard[], key: (id: string) => number): AgentCard[] {
  const keyed = cards.map((card, index) => ({ card, index, key: key(card.id) }));
  keyed.sort((a, b) => a.key - b.key || a.index - b.index);
  return keyed.map((k) => k.card);
}

/**
 * With probability `epsilon`, moves one random candidate other than the
 * first to the front so that agents with a poor (or stale) score are
 * re-measured now and then. Draws from `random` once, twice when exploring.
 */
export function explore(
  ranked: readonly AgentCard[],
  random: Random,
  epsilon: number,
): AgentCard[] {
  const out = [...ranked];
  if (out.length < 2 || epsilon <= 0 || random.next() >= epsilon) return out;
  const index = 1 + Math.min(out.length - 2, Math.floor(random.next() * (out.length - 1)));
  const [picked] = out.splice(index, 1);
  out.unshift(picked!);
  return out;
}
