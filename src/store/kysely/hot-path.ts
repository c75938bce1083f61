/**
 * The calls an adapter may implement below Kysely, where Kysely's per-query
 * cost shows (SQLite: building and compiling a query costs more than running
 * it), and the prepared rows they exchange with the role implementations.
 */
import type { Selectable } from "kysely";
import type { LedgerOutcome, PreparedLedgerOperation } from "../../ledger/rules.js";
import type { TaskCompletion } from "../ports/tasks.js";
import type { OutboxTable } from "../schema.js";

/**
 * The calls the runtime makes for every task (`isCompleted`, the group
 * commit of `completeTask`, `pendingOutbox`, `deleteOutbox`), implemented
 * below Kysely by an adapter. Same contract and same results as the Kysely
 * versions in `KyselyTaskStore` (and `KyselyLedgerStore` for the ledger
 * batch); called only once the schema is ready.
 */
export interface HotPath {
  isCompleted(taskId: string): Promise<boolean>;
  /** Writes a batch in one transaction; per completion, whether it was a duplicate. */
  writeCompletions(completions: readonly PreparedCompletion[]): Promise<boolean[]>;
  pendingOutbox(taskId: string | undefined, limit: number): Promise<OutboxRow[]>;
  deleteOutbox(ids: readonly string[]): Promise<void>;
  /**
   * Decides and writes a batch of ledger operations in one transaction
   * (`planLedgerBatch` over reads made inside it); per operation, its outcome.
   */
  writeLedgerBatch?(batch: readonly PreparedLedgerOperation[]): Promise<LedgerOutcome[]>;
}

/** An outbox row as `pendingOutbox` reads it. */
export type OutboxRow = Pick<
  Selectable<OutboxTable>,
  "id" | "task_id" | "mode" | "subject" | "data"
>;

/** A completion checked and serialised, ready to write. */
export interface PreparedCompletion {
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  /** JSON text of the handler's result, or null. */
  readonly result: string | null;
  readonly corr: string | null;
  readonly cause: string | null;
  readonly sender: string | null;
  readonly effects: readonly { kind: string; key: string; data: string | null }[];
  readonly outbox: TaskCompletion["outbox"];
}
