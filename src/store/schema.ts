/**
 * The store's tables as Kysely sees them. One schema for both dialects: the
 * migrations in `./migrations/` create exactly these columns on SQLite and on
 * Postgres. JSON is kept as text (not `jsonb`) so both dialects store and
 * return the same bytes, and every 64-bit integer is read back as a JS number
 * (timestamps in ms and sequence numbers stay far below 2^53).
 */
import type { Generated } from "kysely";

/** Which SQL dialect a store runs on. */
export type StoreDialect = "sqlite" | "postgres";

/** One row per task handled: the completion marker that makes handling idempotent. */
export interface CompletedTable {
  task_id: string;
  agent: string;
  at: number;
  /** JSON text of the handler's result; null when it returned nothing. */
  result: string | null;
  /** The root task (correlation id); null for completions before 005-steps. */
  corr: string | null;
  /** The task it descends from directly (envelope `cause`); null for a root, or before 006-lineage. */
  cause: string | null;
  /** The agent that sent it (envelope `from`); null before 006-lineage. */
  sender: string | null;
}

/** The journal of durable steps: one row per (task, position). */
export interface StepsTable {
  task_id: string;
  position: number;
  name: string;
  /** JSON text of the step's result. */
  result: string;
  at: number;
}

/** Side effects recorded with a completion, in the same transaction. */
export interface EffectsTable {
  kind: string;
  key: string;
  task_id: string;
  agent: string;
  at: number;
  /** JSON text, or null when the effect carried no data. */
  data: string | null;
}

/**
 * The transactional outbox: messages committed with a completion. An event
 * is deleted once the bus has it; a task is kept, marked sent, until the
 * completion or dead letter that settles it deletes it.
 */
export interface OutboxTable {
  id: string;
  task_id: string;
  mode: string;
  subject: string;
  data: Uint8Array;
  /**
   * Commit order. SQLite: assigned by the writer under the file's write lock;
   * Postgres: a sequence default (`bigserial`), so omitted on insert there.
   */
  seq: Generated<number>;
  /** When the bus took it (ms since the epoch); null while unsent. */
  sent_at: number | null;
  /** The broker's receipt for the send (NATS: sequence and stream), if any. */
  receipt: string | null;
  /** How often it was sent again because the broker no longer held it. */
  resends: Generated<number>;
}

export interface DeadLettersTable {
  id: string;
  subject: string;
  reason: string;
  deliveries: number;
  at: number;
  corr: string | null;
  type: string | null;
  /** The raw message, base64. */
  data: string;
}

export interface MetaTable {
  key: string;
  value: string;
}

/** The append-only audit chain (consensus seals and other auditable events). */
export interface AuditLogTable {
  /** 1, 2, 3, … with no gaps: assigned by the store under a lock. */
  seq: number;
  kind: string;
  /** JSON text, exactly the bytes the hash covers. */
  data: string;
  /** The previous entry's hash; null for the first entry. */
  prev_hash: string | null;
  hash: string;
}

/** The latest card each agent announced: a registry snapshot for restarts and offline tools. */
export interface RegistryTable {
  agent_id: string;
  /** JSON text of the card. */
  card: string;
  updated_at: number;
}

/** Generic idempotency keys (e.g. broker message ids) and what their first claim produced. */
export interface IdempotencyTable {
  key: string;
  /** JSON text of the result, or null when none was given. */
  result: string | null;
  at: number;
}

/** Who runs a task now, until when (see `TaskClaimStore`). */
export interface TaskClaimsTable {
  task_id: string;
  owner: string;
  /** ms since epoch, by the claimer's clock. */
  expires_at: number;
}

/**
 * One row per ledger operation applied: the idempotency record (a replay
 * with the same fingerprint is a no-op, another fingerprint a conflict).
 */
export interface LedgerOperationsTable {
  id: string;
  kind: string;
  /** SHA-256 of kind, entries and memo (`operationFingerprint`). */
  fingerprint: string;
  /** JSON text of the memo. */
  memo: string;
  at: number;
}

/** The entries of each operation, summing to zero per operation. */
export interface LedgerEntriesTable {
  operation_id: string;
  /** The entry's position in its operation: 0, 1, … */
  seq: number;
  account: string;
  /** Whole credits, positive into the account, negative out of it. */
  delta: number;
}

/**
 * Every account's balance, maintained with each operation and checkable
 * against the entries (`ledgerCheck`). An account exists once it has a row.
 */
export interface LedgerBalancesTable {
  account: string;
  balance: number;
}

/** Every table of the store, for `Kysely<Database>`. */
/** One row per auction held: what a report filters on, and the whole record as JSON. */
export interface AuctionsTable {
  id: string;
  auctioneer: string;
  task: string;
  rule: string;
  /** `awarded` or `unsold`. */
  status: string;
  winner: string | null;
  price: number | null;
  bids: number;
  rejected_bids: number;
  record: string;
  at: number;
}

/** An agent's reputation in [0, 1], learned from outcomes; never written by the agent itself. */
export interface ReputationTable {
  agent: string;
  score: number;
  observations: number;
  updated_at: number;
}

export interface Database {
  conclave_completed: CompletedTable;
  conclave_effects: EffectsTable;
  conclave_outbox: OutboxTable;
  conclave_dead_letters: DeadLettersTable;
  conclave_meta: MetaTable;
  conclave_audit_log: AuditLogTable;
  conclave_registry: RegistryTable;
  conclave_idempotency: IdempotencyTable;
  conclave_ledger_operations: LedgerOperationsTable;
  conclave_ledger_entries: LedgerEntriesTable;
  conclave_ledger_balances: LedgerBalancesTable;
  conclave_auctions: AuctionsTable;
  conclave_reputation: ReputationTable;
  conclave_steps: StepsTable;
  conclave_task_claims: TaskClaimsTable;
}

/** Where Kysely's Migrator records applied migrations (inside the store's schema on Postgres). */
export const MIGRATION_TABLE = "conclave_migration";
/** The Migrator's lock row table. */
export const MIGRATION_LOCK_TABLE = "conclave_migration_lock";
