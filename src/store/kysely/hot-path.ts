/**
 * The calls an adapter may implement below Kysely, where Kysely's per-query
 * cost shows (SQLite: building and compiling a query costs more than running
 * it), and the prepared rows they exchange with the role implementations.
 */
import type { Selectable } from "kysely";
import type { LedgerOutcome, PreparedLedgerOperation } from "../../ledger/rules.js";
import type { OutboxSent, TaskCompletion } from "../ports/tasks.js";
import type { AuctionsTable, OutboxTable, ReputationTable } from "../schema.js";

/**
 * The calls the runtime makes for every task (`isCompleted`, the group
 * commit of `completeTask`, `pendingOutbox`, `deleteOutbox`,
 * `markOutboxSent`), implemented
 * below Kysely by an adapter. Same contract and same results as the Kysely
 * versions in `KyselyTaskStore` (and `KyselyLedgerStore` for the ledger
 * batch); called only once the schema is ready.
 */
export interface HotPath {
  isCompleted(taskId: string): Promise<boolean>;
  /**
   * Writes a batch in one transaction, each completion's ledger operations
   * with it; per completion, whether it was a duplicate (then none of its
   * operations is applied), or the error of an operation the ledger refused
   * (then nothing of that completion is written; the others still are).
   */
  writeCompletions(completions: readonly PreparedCompletion[]): Promise<CompletionWritten[]>;
  pendingOutbox(taskId: string | undefined, limit: number): Promise<OutboxRow[]>;
  deleteOutbox(ids: readonly string[]): Promise<void>;
  /** Marks entries sent, one transaction (see `TaskStore.markOutboxSent`). */
  markOutboxSent(sent: readonly OutboxSent[]): Promise<void>;
  /**
   * Decides and writes a batch of ledger operations in one transaction
   * (`planLedgerBatch` over reads made inside it); per operation, its outcome.
   */
  writeLedgerBatch?(batch: readonly PreparedLedgerOperation[]): Promise<LedgerOutcome[]>;
  /**
   * Claims a batch of task ids (distinct) in one transaction, judged at
   * `now`, with the same rule as `KyselyTaskClaimStore`; per id, its holder
   * after the batch.
   */
  claimTasks?(batch: readonly ClaimRow[], now: number): Promise<ClaimRow[]>;
  /** An account's stored balance, or undefined for an account without a row. */
  balance?(account: string): Promise<number | undefined>;
  /** The market's per-auction calls (see {@link MarketHotPath}). */
  readonly market?: MarketHotPath;
}

/**
 * The calls the market makes for every auction (the idempotency read and the
 * record of its end, the reputations it weights bids by, the reputation its
 * winner earns), below Kysely. Same contract and results
 * as `KyselyMarketStore`, which builds and converts the rows; called only
 * once the schema is ready. An adapter may group-commit them; each stays
 * atomic on its own (a refused reputation update writes nothing, the others
 * still commit).
 */
export interface MarketHotPath {
  getAuction(id: string): Promise<AuctionRow | undefined>;
  /** Rows with at least one observation, of `agents` (all when undefined), by agent. */
  reputations(agents: readonly string[] | undefined): Promise<ReputationRow[]>;
  /** Inserts the row unless its id is taken: undefined when inserted, else the stored row. */
  saveAuction(row: AuctionRow): Promise<AuctionRow | undefined>;
  /**
   * Folds one outcome into `agent`'s row atomically: `next` gets the stored
   * row (undefined for an agent never stored) and returns the row to write,
   * or throws to write nothing.
   */
  updateReputation(
    agent: string,
    next: (stored: ReputationRow | undefined) => ReputationRow,
  ): Promise<ReputationRow>;
}

/** An auction as stored. */
export type AuctionRow = Selectable<AuctionsTable>;

/** A reputation as stored. */
export type ReputationRow = Selectable<ReputationTable>;

/** A task claim as the hot path writes and reads it. */
export interface ClaimRow {
  readonly taskId: string;
  readonly owner: string;
  readonly expiresAt: number;
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
  /** The outbox entries the completion settles (deleted with it). */
  readonly settles: readonly string[];
  /**
   * Ledger operations that commit with the completion or not at all (the
   * holds of the delegations its handler staged); usually none.
   */
  readonly ledger: readonly PreparedLedgerOperation[];
}

/**
 * How one completion of a group commit went: `true` a duplicate, `false`
 * written, an error the ledger's refusal of one of its operations.
 */
export type CompletionWritten = boolean | Error;
