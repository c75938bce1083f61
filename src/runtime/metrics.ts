import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
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

/** The counters a node keeps: name → its help text and label names. */
const COUNTERS = {
  conclave_tasks_submitted_total: ["Tasks submitted to a role.", ["role", "task"]],
  conclave_tasks_completed_total: ["Tasks an agent completed.", ["agent", "task"]],
  conclave_tasks_total: [
    "Tasks handled, by outcome (completed, failed).",
    ["role", "task", "outcome"],
  ],
  conclave_tasks_failed_total: [
    "Task attempts that failed, and whether they will be retried.",
    ["agent", "task", "retry"],
  ],
  conclave_tasks_duplicate_total: [
    "Deliveries of a task already handled (acknowledged, not run again).",
    ["agent"],
  ],
  conclave_tasks_dead_lettered_total: ["Tasks moved to the dead-letter queue.", []],
  conclave_dead_letters_total: [
    "Tasks moved to the dead-letter queue, by the class of their reason.",
    ["reason"],
  ],
  conclave_consensus_late_votes_total: [
    "Votes that arrived after their round closed (kept, not counted).",
    ["choice"],
  ],
  conclave_llm_calls_total: [
    "Model calls, and whether the answer was replayed from the step journal.",
    ["model", "replayed"],
  ],
  conclave_llm_tokens_total: [
    "Model tokens paid for, by kind (input, output, cached).",
    ["model", "kind"],
  ],
  conclave_llm_cost_credits_total: ["Credits charged for model calls.", ["model"]],
  conclave_messages_rejected_total: [
    "Messages refused on arrival (bad signature, replay, unknown signer...), by error code.",
    ["code"],
  ],
  conclave_agent_crashes_total: ["Agent handler crashes.", ["agent"]],
  conclave_agents_gave_up_total: [
    "Agents whose supervisor gave up restarting them (too many crashes a minute): they take no work.",
    ["agent"],
  ],
  conclave_registry_events_total: [
    "Membership changes seen (agent.joined, agent.suspect, agent.left).",
    ["event"],
  ],
  conclave_errors_total: ["Errors the node reported as events.", []],
  conclave_consensus_proposals_total: [
    "Consensus rounds opened by this node.",
    ["action", "protocol"],
  ],
  conclave_consensus_votes_total: ["Votes cast by the agents this node hosts.", ["choice"]],
  conclave_consensus_byzantine_total: ["Pieces of Byzantine evidence a round refused.", ["kind"]],
  conclave_consensus_decisions_total: [
    "Consensus rounds decided, by action and outcome.",
    ["action", "protocol", "outcome"],
  ],
  conclave_consensus_rounds_total: [
    "Consensus rounds decided, by protocol and outcome.",
    ["protocol", "outcome"],
  ],
  conclave_auctions_opened_total: ["Auctions opened by this node.", ["task", "rule"]],
  conclave_auction_bids_rejected_total: ["Bids refused, by typed reason.", ["reason"]],
  conclave_auctions_closed_total: ["Auctions closed, by outcome.", ["task", "outcome"]],
  conclave_pool_scaled_total: [
    "Scalings of an autoscaling pool hosted here.",
    ["role", "direction", "reason"],
  ],
  conclave_agents_reassigned_total: [
    "Role slots handed to another agent, by reason.",
    ["role", "reason"],
  ],
} as const satisfies Record<string, readonly [string, readonly string[]]>;

/** The histograms a node keeps: name → help text, label names, bucket bounds (seconds). */
const HISTOGRAMS = {
  conclave_task_duration_seconds: ["Time to handle a task.", ["task"], TASK_SECONDS_BUCKETS],
  conclave_llm_call_seconds: ["Latency of a model call.", ["model"], TASK_SECONDS_BUCKETS],
  conclave_consensus_decision_seconds: [
    "Time from a proposal to its decision.",
    ["protocol"],
    DECISION_SECONDS_BUCKETS,
  ],
  conclave_auction_seconds: [
    "Time from a call for proposals to its award.",
    ["task"],
    DECISION_SECONDS_BUCKETS,
  ],
} as const satisfies Record<string, readonly [string, readonly string[], readonly number[]]>;

type CounterName = keyof typeof COUNTERS;
type HistogramName = keyof typeof HISTOGRAMS;
type Labels = Record<string, string>;

/**
 * Counters and histograms of what a node observed, named the Prometheus way
 * (`conclave_*_total`, `*_seconds`), kept in a prom-client `Registry` of the
 * node's own (two swarms in one process never mix their series). Fed from
 * the swarm's events, so every rejected or dead-lettered message is counted
 * whatever its path.
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
 *
 * Gauges read at each scrape (balances, escrow, queue depths) and the
 * process's own metrics are added by the metrics endpoint
 * (`metrics-server.ts`).
 */
export class SwarmMetrics {
  /** The node's registry: what `/metrics` renders. */
  readonly registry = new Registry();
  readonly #counters = new Map<string, Counter>();
  readonly #histograms = new Map<string, Histogram>();
  #processMetrics = false;

  constructor() {
    for (const [name, [help, labelNames]] of Object.entries(COUNTERS)) {
      const counter = new Counter({ name, help, labelNames, registers: [this.registry] });
      this.#counters.set(name, counter);
    }
    for (const [name, [help, labelNames, buckets]] of Object.entries(HISTOGRAMS)) {
      const histogram = new Histogram({
        name,
        help,
        labelNames,
        buckets: [...buckets],
        registers: [this.registry],
      });
      this.#histograms.set(name, histogram);
    }
  }

  /**
   * Adds the process's standard metrics (CPU, memory, event-loop lag, GC:
   * `process_*`, `nodejs_*`) to the registry, once. Called by the metrics
   * endpoint, so a swarm nobody scrapes pays nothing for them.
   */
  includeProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

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
        // The choice is what the voter signed, unchecked: a label from a small set.
        this.#inc("conclave_consensus_late_votes_total", { choice: voteChoice(event.choice) });
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
        this.#observe("conclave_llm_call_seconds", model, event.latencyMs / 1000);
        break;
      }
      case "message.rejected":
        this.#inc("conclave_messages_rejected_total", { code: event.code });
        break;
      case "agent.crashed":
        this.#inc("conclave_agent_crashes_total", { agent: event.agent });
        break;
      case "agent.gave_up":
        // The crash that made the supervisor give up is a crash too (it is
        // reported as this event, not as agent.crashed).
        this.#inc("conclave_agent_crashes_total", { agent: event.agent });
        this.#inc("conclave_agents_gave_up_total", { agent: event.agent });
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
        this.#observe("conclave_auction_seconds", { task: event.task }, event.durationMs / 1000);
        break;
      default:
        break;
    }
  }

  /** The value of one counter series; 0 if never counted. */
  async get(name: string, labels: Labels = {}): Promise<number> {
    const counter = this.#counters.get(name);
    if (counter === undefined) return 0;
    const { values } = await counter.get();
    return values.find((v) => sameLabels(v.labels, labels))?.value ?? 0;
  }

  /**
   * One histogram series: its bucket bounds with cumulative counts (the last
   * is `+Inf`), the sum and the count of observations; undefined if nothing
   * was observed.
   */
  async histogram(
    name: string,
    labels: Labels = {},
  ): Promise<{ buckets: { le: number; count: number }[]; sum: number; count: number } | undefined> {
    const histogram = this.#histograms.get(name);
    if (histogram === undefined) return undefined;
    const { values } = await histogram.get();
    const mine = values.filter((v) => {
      const { le: _le, ...rest } = v.labels as Labels;
      return sameLabels(rest, labels);
    });
    const count = mine.find((v) => v.metricName === `${name}_count`)?.value;
    if (count === undefined || count === 0) return undefined;
    const buckets = mine
      .filter((v) => v.metricName === `${name}_bucket`)
      .map((v) => ({
        le: Number(v.labels["le"] === "+Inf" ? Infinity : v.labels["le"]),
        count: v.value,
      }));
    const sum = mine.find((v) => v.metricName === `${name}_sum`)?.value ?? 0;
    return { buckets, sum, count };
  }

  /** Sum of a counter over all its label sets. */
  async total(name: string): Promise<number> {
    const counter = this.#counters.get(name);
    if (counter === undefined) return 0;
    const { values } = await counter.get();
    return values.reduce((sum, v) => sum + v.value, 0);
  }

  /** The Prometheus text exposition format of the registry. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  // prom-client throws on a value that is not a finite number (and a
  // counter on a negative one); a bad figure in one event is skipped, it
  // must not fail the code that emitted it.
  #observe(name: HistogramName, labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    (this.#histograms.get(name) as Histogram).observe(labels, value);
  }

  #inc(name: CounterName, labels: Labels): void {
    this.#add(name, labels, 1);
  }

  #add(name: CounterName, labels: Labels, amount: number): void {
    if (!Number.isFinite(amount) || amount < 0) return;
    (this.#counters.get(name) as Counter).inc(labels, amount);
  }
}

/** Whether a series' labels are exactly `wanted`. */
function sameLabels(actual: Partial<Record<string, string | number>>, wanted: Labels): boolean {
  const keys = Object.keys(actual);
  if (keys.length !== Object.keys(wanted).length) return false;
  return keys.every((k) => String(actual[k]) === wanted[k]);
}

const VOTE_CHOICES: ReadonlySet<string> = new Set(["approve", "reject", "abstain"]);

/** A vote's choice as a label: `approve`, `reject`, `abstain`, or `other` for anything else a voter signed. */
export function voteChoice(choice: string): string {
  return VOTE_CHOICES.has(choice) ? choice : "other";
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
