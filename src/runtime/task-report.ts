/**
 * Everything the store knows about one task, in one report: its outcome
 * (result or dead-letter reason), the root it descends from, the tasks that
 * descend from it (for a root: every task with its `corr`, each with who
 * sent it and which task caused it), the steps it journaled, the effects
 * its completion applied, its dead letter, and the ledger operations
 * charged to it. What `conclave tasks show` prints and the dashboard's task
 * timeline shows. Reads only.
 */
import type { LedgerOperation } from "../ledger/operations.js";
import type { DeadLetterRecord, EffectRecord, Store } from "../store/port.js";
import { isUlid, ulidTime } from "../wire/ulid.js";
import { ROOT_SUBMITTED } from "./context.js";

/** A task descending from the one shown (same root). */
export interface DescendantLine {
  readonly taskId: string;
  readonly status: "completed" | "dead_lettered";
  readonly at: number;
  readonly agent?: string;
  readonly type?: string;
  readonly reason?: string;
  /** The task that caused it directly, and the agent that sent it (completions since 006-lineage). */
  readonly cause?: string;
  readonly sender?: string;
}

/** What `tasks show --json` prints: one object. */
export interface TaskReport {
  readonly taskId: string;
  readonly status: "completed" | "dead_lettered" | "pending";
  /** Role and task type, when the store recorded them (roots, dead letters). */
  readonly role?: string;
  readonly type?: string;
  /** The root task it descends from; itself for a root. */
  readonly root?: string;
  readonly isRoot: boolean;
  readonly agent?: string;
  readonly at?: number;
  readonly result?: unknown;
  readonly reason?: string;
  /** Deliveries counted: from the dead letter, or the highest attempt that was charged. */
  readonly attempts?: number;
  readonly steps: readonly { position: number; name: string; at: number }[];
  readonly effects: readonly Omit<EffectRecord, "taskId">[];
  readonly deadLetter?: Omit<DeadLetterRecord, "data">;
  /** Tasks with the same root, other than this one (only listed for a root). */
  readonly descendants: readonly DescendantLine[];
  readonly ledger: readonly LedgerOperation[];
}

/** How many ledger operations and completions a report reads at most. */
const SCAN = 100_000;

/**
 * How long before its id's time a task's first ledger operation may be
 * stamped: nodes' clocks may differ (30 s at most before a node stops taking
 * tasks), so some margin over that.
 */
const CLOCK_MARGIN_MS = 5 * 60_000;

/**
 * Where to start reading the ledger (oldest first) for `taskId`: its
 * operations all come after its id (a ULID) was made. Without this, a
 * ledger of more than {@link SCAN} operations hid every recent task's.
 */
function ledgerRead(taskId: string): { limit: number; since?: number } {
  return isUlid(taskId)
    ? { limit: SCAN, since: Math.max(0, ulidTime(taskId) - CLOCK_MARGIN_MS) }
    : { limit: SCAN };
}

/** Whether a ledger operation was charged to `taskId` (see `ctx.spend` and the LLM budget's keys). */
function chargedTo(op: LedgerOperation, taskId: string): boolean {
  if (op.memo["task"] === taskId) return true;
  // Operation ids of a task's spends and model-call holds carry its id:
  // fee:<task>:<attempt>:<n>, hold:llm:<task>:…, settle:llm:<task>:….
  return (
    op.id.startsWith(`fee:${taskId}:`) ||
    op.id.startsWith(`hold:llm:${taskId}:`) ||
    op.id.startsWith(`settle:llm:${taskId}:`)
  );
}

/**
 * The highest attempt (counted from 1) a `fee:<task>:<attempt>[<copy>]:<n>`
 * id records; undefined without any.
 */
function attemptsCharged(ops: readonly LedgerOperation[], taskId: string): number | undefined {
  let most: number | undefined;
  for (const op of ops) {
    if (!op.id.startsWith(`fee:${taskId}:`)) continue;
    const attempt = Number.parseInt(op.id.slice(`fee:${taskId}:`.length), 10);
    if (Number.isInteger(attempt)) most = Math.max(most ?? 0, attempt);
  }
  return most;
}

/** Reads everything about one task; undefined when the store has never heard of it. */
export async function taskReport(store: Store, taskId: string): Promise<TaskReport | undefined> {
  const [outcome, steps, effects, dead, submitted, operations] = await Promise.all([
    store.taskOutcome(taskId),
    store.steps(taskId),
    store.taskEffects(taskId),
    store.deadLetter(taskId),
    store.effects(ROOT_SUBMITTED),
    store.ledgerOperations(ledgerRead(taskId)),
  ]);
  const asRoot = submitted.find((e) => e.key === taskId);
  const ledger = operations.filter((op) => chargedTo(op, taskId));
  if (
    outcome === undefined &&
    asRoot === undefined &&
    steps.length === 0 &&
    dead === undefined &&
    ledger.length === 0
  ) {
    return undefined;
  }
  const root =
    asRoot !== undefined ? taskId : outcome?.status === "completed" ? outcome.corr : dead?.corr;
  const descendants: DescendantLine[] = [];
  if (asRoot !== undefined) {
    for (const c of await store.latestCompletions({ corr: taskId, limit: SCAN })) {
      if (c.taskId !== taskId)
        descendants.push({
          taskId: c.taskId,
          status: "completed",
          at: c.at,
          agent: c.agent,
          ...(c.cause === undefined ? {} : { cause: c.cause }),
          ...(c.sender === undefined ? {} : { sender: c.sender }),
        });
    }
    for (const d of await store.deadLetters({ limit: SCAN })) {
      if (d.corr === taskId && d.id !== taskId)
        descendants.push({
          taskId: d.id,
          status: "dead_lettered",
          at: d.at,
          reason: d.reason,
          ...(d.type === undefined ? {} : { type: d.type }),
        });
    }
    descendants.sort((a, b) => a.at - b.at || (a.taskId < b.taskId ? -1 : 1));
  }
  const what = (asRoot?.data ?? {}) as { role?: string; task?: string };
  const attempts = dead?.deliveries ?? attemptsCharged(ledger, taskId);
  const { data: _raw, ...deadLetter } = dead ?? { data: "" };
  return {
    taskId,
    status: outcome?.status ?? "pending",
    ...(what.role === undefined ? {} : { role: what.role }),
    ...(what.task !== undefined
      ? { type: what.task }
      : dead?.type !== undefined
        ? { type: dead.type }
        : {}),
    ...(root === undefined ? {} : { root }),
    isRoot: asRoot !== undefined,
    ...(outcome?.status === "completed"
      ? {
          agent: outcome.agent,
          at: outcome.at,
          ...("result" in outcome ? { result: outcome.result } : {}),
        }
      : outcome?.status === "dead_lettered"
        ? { at: outcome.at, reason: outcome.reason }
        : {}),
    ...(attempts === undefined ? {} : { attempts }),
    steps: steps.map((s) => ({ position: s.position, name: s.name, at: s.at })),
    effects: effects.map(({ taskId: _id, ...e }) => e),
    ...(dead === undefined ? {} : { deadLetter: deadLetter as Omit<DeadLetterRecord, "data"> }),
    descendants,
    ledger,
  };
}
