/**
 * The `Store` port: the swarm's durable state outside the message bus. The
 * runtime uses it to make task handling effectively-once (a completion
 * marker, the handler's effects and its outgoing messages are committed in
 * one transaction: the transactional outbox), and to keep dead letters and
 * run metadata, and it holds the coordination state that must outlive a
 * process: the consensus audit chain, a registry snapshot and idempotency
 * keys. Adapters: SQLite (embedded default, `openSqliteStore`) and Postgres
 * (`openPostgresStore`, shared by many processes and machines).
 *
 * Contract (every adapter, checked by `test/conformance/store.ts`):
 * - `completeTask` is atomic and idempotent by `taskId`: a second call for the
 *   same id writes nothing and reports `duplicate: true`. This holds across
 *   store handles and processes sharing the same database, not only within
 *   one handle.
 * - Every method may be called concurrently; adapters serialise as needed.
 * - Failures throw `StoreError` with the driver error as `cause`.
 * - After `close()` every call rejects with `ClosedError`; `close()` is
 *   idempotent and first commits completions and ledger operations already
 *   requested.
 * - `applyLedgerOperation` is atomic and idempotent by operation id, across
 *   handles and processes, and enforces the ledger's rules
 *   (`applyToBalances`): no account but `world` below zero, no debit of an
 *   account that does not exist, no balance out of the exact-integer range.
 * - Opening a store written by a newer conclave (a schema this build does
 *   not know) fails with a `StoreError` that says to upgrade; opening one at
 *   an older version migrates it, and at the current version changes nothing.
 */

import type { LedgerOperation, OperationKind } from "../ledger/operations.js";

/** A side effect a handler applied, recorded with the task's completion. */
export interface EffectRecord {
  /** What kind of effect, e.g. `"review.completed"`. */
  readonly kind: string;
  /** What it applied to, e.g. the root task id. Several effects may share a key. */
  readonly key: string;
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  readonly data?: unknown;
}

/** A message the handler sends, kept until the bus has it. */
export interface OutboxEntry {
  /** The envelope id; also the bus dedup key. */
  readonly id: string;
  readonly taskId: string;
  /** `"enqueue"` for a durable task, `"publish"` for an event. */
  readonly mode: "enqueue" | "publish";
  readonly subject: string;
  readonly data: Uint8Array;
}

export interface TaskCompletion {
  /** The envelope id of the task handled. */
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  readonly effects: readonly Omit<EffectRecord, "taskId" | "agent" | "at">[];
  readonly outbox: readonly Omit<OutboxEntry, "taskId">[];
}

export interface DeadLetterRecord {
  /** The dead-lettered message's id (envelope id when it had one). */
  readonly id: string;
  readonly subject: string;
  readonly reason: string;
  readonly deliveries: number;
  readonly at: number;
  /** The correlation id (root task) when the envelope could be read. */
  readonly corr?: string;
  readonly type?: string;
  /** The raw message, base64, for inspection and replay. */
  readonly data: string;
}

export interface EffectStats {
  readonly kind: string;
  /** Distinct keys with at least one effect. */
  readonly keys: number;
  /** Keys with more than one effect of this kind: an effect applied twice. */
  readonly duplicateKeys: number;
}

/** An account and what it holds. */
export interface AccountBalance {
  readonly account: string;
  /** Whole credits; negative only for `world`. */
  readonly balance: number;
}

/** One entry of the ledger as stored, with its operation's kind and time. */
export interface LedgerEntryRecord {
  readonly operationId: string;
  /** The entry's position in its operation: 0, 1, … */
  readonly seq: number;
  readonly kind: OperationKind;
  readonly account: string;
  readonly delta: number;
  readonly at: number;
}

/**
 * The ledger recomputed from its entries and compared with the maintained
 * balances. Consistent when `sum === minted` and every list is empty.
 */
export interface LedgerCheck {
  /** `-balance(world)`: every credit ever minted. */
  readonly minted: number;
  /** The balances of every account but `world`, added up. */
  readonly sum: number;
  /** Accounts other than `world` below zero. */
  readonly negative: string[];
  /** Accounts whose balance differs from the sum of their entries (or that have one without the other). */
  readonly mismatched: string[];
  /** Operations that are not a whole balanced set: fewer than two entries, entries not summing to zero, or entries without an operation. */
  readonly unbalanced: string[];
  /** Operations applied (rows in the operations table). */
  readonly operations: number;
  readonly entries: number;
}

/** The fields that link one audit entry to the chain, given to the hash function. */
export interface AuditLink {
  /** The entry's position: 1 for the first entry, then +1 with no gaps. */
  readonly seq: number;
  readonly kind: string;
  /** The entry's data as stored: `JSON.stringify(data)`. */
  readonly data: string;
  /** The previous entry's hash; `null` for the first entry. */
  readonly prevHash: string | null;
}

/** An event to append to the audit chain. */
export interface AuditEntry {
  /** What happened, e.g. `"decision.sealed"`. No line breaks. */
  readonly kind: string;
  /** JSON-serialisable data (e.g. the decision with its signed votes). */
  readonly data: unknown;
  /**
   * Computes the entry's hash from its link, called once under the append
   * lock so it sees the true previous hash. Defaults to `auditHash` (SHA-256).
   * Consensus passes its seal function here.
   */
  readonly hash?: (link: AuditLink) => string;
}

/** One entry of the audit chain as stored. */
export interface AuditRecord {
  readonly seq: number;
  readonly kind: string;
  readonly data: unknown;
  readonly prevHash: string | null;
  readonly hash: string;
}

/** An agent card as kept in the registry snapshot. */
export interface StoredAgentCard {
  /** The agent id (the card's `id`). */
  readonly id: string;
  /** The card, parsed back from JSON; the registry validates its shape. */
  readonly card: unknown;
  /** When the card was saved (ms since epoch): the newest save wins. */
  readonly updatedAt: number;
}

/** What claiming an idempotency key found. */
export interface IdempotencyClaim {
  /** `true` for the one caller that claimed the key; `false` for every later one. */
  readonly first: boolean;
  /** For a later caller: the result the first claim stored, when it stored one. */
  readonly result?: unknown;
}

/** Options of `Store.pruneIdempotencyKeys`. */
export interface PruneIdempotencyKeysOptions {
  /** Forget only keys that start with exactly this string (no wildcards). */
  readonly prefix?: string;
}

/** Where a store's schema stands. */
export interface SchemaStatus {
  /** Migrations recorded in the store, oldest first, with when they ran (ISO 8601). */
  readonly applied: readonly { readonly name: string; readonly appliedAt: string }[];
  /** Migrations this build knows, in order; the last is the version it writes. */
  readonly known: readonly string[];
}

/**
 * One auction as held: the columns a report filters on and the whole record
 * (terms, bids, rejections, award, score breakdown) as JSON.
 */
export interface AuctionRecord {
  readonly id: string;
  /** The agent that called for proposals. */
  readonly auctioneer: string;
  /** The task type auctioned. */
  readonly task: string;
  readonly rule: string;
  readonly status: "awarded" | "unsold";
  readonly winner?: string;
  /** The clearing price in credits, when awarded. */
  readonly price?: number;
  /** Bids accepted into the auction. */
  readonly bids: number;
  /** Bids refused (each with its reason in `record`). */
  readonly rejectedBids: number;
  /** JSON-serialisable. */
  readonly record: unknown;
  /** When it ended, ms since epoch. */
  readonly at: number;
}

/** Totals over every auction in the store. */
export interface AuctionStats {
  readonly held: number;
  readonly awarded: number;
  readonly unsold: number;
  readonly rejectedBids: number;
}

/** An agent's learned reputation. */
export interface ReputationRecord {
  readonly agent: string;
  /** In [0, 1]. */
  readonly score: number;
  /** Outcomes folded in so far. */
  readonly observations: number;
  readonly updatedAt: number;
}

export interface Store {
  /** `"sqlite"` or `"postgres"`. */
  readonly kind: string;
  /**
   * Records a handled task: its completion marker, effects and outbox, all
   * in one transaction. Calls made in the same event-loop turn are group
   * committed (one transaction for the batch), each still atomic and
   * idempotent on its own: the first call for a `taskId` writes and gets
   * `{ duplicate: false }`; every other, from this handle or any other on
   * the same database, writes nothing and gets `{ duplicate: true }`.
   */
  completeTask(completion: TaskCompletion): Promise<{ duplicate: boolean }>;
  isCompleted(taskId: string): Promise<boolean>;
  /** Outbox entries not yet confirmed sent, oldest first; for one task, or all. */
  pendingOutbox(options?: { taskId?: string; limit?: number }): Promise<OutboxEntry[]>;
  /** Marks outbox entries as sent. */
  deleteOutbox(ids: readonly string[]): Promise<void>;
  /** Idempotent by id. */
  recordDeadLetter(record: DeadLetterRecord): Promise<void>;
  /** Dead letters, oldest first. */
  deadLetters(options?: { limit?: number }): Promise<DeadLetterRecord[]>;
  /** Root ids (`corr`) of dead-lettered tasks, distinct. */
  deadLetteredRoots(): Promise<string[]>;
  /** Effects of one kind, by time, then task id, then key. */
  effects(kind: string): Promise<EffectRecord[]>;
  effectStats(kind: string): Promise<EffectStats>;
  /** Stats of every effect kind recorded. */
  allEffectStats(): Promise<EffectStats[]>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  /**
   * Appends one entry to the audit chain and returns it as stored. The store
   * assigns `seq` in append order: appends are serialised (one at a time per
   * database, across handles and processes), so `seq` runs 1, 2, 3, … with
   * no gaps and each entry's `prevHash` is the hash of the entry before it.
   * The chain is append-only: nothing updates or deletes an entry.
   *
   * @example
   * ```ts
   * const entry = await store.appendAudit({ kind: "decision.sealed", data: decision });
   * // entry.seq, entry.prevHash, entry.hash
   * ```
   */
  appendAudit(entry: AuditEntry): Promise<AuditRecord>;
  /** Audit entries in `seq` order, from `fromSeq` (default 1), at most `limit` (default 10,000). */
  auditLog(options?: { fromSeq?: number; limit?: number }): Promise<AuditRecord[]>;

  /**
   * Saves an agent's card (any JSON-serialisable object with an `id`) in
   * the registry snapshot, keyed by `card.id` (insert or replace). A save
   * older than the stored one (`updatedAt`, default now) is ignored, so a
   * late heartbeat never rolls a card back; `saved` says whether this one
   * was kept. Equal times: the later save wins.
   */
  saveAgentCard<Card extends { readonly id: string }>(
    card: Card,
    options?: { updatedAt?: number },
  ): Promise<{ saved: boolean }>;
  /** Every card in the snapshot, by agent id. */
  agentCards(): Promise<StoredAgentCard[]>;
  /** Removes an agent's card; removing a missing one is not an error. */
  removeAgentCard(id: string): Promise<void>;

  /**
   * Claims `key` once, atomically, across every handle on the database: the
   * first claim stores `result` (JSON-serialisable, optional) and gets
   * `{ first: true }`; every later claim, concurrent or not, gets
   * `{ first: false, result }` with the first claim's result. For
   * effectively-once processing of messages that carry their own id.
   *
   * @example
   * ```ts
   * const { first } = await store.claimIdempotencyKey(`amqp:${messageId}`);
   * if (!first) return ack(); // seen before
   * ```
   */
  claimIdempotencyKey(
    key: string,
    result?: unknown,
    options?: { at?: number },
  ): Promise<IdempotencyClaim>;
  /**
   * Forgets idempotency keys claimed before `before` (ms since epoch, compared
   * with the `at` each claim stored); returns how many it deleted. A later
   * claim of a forgotten key is first again, so prune only keys nobody needs
   * to recognise any more.
   *
   * Without a prefix it forgets every old key of the table, whoever claimed
   * it. With `prefix`, only keys that start with exactly that string: `%`,
   * `_` and every other character match only themselves (no wildcards), so a
   * user of the table can prune its own keys and leave the others' (the AMQP
   * enqueue dedup prunes `amqp.enqueue:`, never `consensus.propose:`). An
   * empty prefix is the same as none. Safe to run concurrently with claims
   * and with other prunes, from any handle.
   *
   * @example
   * ```ts
   * const hourAgo = Date.now() - 3_600_000;
   * const deleted = await store.pruneIdempotencyKeys(hourAgo, { prefix: "amqp.enqueue:" });
   * ```
   */
  pruneIdempotencyKeys(before: number, options?: PruneIdempotencyKeysOptions): Promise<number>;

  /**
   * Applies a ledger operation (a balanced set of entries) atomically: all
   * its entries and balance changes are committed in one transaction, or
   * nothing is. Idempotent by `operation.id`, across handles and processes:
   * the first call that applies an id gets `{ applied: true }`; a later call
   * with the same operation (same fingerprint: kind, entries and memo; the
   * time may differ) writes nothing and gets `{ applied: false }`; a call
   * reusing the id for a different operation is refused with
   * `OperationConflictError`.
   *
   * Enforces exactly the rules of `applyToBalances`, in entry order, and
   * writes nothing when one fails: `InsufficientCreditsError` (an account
   * other than `world` would go below zero; carries its balance),
   * `UnknownAccountError` (debit of an account that never existed, or a
   * malformed account id), `LedgerOverflowError` (a balance would leave
   * the exact-integer range). A malformed operation is refused before the
   * database is touched (`InvalidOperationError`, `InvalidAmountError`). A
   * refused operation leaves its id unused: retrying it later may succeed.
   *
   * Concurrent calls are safe on every backend: operations touching the
   * same accounts are serialised (Postgres: row locks in account order;
   * SQLite: the file's write lock), so no interleaving can overdraw an
   * account. Calls made in the same event-loop turn are group committed
   * (one transaction per batch), each still decided on its own, in call
   * order.
   *
   * @example
   * ```ts
   * const op = operations.transfer(ulid(), agentAccount("lead"), agentAccount("dev-1"), 500, Date.now());
   * await store.applyLedgerOperation(op); // { applied: true }
   * await store.applyLedgerOperation(op); // { applied: false }: a retry applies nothing
   * ```
   */
  applyLedgerOperation(operation: LedgerOperation): Promise<{ applied: boolean }>;
  /** An account's balance from the maintained balance table; 0 for an account that does not exist. */
  balance(account: string): Promise<number>;
  /** Every account that exists, by account id. */
  balances(): Promise<AccountBalance[]>;
  /**
   * Ledger entries, oldest operation first (by time, then operation id, then
   * position); of one account, or all; at most `limit` (default 10,000).
   */
  ledgerEntries(options?: { account?: string; limit?: number }): Promise<LedgerEntryRecord[]>;
  /**
   * Applied operations with their entries, oldest first (by time, then id):
   * those at or after `since` (ms since epoch), of one `kind` when given,
   * at most `limit` (default 10,000). The spend report reads the `fee`
   * operations: the agent is the debited account, the memo says what was
   * metered (`kind`, `model`, `units`, `priceVersion`).
   */
  ledgerOperations(options?: {
    since?: number;
    kind?: OperationKind;
    limit?: number;
  }): Promise<LedgerOperation[]>;
  /** Recomputes every balance from the entries and checks the ledger's invariants. */
  ledgerCheck(): Promise<LedgerCheck>;

  /**
   * Records an auction once, by id: the first save is kept and gets
   * `{ saved: true }`; a later save of the same id (a retried auctioneer)
   * writes nothing and gets `{ saved: false }` with the stored record.
   */
  saveAuction(record: AuctionRecord): Promise<{ saved: boolean; stored: AuctionRecord }>;
  /** One auction by id, or undefined. */
  getAuction(id: string): Promise<AuctionRecord | undefined>;
  /** Auctions, most recent last, at most `limit` (default 1,000). */
  auctions(options?: { limit?: number }): Promise<AuctionRecord[]>;
  /** Totals over every stored auction. */
  auctionStats(): Promise<AuctionStats>;
  /**
   * Folds one outcome into an agent's reputation atomically, across handles
   * and processes: `update` receives the stored score (undefined for an
   * agent never observed) and returns the new one, which must be in [0, 1]
   * (else `StoreError` and nothing is written); concurrent updates of one
   * agent are serialised, none is lost.
   */
  updateReputation(
    agent: string,
    update: (previous: number | undefined) => number,
    options?: { at?: number },
  ): Promise<ReputationRecord>;
  /** The stored reputations of `agents` (all when omitted); agents never observed are absent. */
  reputations(agents?: readonly string[]): Promise<ReputationRecord[]>;

  /** The schema version of the database and of this build. */
  schemaStatus(): Promise<SchemaStatus>;
  close(): Promise<void>;
}
