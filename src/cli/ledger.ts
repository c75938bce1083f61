import { redactUrl } from "../config/redact.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { systemClock } from "../core/clock.js";
import {
  agentAccount,
  InvalidAmountError,
  parseAmount,
  type SpendLine,
  type SpendReport,
  summarizeSpend,
  WORLD,
} from "../ledger/index.js";
import { fundAgent as fundAgentAccount } from "../runtime/budget.js";
import { workloadProgress } from "../runtime/workload.js";
import type { Store } from "../store/port.js";
import { agentIdPattern } from "../wire/envelope.js";
import { openStoreTarget, resolveStoreTarget, type StoreTarget } from "./store-target.js";

/** The report `conclave ledger show` prints. */
export interface LedgerReport {
  readonly accounts: { account: string; balance: number }[];
  readonly escrow: number;
  /**
   * Escrow accounts holding credits for no live task: a hold made outside
   * the commit of the task it pays for (what versions before holds committed
   * with their tasks left behind when the delegating handler failed), or one
   * whose task was dead-lettered without the refund. Delegations, gateway
   * tasks and auction awards are judged (an award's hold only when it
   * commits with its task, which it names: one another agent pays is held
   * at the award); call holds of model and tool calls (`llm:`) are not.
   */
  readonly strandedEscrow: { account: string; balance: number; reason: string }[];
  /** Credits charged as fees, by agent, by model (`(tool)`-style for fees without one) and by role. */
  readonly spend: {
    readonly total: number;
    readonly agents: SpendReport["agents"];
    readonly models: SpendReport["models"];
    readonly roles: Readonly<Record<string, SpendLine>>;
  };
  /** Model calls charged (`llm` fees) and what they cost per completed task. */
  readonly llm: {
    readonly calls: number;
    readonly credits: number;
    readonly tokens: number;
    readonly completedTasks: number;
    /** Credits per completed task; null before any task completed. */
    readonly perCompletedTask: number | null;
  };
  /**
   * Agents below their budget's minimum balance: halted, they take no work
   * until funded (`ledger fund`). Null when the swarm file (where minimums
   * are set) is not known.
   */
  readonly halted: { agent: string; balance: number; minBalance: number }[] | null;
  readonly minted: number;
  readonly sum: number;
  readonly negative: string[];
  readonly consistent: boolean;
}

/** What {@link ledgerReport} reads besides the store. */
export interface LedgerReportOptions {
  /** The swarm file, for the agents' minimum balances. */
  readonly config?: SwarmFile;
  /** Keep escrow accounts that hold nothing (settled delegations). Default false. */
  readonly all?: boolean;
}

export async function ledgerReport(
  store: Store,
  options: LedgerReportOptions = {},
): Promise<LedgerReport> {
  const balances = await store.balances();
  const check = await store.ledgerCheck();
  const fees = await store.ledgerOperations({ kind: "fee", limit: 1_000_000 });
  const spend = summarizeSpend(fees);
  const llm = summarizeSpend(fees.filter((op) => op.memo["kind"] === "llm"));
  // Roles as the swarm file declares them, else as the agents' stored cards say.
  const roleOf = new Map<string, string>();
  for (const stored of await store.agentCards()) {
    const role = (stored.card as { role?: unknown }).role;
    if (typeof role === "string") roleOf.set(stored.id, role);
  }
  for (const agent of options.config?.agents ?? []) roleOf.set(agent.id, agent.role);
  // A Map: a role may be named like an Object member (`constructor`).
  const byRole = new Map<string, SpendLine>();
  for (const [agent, line] of Object.entries(spend.agents)) {
    const role = roleOf.get(agent) ?? "(unknown)";
    const had = byRole.get(role);
    byRole.set(
      role,
      had
        ? {
            credits: had.credits + line.credits,
            operations: had.operations + line.operations,
            units: had.units + line.units,
          }
        : line,
    );
  }
  const roles: Record<string, SpendLine> = Object.fromEntries(byRole);
  const { completed } = await workloadProgress(store);
  const llmCalls = Object.values(llm.models).reduce((n, l) => n + l.operations, 0);
  const llmTokens = Object.values(llm.models).reduce((n, l) => n + l.units, 0);
  const balanceOf = new Map(balances.map((b) => [b.account, b.balance]));
  const halted =
    options.config === undefined
      ? null
      : options.config.agents.flatMap((a) => {
          if (a.budget === undefined) return [];
          const balance = balanceOf.get(agentAccount(a.id)) ?? 0;
          return balance < a.budget.minBalance
            ? [{ agent: a.id, balance, minBalance: a.budget.minBalance }]
            : [];
        });
  return {
    strandedEscrow: await strandedEscrow(store, balances),
    // Settled escrows stay as empty accounts: listed only when asked for.
    accounts: balances.filter(
      (b) =>
        b.account !== WORLD &&
        (options.all === true || !b.account.startsWith("escrow:") || b.balance !== 0),
    ),
    escrow: balances
      .filter((b) => b.account.startsWith("escrow:"))
      .reduce((s, b) => s + b.balance, 0),
    spend: { total: spend.total, agents: spend.agents, models: spend.models, roles },
    llm: {
      calls: llmCalls,
      credits: llm.total,
      tokens: llmTokens,
      completedTasks: completed,
      perCompletedTask: completed === 0 ? null : Math.round((llm.total / completed) * 100) / 100,
    },
    halted,
    minted: check.minted,
    sum: check.sum,
    negative: check.negative,
    consistent:
      check.sum === check.minted &&
      check.negative.length === 0 &&
      check.mismatched.length === 0 &&
      check.unbalanced.length === 0,
  };
}

/** Holds this report judges: not model or tool calls. */
const JUDGED_ESCROW = /^escrow:(?!llm:)/;
/** An auction award's escrow: judged only when its hold names its task (held at the award, it cannot). */
const AUCTION_ESCROW = /^escrow:auction-/;
/** A gateway task's escrow: `gateway.<task id>`. */
const GATEWAY_ESCROW = /^escrow:gateway\.(.+)$/;

async function strandedEscrow(
  store: Store,
  balances: readonly { account: string; balance: number }[],
): Promise<LedgerReport["strandedEscrow"]> {
  const held = balances.filter((b) => b.balance > 0 && JUDGED_ESCROW.test(b.account));
  if (held.length === 0) return [];
  const sentBy = new Map<string, string | undefined>();
  for (const op of await store.ledgerOperations({ kind: "hold", limit: 1_000_000 })) {
    const into = op.entries.find((e) => e.delta > 0)?.account;
    if (into === undefined) continue;
    const sent = op.memo["sent"];
    sentBy.set(into, typeof sent === "string" ? sent : undefined);
  }
  const stranded: LedgerReport["strandedEscrow"] = [];
  for (const { account, balance } of held) {
    // A gateway hold of an earlier version names no task, but its key does.
    const sent = sentBy.get(account) ?? GATEWAY_ESCROW.exec(account)?.[1];
    if (sent === undefined && AUCTION_ESCROW.test(account)) continue;
    if (sent === undefined) {
      stranded.push({ account, balance, reason: "held outside the commit of any task" });
      continue;
    }
    const outcome = await store.taskOutcome(sent);
    if (outcome?.status === "dead_lettered") {
      stranded.push({ account, balance, reason: `its task ${sent} was dead-lettered` });
    }
  }
  return stranded;
}

/** `conclave ledger show`: never creates a store. Exit 0 when the ledger is consistent, 1 otherwise. */
export async function showLedger(target: StoreTarget, json: boolean, all = false): Promise<number> {
  const { store, resolved } = await openStoreTarget(target, { create: false });
  try {
    const r = await ledgerReport(store, {
      all,
      ...(resolved.config === undefined ? {} : { config: resolved.config }),
    });
    if (json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
    } else {
      const where = target.store || !target.swarm ? redactUrl(resolved.url) : target.swarm;
      const lines = [
        `ledger of ${where}: ${r.consistent ? "consistent" : "INCONSISTENT"}`,
        `  minted ${r.minted}, sum of accounts ${r.sum}, in escrow ${r.escrow}`,
        "  accounts",
      ];
      for (const a of r.accounts) lines.push(`    ${a.account.padEnd(28)}${a.balance}`);
      if (r.strandedEscrow.length > 0) {
        lines.push(
          "  escrow with no live task (credits no delegation will settle; fund the delegator again with conclave ledger fund)",
        );
        for (const e of r.strandedEscrow) {
          lines.push(`    ${e.account.padEnd(28)}${e.balance}  ${e.reason}`);
        }
      }
      if (r.halted === null) {
        lines.push("  halted agents: unknown without the swarm file (pass --swarm)");
      } else if (r.halted.length === 0) {
        lines.push("  halted agents: none");
      } else {
        lines.push(
          "  halted agents (below their minimum balance; conclave ledger fund resumes them)",
        );
        for (const h of r.halted) {
          lines.push(`    ${h.agent.padEnd(28)}${h.balance} < minimum ${h.minBalance}`);
        }
      }
      for (const [title, by] of [
        ["agent", r.spend.agents],
        ["role", r.spend.roles],
        ["model", r.spend.models],
      ] as const) {
        lines.push(`  spend by ${title}`);
        for (const [name, line] of Object.entries(by).sort()) {
          lines.push(
            `    ${name.padEnd(28)}${String(line.credits).padStart(10)} credits  ${line.operations} fees  ${line.units} units`,
          );
        }
      }
      if (r.llm.calls > 0) {
        const per =
          r.llm.perCompletedTask === null
            ? "no task completed yet"
            : `${r.llm.perCompletedTask} credits per completed task (${r.llm.completedTasks})`;
        lines.push(
          `  model calls ${r.llm.calls}, ${r.llm.tokens} tokens, ${r.llm.credits} credits: ${per}`,
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return r.consistent ? 0 : 1;
  } finally {
    await store.close();
  }
}

/** `conclave ledger fund <agent> <amount>`: mints credits to an agent (a halted agent resumes). */
export async function fundAgent(
  target: StoreTarget,
  agent: string,
  amount: string,
  json: boolean,
): Promise<number> {
  const usage = (message: string) => {
    process.stderr.write(`conclave: ${message}\n`);
    return 2;
  };
  let credits: number;
  try {
    credits = parseAmount(amount);
  } catch (error) {
    if (error instanceof InvalidAmountError) return usage(error.message);
    throw error;
  }
  // Only an agent's account is funded: not world (where credits come from), nor an escrow.
  if (!agentIdPattern.test(agent) || agent === WORLD) {
    return usage(
      `"${agent}" is not an agent id; ledger fund credits an agent of the swarm (its id as in the swarm file), never world or an escrow account`,
    );
  }
  const resolved = await resolveStoreTarget(target);
  const agents = resolved.config?.agents.map((a) => a.id);
  if (agents !== undefined && !agents.includes(agent)) {
    return usage(
      `"${agent}" is not an agent of swarm ${resolved.config?.swarm}; its agents are: ${agents.join(", ")}`,
    );
  }
  // Funding before a swarm's first run is allowed, so with a swarm file (whose
  // agents were checked above) this one may create the store. A bare --store
  // must exist: nothing checks the id against a swarm there, and a mistyped
  // path would otherwise become a new store holding the credits.
  const { store } = await openStoreTarget(target, { create: resolved.config !== undefined });
  try {
    const id = await fundAgentAccount(store, agent, credits, "conclave ledger fund", systemClock);
    const balance = await store.balance(agentAccount(agent));
    process.stdout.write(
      json
        ? `${JSON.stringify({ agent, operation: id, balance })}\n`
        : `funded ${agent}: balance ${balance}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
