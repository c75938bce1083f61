import type { SwarmEvent } from "./events.js";

/**
 * Upper bounds (seconds) of the buckets of `conclave_consensus_decision_seconds`:
 * from a few milliseconds (an in-process quorum) to a minute (a deadline).
 */
export const DECISION_SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);

/** Upper bounds (seconds) of `conclave_task_duration_seconds`: a millisecond to ten minutes. */
export const TASK_SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600,
]);

interface Histogram {
  readonly name: string;
  /** The series' labels as written inside `{…}`; empty without labels. */
  readonly labels: string;
  readonly buckets: readonly number[];
  /** Observations at or below each bucket's bound (not cumulative). */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * Counters and histograms of what a node observed, named the Prometheus way
 * (`conclave_*_total`, `*_seconds`). Fed from the swarm's events, so every
 * rejected or dead-lettered message is counted whatever its path.
 *
 * Consensus, as seen by the node that coordinates a round (its proposer's):
 * `conclave_consensus_proposals_total{action, protocol}`,
 * `conclave_consensus_decisions_total{action, protocol, outcome}`,
 * `conclave_consensus_byzantine_total{kind}` (each piece of evidence a
 * round refused), and the histogram `conclave_consensus_decision_seconds{protocol}`
 * of the time from proposal to decision; and, on every node,
 * `conclave_consensus_votes_total{choice}` cast by the agents it hosts.
 *
 * Markets, as seen by the auctioneer's node: `conclave_auctions_opened_total{task, rule}`,
 * `conclave_auctions_closed_total{task, outcome}`,
 * `conclave_auction_bids_rejected_total{reason}` (one per refused bid, by its
 * typed reason) and the histogram `conclave_auction_seconds{task}` from the
 * call for proposals to the award.
 *
 * The team's shape: `conclave_pool_scaled_total{role, direction, reason}`
 * (each scaling of an autoscaling pool hosted here) and
 * `conclave_agents_reassigned_total{role, reason}`.
 */
export class SwarmMetrics {
  readonly #counters = new Map<string, number>();
  readonly #histograms = new Map<string, Histogram>();

  observe(event: SwarmEvent): void {
    switch (event.type) {
      case "task.submitted":
        this.#inc("conclave_tasks_submitted_total", { role: event.role, task: event.task });
        break;
      case "task.completed":
        this.#inc("conclave_tasks_completed_total", { agent: event.agent, task: event.task });
        this.#inc("conclave_tasks_total", {
          role: event.role,
          task: event.task,
          outcome: "completed",
        });
        this.#observe(
          "conclave_task_duration_seconds",
          { task: event.task },
          event.durationMs / 1000,
          TASK_SECONDS_BUCKETS,
        );
        break;
      case "task.failed":
        this.#inc("conclave_tasks_failed_total", {
          agent: event.agent,
          task: event.task,
          retry: String(event.willRetry),
        });
        this.#inc("conclave_tasks_total", {
          role: event.role,
          task: event.task,
          outcome: "failed",
        });
        break;
      case "task.duplicate":
        this.#inc("conclave_tasks_duplicate_total", { agent: event.agent });
        break;
      case "task.dead_lettered":
        this.#inc("conclave_tasks_dead_lettered_total", {});
        this.#inc("conclave_dead_letters_total", { reason: deadLetterReason(event.reason) });
        break;
      case "consensus.late_vote":
        this.#inc("conclave_consensus_late_votes_total", { choice: event.choice });
        break;
      case "llm.call": {
        const model = { model: event.model };
        this.#inc("conclave_llm_calls_total", {
          model: event.model,
          replayed: String(event.replayed),
        });
        if (event.replayed) break;
        this.#add(
          "conclave_llm_tokens_total",
          { model: event.model, kind: "input" },
          event.inputTokens,
        );
        this.#add(
          "conclave_llm_tokens_total",
          { model: event.model, kind: "output" },
          event.outputTokens,
        );
        this.#add(
          "conclave_llm_tokens_total",
          { model: event.model, kind: "cached" },
          event.cachedInputTokens,
        );
        this.#add("conclave_llm_cost_credits_total", model, event.cost);
        this.#observe(
          "conclave_llm_call_seconds",
          model,
          event.latencyMs / 1000,
          TASK_SECONDS_BUCKETS,
        );
        break;
      }
      case "message.rejected":
        this.#inc("conclave_messages_rejected_total", { code: event.code });
        break;
      case "agent.crashed":
        this.#inc("conclave_agent_crashes_total", { agent: event.agent });
        break;
      case "pool.scaled":
        this.#inc("conclave_pool_scaled_total", {
          role: event.role,
          direction: event.direction,
          reason: event.reason,
        });
        break;
      case "agent.reassigned":
        this.#inc("conclave_agents_reassigned_total", { role: event.role, reason: event.reason });
        break;
      case "agent.joined":
      case "agent.suspect":
      case "agent.left":
        this.#inc("conclave_registry_events_total", { event: event.type });
        break;
      case "error":
        this.#inc("conclave_errors_total", {});
        break;
      case "consensus.proposed":
        this.#inc("conclave_consensus_proposals_total", {
          action: event.action,
          protocol: event.protocol,
        });
        break;
      case "consensus.voted":
        this.#inc("conclave_consensus_votes_total", { choice: event.choice });
        break;
      case "consensus.byzantine":
        this.#inc("conclave_consensus_byzantine_total", { kind: event.kind });
        break;
      case "consensus.decided":
        this.#inc("conclave_consensus_decisions_total", {
          action: event.action,
          protocol: event.protocol,
          outcome: event.outcome,
        });
        this.#inc("conclave_consensus_rounds_total", {
          protocol: event.protocol,
          outcome: event.outcome,
        });
        this.#observe(
          "conclave_consensus_decision_seconds",
          { protocol: event.protocol },
          event.durationMs / 1000,
          DECISION_SECONDS_BUCKETS,
        );
        break;
      case "auction.opened":
        this.#inc("conclave_auctions_opened_total", { task: event.task, rule: event.rule });
        break;
      case "auction.bid_rejected":
        this.#inc("conclave_auction_bids_rejected_total", { reason: event.reason });
        break;
      case "auction.closed":
        this.#inc("conclave_auctions_closed_total", { task: event.task, outcome: event.outcome });
        this.#observe(
          "conclave_auction_seconds",
          { task: event.task },
          event.durationMs / 1000,
          DECISION_SECONDS_BUCKETS,
        );
        break;
      default:
        break;
    }
  }

  /** The value of one counter series; 0 if never counted. */
  get(name: string, labels: Record<string, string> = {}): number {
    return this.#counters.get(seriesKey(name, labels)) ?? 0;
  }

  /**
   * One histogram series: its bucket bounds with cumulative counts (the last
   * is `+Inf`), the sum and the count of observations; undefined if nothing
   * was observed.
   */
  histogram(
    name: string,
    labels: Record<string, string> = {},
  ): { buckets: { le: number; count: number }[]; sum: number; count: number } | undefined {
    const histogram = this.#histograms.get(seriesKey(name, labels));
    return histogram === undefined ? undefined : cumulative(histogram);
  }

  /** Sum of a counter over all its label sets. */
  total(name: string): number {
    let sum = 0;
    for (const [key, value] of this.#counters) {
      if (key === name || key.startsWith(`${name}{`)) sum += value;
    }
    return sum;
  }

  /** The Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const key of [...this.#counters.keys()].sort()) {
      const name = key.split("{")[0] as string;
      if (!seen.has(name)) {
        seen.add(name);
        lines.push(`# TYPE ${name} counter`);
      }
      lines.push(`${key} ${this.#counters.get(key)}`);
    }
    for (const key of [...this.#histograms.keys()].sort()) {
      const histogram = this.#histograms.get(key) as Histogram;
      const { name, labels } = histogram;
      if (!seen.has(name)) {
        seen.add(name);
        lines.push(`# TYPE ${name} histogram`);
      }
      const series = (suffix: string, le?: string) => {
        const all = [labels, le === undefined ? "" : `le="${le}"`].filter((l) => l !== "");
        return `${name}${suffix}${all.length === 0 ? "" : `{${all.join(",")}}`}`;
      };
      const { buckets, sum, count } = cumulative(histogram);
      for (const bucket of buckets) {
        const le = bucket.le === Number.POSITIVE_INFINITY ? "+Inf" : String(bucket.le);
        lines.push(`${series("_bucket", le)} ${bucket.count}`);
      }
      lines.push(`${series("_sum")} ${sum}`);
      lines.push(`${series("_count")} ${count}`);
    }
    return `${lines.join("\n")}\n`;
  }

  #observe(
    name: string,
    labels: Record<string, string>,
    value: number,
    buckets: readonly number[],
  ): void {
    const key = this.#key(name, labels);
    let histogram = this.#histograms.get(key);
    if (histogram === undefined) {
      const labelText = key.slice(name.length + 1, -1);
      histogram = {
        name,
        labels: labelText,
        buckets,
        counts: buckets.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.#histograms.set(key, histogram);
    }
    const index = buckets.findIndex((le) => value <= le);
    if (index >= 0) histogram.counts[index] = (histogram.counts[index] ?? 0) + 1;
    histogram.sum += value;
    histogram.count++;
  }

  readonly #keys = new Map<string, string>();

  /** `seriesKey`, remembered: the same few series are counted for every task. */
  #key(name: string, labels: Record<string, string>): string {
    let lookup = name;
    for (const k in labels) lookup += `\u0000${k}\u0001${labels[k]}`;
    let key = this.#keys.get(lookup);
    if (key === undefined) {
      key = seriesKey(name, labels);
      if (this.#keys.size >= KEY_CACHE_MAX) this.#keys.clear();
      this.#keys.set(lookup, key);
    }
    return key;
  }

  #inc(name: string, labels: Record<string, string>): void {
    this.#add(name, labels, 1);
  }

  #add(name: string, labels: Record<string, string>, amount: number): void {
    const key = this.#key(name, labels);
    this.#counters.set(key, (this.#counters.get(key) ?? 0) + amount);
  }
}

/**
 * A dead letter's reason as a label of a small set: the error class that
 * caused it (`ModelResponseError`, `UnapprovedActionError`…), `max_deliver`
 * for a task that failed its last delivery, `deadline` or `other`. Free text
 * would make one series per message.
 */
export function deadLetterReason(reason: string): string {
  const named = /^([A-Z][A-Za-z]*Error)\b/.exec(reason)?.[1];
  if (named !== undefined) return named;
  if (reason.startsWith("delivered ")) return "max_deliver";
  if (reason.startsWith("deadline passed")) return "deadline";
  return "other";
}

/** Series keys cached per call site's label values (each site passes its labels in one order). */
const KEY_CACHE_MAX = 10_000;

function seriesKey(name: string, labels: Record<string, string>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return name;
  const body = entries
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`))}"`)
    .join(",");
  return `${name}{${body}}`;
}

/** Cumulative bucket counts (the last bound `+Inf`), as Prometheus reports them. */
function cumulative(histogram: Histogram): {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
} {
  let running = 0;
  const buckets = histogram.buckets.map((le, i) => {
    running += histogram.counts[i] ?? 0;
    return { le, count: running };
  });
  buckets.push({ le: Number.POSITIVE_INFINITY, count: histogram.count });
  return { buckets, sum: histogram.sum, count: histogram.count };
}
