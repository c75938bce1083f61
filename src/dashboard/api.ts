/**
 * What the dashboard shows, as JSON: each method answers one `/api/…`
 * route, read from the swarm's shared store (so it is the same on every
 * node) and from the observing node's live registry (who is heard from).
 * Every list is bounded: the page gets aggregates and the latest rows,
 * never a whole table.
 */
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { DECISION_KIND } from "../consensus/audit-verify.js";
import { parseRuntimeProposal } from "../consensus/rule.js";
import type { Decision } from "../consensus/seal.js";
import { readAuditLog, verifyStoredAuditLog } from "../runtime/consensus/audit-log.js";
import type { Swarm } from "../runtime/swarm.js";
import { taskReport } from "../runtime/task-report.js";
import { TeamBook } from "../runtime/teams.js";
import type { Store } from "../store/port.js";
import type { Envelope } from "../wire/envelope.js";

/** Rows a list answers at most. */
const LIST_LIMIT = 200;
/** How long the overview's slow totals (dead letters, decisions, model spend) are reused. */
const SLOW_TOTALS_MS = 2_000;
/** Completions the delegation graph is drawn from (the latest). */
const GRAPH_SCAN = 5_000;
/** Ledger operations scanned for spend and task timelines. */
const LEDGER_SCAN = 100_000;

export interface AgentRow {
  readonly id: string;
  readonly role: string;
  readonly node?: string;
  /** `alive`, `suspect` as the registry hears it; `declared` when not heard from yet. */
  readonly liveness: string;
  /** `active`, `draining` or `halted`. */
  readonly status: string;
  readonly lastSeen?: number;
  readonly balance?: number;
  readonly reputation?: number;
  readonly weight: number;
  /** The team the agent is a member of (`teams:`), as its card says (or the swarm file, before it is heard). */
  readonly team?: string;
  /** That team's lead. */
  readonly lead?: string;
  /** The teams the agent leads. */
  readonly leads?: readonly string[];
}

export interface DecisionRow {
  readonly seq: number;
  readonly proposal: string;
  readonly action: string;
  readonly proposer: string;
  readonly protocol: string;
  readonly outcome: string;
  /** The sealed tally's figures; null for one that is not a number (a forged entry: Verify says where). */
  readonly tally: { readonly [K in keyof Decision["tally"]]: number | null };
  readonly votes: readonly {
    readonly from: string;
    readonly choice: string;
    readonly weight: number;
  }[];
  readonly seal: string;
  readonly decidedAt: number;
  readonly evidence: number;
}

export class DashboardApi {
  readonly #swarm: Swarm;
  readonly #config: SwarmFile;
  #slow:
    | {
        readonly at: number;
        readonly value: Promise<{
          deadLettered: number;
          decisions: number;
          llm: { calls: number; credits: number };
        }>;
      }
    | undefined;

  constructor(swarm: Swarm, config: SwarmFile) {
    this.#swarm = swarm;
    this.#config = config;
  }

  get #store(): Store {
    return this.#swarm.store;
  }

  /** The numbers at the top of the page: they change as the swarm works. */
  async overview() {
    const store = this.#store;
    const [completed, auctions, slow] = await Promise.all([
      store.completedCount(),
      store.auctionStats(),
      this.#slowTotals(),
    ]);
    const heard = this.#swarm.registry.find();
    return {
      swarm: this.#config.swarm,
      transport: this.#config.transport.split("://")[0],
      agents: {
        declared: this.#config.agents.length,
        alive: heard.filter((a) => a.liveness === "alive").length,
      },
      tasks: { completed, deadLettered: slow.deadLettered },
      decisions: slow.decisions,
      auctions,
      llm: slow.llm,
      at: Date.now(),
    };
  }

  /**
   * The overview's totals that need whole lists read (dead letters, the
   * audit log, the model fees): read at most every `SLOW_TOTALS_MS`, shared
   * by the overview pushed every second, rather than re-read each time.
   */
  #slowTotals() {
    const now = Date.now();
    if (this.#slow === undefined || now - this.#slow.at >= SLOW_TOTALS_MS) {
      const store = this.#store;
      const value = Promise.all([
        store.deadLetters({ limit: 100_000 }),
        readAuditLog(store),
        this.#spend(),
      ]).then(([dead, audit, spend]) => ({
        deadLettered: dead.length,
        decisions: audit.filter((r) => r.kind === DECISION_KIND).length,
        llm: spend.totals,
      }));
      // A failed read is tried again next time, not kept.
      value.catch(() => {
        if (this.#slow?.value === value) this.#slow = undefined;
      });
      this.#slow = { at: now, value };
    }
    return this.#slow.value;
  }

  /** Every declared agent and every agent heard from, with balance and reputation. */
  async agents(): Promise<AgentRow[]> {
    const store = this.#store;
    const heard = new Map(this.#swarm.registry.find().map((e) => [e.card.id, e]));
    const declared = new Map(this.#config.agents.map((a) => [a.id, a]));
    const ids = [...new Set([...declared.keys(), ...heard.keys()])].sort();
    const balances = new Map((await store.balances()).map((b) => [b.account, b.balance]));
    const reputations = new Map((await store.reputations(ids)).map((r) => [r.agent, r.score]));
    const teams = new TeamBook(
      this.#config.swarm,
      this.#config.teams,
      (id) => declared.get(id)?.role,
      () => [],
    );
    return ids.map((id) => {
      const entry = heard.get(id);
      const decl = declared.get(id);
      // The card is what the agent signed; before it is heard, the swarm file says.
      const placement =
        entry === undefined
          ? teams.placement(id, decl?.role ?? "")
          : { ...entry.card, leads: entry.card.leads ?? [] };
      const balance = balances.get(`agent:${id}`);
      const reputation = reputations.get(id);
      return {
        id,
        role: entry?.card.role ?? decl?.role ?? "?",
        ...(entry?.card.node === undefined ? {} : { node: entry.card.node }),
        liveness: entry?.liveness ?? "declared",
        // Not heard yet: the ledger says whether it would be halted.
        status:
          entry?.card.status ??
          (decl?.budget !== undefined && balance !== undefined && balance < decl.budget.minBalance
            ? "halted"
            : "active"),
        ...(entry === undefined ? {} : { lastSeen: entry.lastSeen }),
        ...(balance === undefined ? {} : { balance }),
        ...(reputation === undefined ? {} : { reputation }),
        weight: entry?.card.weight ?? decl?.weight ?? 1,
        ...(placement.team === undefined ? {} : { team: placement.team }),
        ...(placement.lead === undefined ? {} : { lead: placement.lead }),
        ...(placement.leads.length === 0 ? {} : { leads: placement.leads }),
      };
    });
  }

  /**
   * Each queue's depth and in-flight count as the broker reports them, with
   * the dead letters recorded from it.
   */
  async queues() {
    const [queues, dead] = await Promise.all([
      this.#swarm.queues(),
      this.#store.deadLetters({ limit: 100_000 }),
    ]);
    const swarm = this.#config.swarm;
    const deadByRole = new Map<string, number>();
    for (const d of dead) {
      const role = d.subject.startsWith(`${swarm}.task.`) ? d.subject.split(".")[2] : undefined;
      if (role !== undefined) deadByRole.set(role, (deadByRole.get(role) ?? 0) + 1);
    }
    return queues.map((q) => {
      const role = q.name.startsWith(`${swarm}-task-`)
        ? q.name.slice(`${swarm}-task-`.length)
        : undefined;
      return {
        ...q,
        ...(role === undefined ? {} : { role, deadLetters: deadByRole.get(role) ?? 0 }),
      };
    });
  }

  /**
   * Who delegates to whom: for the latest completions, an edge from the
   * agent that sent each task to the agent that handled it, counted.
   */
  async graph() {
    const latest = await this.#store.latestCompletions({ limit: GRAPH_SCAN });
    const edges = new Map<string, { from: string; to: string; tasks: number }>();
    for (const c of latest) {
      if (c.sender === undefined) continue;
      const key = `${c.sender}\u0000${c.agent}`;
      const edge = edges.get(key) ?? { from: c.sender, to: c.agent, tasks: 0 };
      edge.tasks++;
      edges.set(key, edge);
    }
    const roles = new Map(this.#config.agents.map((a) => [a.id, a.role]));
    for (const e of this.#swarm.registry.find()) roles.set(e.card.id, e.card.role);
    const nodes = [...new Set([...edges.values()].flatMap((e) => [e.from, e.to]))].sort();
    return {
      scanned: latest.length,
      nodes: nodes.map((id) => ({ id, role: roles.get(id) ?? "?" })),
      edges: [...edges.values()].sort((a, b) => b.tasks - a.tasks),
    };
  }

  /** The latest dead letters, newest first, with their reasons. */
  async deadLetters() {
    const all = await this.#store.deadLetters({ limit: 100_000 });
    return all
      .slice(-LIST_LIMIT)
      .reverse()
      .map(({ data: _raw, ...row }) => row);
  }

  /** The latest completed tasks, newest first. */
  tasks() {
    return this.#store.latestCompletions({ limit: LIST_LIMIT });
  }

  /** Sealed decisions, newest first: each vote with its signer and weight, the tally, the seal. */
  async decisions(): Promise<DecisionRow[]> {
    const records = await readAuditLog(this.#store);
    const weights = new Map(this.#config.agents.map((a) => [a.id, a.weight]));
    return records
      .filter((r) => r.kind === DECISION_KIND)
      .slice(-LIST_LIMIT)
      .reverse()
      .map((r) => {
        // As stored, not verified yet: an entry of another shape (a forged
        // one) is listed with what it holds, for Verify to name, rather than
        // failing the whole list.
        const d = (isRecord(r.data) ? r.data : {}) as Partial<Record<keyof Decision, unknown>>;
        const p = isRecord(d.proposal) ? d.proposal : {};
        const action = text(p["action"]);
        // The weight each voter had in this round, as its proposal's rule
        // recorded it (an agent admitted by credential, a person included).
        const proposal = parseRuntimeProposal(d.proposal);
        const counted = new Map(
          typeof proposal === "string" ? [] : proposal.rule.voters.map((v) => [v.id, v.weight]),
        );
        // A person's vote weighs what this action's rule gives them, not an agent's default.
        const rule = Object.hasOwn(this.#config.privileged, action)
          ? this.#config.privileged[action]
          : undefined;
        const people = new Map((rule?.humans ?? []).map((h) => [h.id, h.weight]));
        const votes = (Array.isArray(d.votes) ? d.votes : []).filter(
          (v): v is Envelope => isRecord(v) && v["type"] === "consensus.vote",
        );
        return {
          seq: r.seq,
          proposal: text(p["id"]),
          action,
          proposer: text(p["proposer"]),
          protocol: text(d.protocol),
          outcome: text(d.outcome),
          tally: figures(d.tally as Decision["tally"]),
          votes: votes.map((v) => {
            const from = text(v.from);
            const body = isRecord(v.body) ? v.body : {};
            return {
              from,
              choice: String(body["choice"] ?? "?"),
              weight: counted.get(from) ?? people.get(from) ?? weights.get(from) ?? 1,
            };
          }),
          seal: text(d.seal),
          decidedAt: typeof d.decidedAt === "number" ? d.decidedAt : 0,
          evidence: Array.isArray(d.evidence) ? d.evidence.length : 0,
        };
      });
  }

  /**
   * Verifies the audit log up to and including decision `seq`, as `conclave
   * audit verify` does the whole log: every seal, link, signature and tally.
   * Undefined when the log holds no decision at `seq`.
   */
  async verify(seq: number) {
    const [entry] = await this.#store.auditLog({ fromSeq: seq, limit: 1 });
    if (entry?.seq !== seq || entry.kind !== DECISION_KIND) return undefined;
    const verdict = await verifyStoredAuditLog(this.#store, this.#config);
    if (verdict.ok || verdict.seq > seq) {
      return { ok: true, seq, entries: verdict.entries, decisions: verdict.decisions };
    }
    return { ok: false, seq: verdict.seq, reason: verdict.reason };
  }

  /** Proposals waiting for people's votes: what they would do, who may vote, until when. */
  approvals() {
    return this.#swarm.awaitingHumans().map(({ proposal, humans }) => ({
      proposal: proposal.id,
      action: proposal.action,
      data: proposal.data,
      proposer: proposal.proposer,
      deadline: proposal.deadline,
      threshold: proposal.rule.threshold,
      humans: humans.map((h) => ({ id: h.id, weight: h.weight })),
      agents: proposal.rule.voters.filter((v) => v.role !== "human").map((v) => v.id),
    }));
  }

  /** The latest auctions: bids, refusals, the winner and the price. */
  auctions() {
    return this.#store.auctions({ limit: LIST_LIMIT });
  }

  /** Balances, escrow, and model spend over time (per minute, per model). */
  async ledger() {
    const balances = await this.#store.balances();
    const spend = await this.#spend();
    return {
      // Settled escrows stay as empty accounts: show what holds credits.
      balances: balances.filter(
        (b) => b.account !== "world" && (b.balance !== 0 || b.account.startsWith("agent:")),
      ),
      escrow: balances
        .filter((b) => b.account.startsWith("escrow:"))
        .reduce((sum, b) => sum + b.balance, 0),
      models: spend.models,
      series: spend.series,
    };
  }

  /**
   * One task, as `conclave tasks show` reports it: outcome, steps, effects,
   * charges, and — for a root — every task it caused, each with who sent it
   * and which task caused it (the page draws the tree). Undefined when the
   * store never heard of it.
   */
  task(taskId: string) {
    return taskReport(this.#store, taskId);
  }

  async #spend() {
    const fees = await this.#store.ledgerOperations({ kind: "fee", limit: LEDGER_SCAN });
    // A Map, not an object: a model is named by a stored memo, and the names
    // `__proto__` or `constructor` would sum into Object.prototype or Object.
    const models = new Map<string, { calls: number; credits: number; tokens: number }>();
    const points: { at: number; model: string; fee: number }[] = [];
    let calls = 0;
    let credits = 0;
    for (const op of fees) {
      if (op.memo["kind"] !== "llm") continue;
      const fee = -(
        op.entries.find((e) => e.delta < 0 && e.account.startsWith("agent:"))?.delta ?? 0
      );
      const model = String(op.memo["model"] ?? "(unknown)");
      const line = models.get(model) ?? { calls: 0, credits: 0, tokens: 0 };
      line.calls++;
      line.credits += fee;
      line.tokens += Number(op.memo["inputTokens"] ?? 0) + Number(op.memo["outputTokens"] ?? 0);
      models.set(model, line);
      points.push({ at: op.at, model, fee });
      calls++;
      credits += fee;
    }
    return {
      totals: { calls, credits },
      // fromEntries defines each name as an own key, `__proto__` included.
      models: Object.fromEntries(models),
      series: cumulative(points, [...models.keys()]),
    };
  }
}

/**
 * A decision's tally as the page draws it: its figures, each a number (or
 * null). The audit log is read as stored, before anyone verified it, and a
 * figure the page puts in a bar's width or a line of text must not be
 * markup a coordinator wrote.
 */
function figures(tally: Decision["tally"]): DecisionRow["tally"] {
  const figure = (value: unknown) =>
    typeof value === "number" && Number.isFinite(value) ? value : null;
  const t = (tally ?? {}) as Partial<Record<keyof Decision["tally"], unknown>>;
  return {
    approve: figure(t.approve),
    reject: figure(t.reject),
    abstain: figure(t.abstain),
    threshold: figure(t.threshold),
    total: figure(t.total),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A stored field the page shows as text: itself when it is a string, `?` otherwise. */
function text(value: unknown): string {
  return typeof value === "string" ? value : "?";
}

/** Samples in a spend series: enough for a smooth chart, few enough for a page. */
const SAMPLES = 60;

/**
 * Cumulative spend per model at `SAMPLES` evenly spaced times from the first
 * charge to the last: a chart that reads the same for a run of seconds or of
 * days.
 */
function cumulative(
  points: readonly { at: number; model: string; fee: number }[],
  models: readonly string[],
): { at: number; byModel: Record<string, number> }[] {
  if (points.length === 0) return [];
  const sorted = [...points].sort((a, b) => a.at - b.at);
  const first = sorted[0]?.at ?? 0;
  const span = Math.max(1, (sorted[sorted.length - 1]?.at ?? first) - first);
  const totals = new Map(models.map((m) => [m, 0]));
  const series: { at: number; byModel: Record<string, number> }[] = [];
  let i = 0;
  for (let k = 0; k <= SAMPLES; k++) {
    const at = first + (span * k) / SAMPLES;
    for (; i < sorted.length && (sorted[i]?.at ?? 0) <= at; i++) {
      const p = sorted[i];
      if (p) totals.set(p.model, (totals.get(p.model) ?? 0) + p.fee);
    }
    series.push({ at: Math.round(at), byModel: Object.fromEntries(totals) });
  }
  return series;
}
