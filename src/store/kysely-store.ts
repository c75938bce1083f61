/**
 * The one implementation of the `Store` port, over Kysely, shared by the
 * SQLite and Postgres adapters. The adapters only open the database (driver,
 * pragmas or pool, schema, migrations) and hand a `Kysely<Database>` here;
 * every query is written once for both dialects, one file per role in
 * `./kysely/` (`tasks.ts`, `ledger.ts`, `audit.ts`, …) over the shared
 * `StoreCore`. The few dialect differences are named where they occur: how
 * the outbox sequence is drawn, how audit appends and ledger operations are
 * serialised, and which errors are worth a retry. An adapter may also supply
 * a `HotPath`: its own implementation of the four per-task calls and of the
 * ledger batch write (SQLite does, with prepared statements).
 */
import type { Kysely } from "kysely";
import { type Clock, systemClock } from "../core/index.js";
import type { LedgerOperation, OperationKind } from "../ledger/operations.js";
import { KyselyAuditStore } from "./kysely/audit.js";
import { StoreCore } from "./kysely/core.js";
import { KyselyDeadLetterStore } from "./kysely/dead-letters.js";
import type { HotPath } from "./kysely/hot-path.js";
import { KyselyIdempotencyStore } from "./kysely/idempotency.js";
import { KyselyLedgerStore } from "./kysely/ledger.js";
import { KyselyMarketStore } from "./kysely/market.js";
import { KyselyMetaStore } from "./kysely/meta.js";
import { readPage, withTimeBound } from "./kysely/paging.js";
import { KyselyRegistryStore } from "./kysely/registry.js";
import { KyselyStepStore } from "./kysely/steps.js";
import { KyselyTaskClaimStore } from "./kysely/task-claims.js";
import { KyselyTaskStore } from "./kysely/tasks.js";
import { appliedMigrations, migrations } from "./migrations/index.js";
import type {
  AccountBalance,
  AuctionRecord,
  AuctionStats,
  AuditEntry,
  AuditRecord,
  CompletionSummary,
  DeadLetterRecord,
  EffectRecord,
  EffectStats,
  IdempotencyClaim,
  LedgerCheck,
  LedgerEntryRecord,
  OutboxEntry,
  OutboxSent,
  PruneIdempotencyKeysOptions,
  ReputationRecord,
  SchemaStatus,
  SentOutboxEntry,
  StepRecord,
  Store,
  StoredAgentCard,
  TaskClaim,
  TaskCompletion,
  TaskOutcome,
} from "./port.js";
import type { Database, StoreDialect } from "./schema.js";

/** What an adapter gives the shared implementation. */
export interface KyselyStoreConfig {
  /** The open database. The store owns it: `close()` destroys it. */
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /** Names the store in messages, e.g. `the SQLite store at ./swarm.db`. */
  readonly description: string;
  /**
   * Settles when the schema is ready to use. Every call waits for it; when
   * it rejects (a failed migration), every call rejects with its error.
   */
  readonly ready?: Promise<void>;
  /** The Postgres schema holding the tables, for `schemaStatus()`. */
  readonly schema?: string;
  /** Default timestamps (registry saves, idempotency claims). Default: the system clock. */
  readonly clock?: Clock;
  /** Runs once after the database is destroyed (e.g. releases a file lock). */
  readonly onClosed?: () => void;
  /** Prepared-statement versions of the hottest calls, used instead of Kysely for them. */
  readonly hotPath?: HotPath;
}

/**
 * A `Store` over Kysely: the composition of one implementation per role
 * (`KyselyTaskStore`, `KyselyLedgerStore`, …) on one `StoreCore`. Create it
 * through `openSqliteStore` or `openPostgresStore`; the contract is the one
 * documented on `Store` and its role interfaces.
 *
 * Completions and ledger operations are group-committed (see
 * `KyselyTaskStore` and `KyselyLedgerStore`). Every call waits for the
 * schema (`ready`), turns driver errors into `StoreError` with the driver
 * error as `cause`, and is refused with `ClosedError` once `close()` was
 * called; `close()` first commits queued completions and ledger operations
 * and waits for calls still running.
 */
export class KyselyStore implements Store {
  readonly kind: StoreDialect;
  /** The database, for adapter-specific extras in subclasses. */
  protected readonly db: Kysely<Database>;
  readonly #core: StoreCore;
  readonly #schema: string | undefined;
  readonly #onClosed: (() => void) | undefined;
  readonly #tasks: KyselyTaskStore;
  readonly #deadLetters: KyselyDeadLetterStore;
  readonly #meta: KyselyMetaStore;
  readonly #audit: KyselyAuditStore;
  readonly #registry: KyselyRegistryStore;
  readonly #idempotency: KyselyIdempotencyStore;
  readonly #ledger: KyselyLedgerStore;
  readonly #market: KyselyMarketStore;
  readonly #steps: KyselyStepStore;
  readonly #claims: KyselyTaskClaimStore;
  #closing: Promise<void> | undefined;

  constructor(config: KyselyStoreConfig) {
    this.kind = config.dialect;
    this.db = config.db;
    this.#schema = config.schema;
    this.#onClosed = config.onClosed;
    const core = new StoreCore({
      db: config.db,
      dialect: config.dialect,
      description: config.description,
      ready: config.ready ?? Promise.resolve(),
      clock: config.clock ?? systemClock,
    });
    this.#core = core;
    this.#tasks = new KyselyTaskStore(core, config.hotPath);
    this.#deadLetters = new KyselyDeadLetterStore(core);
    this.#meta = new KyselyMetaStore(core);
    this.#audit = new KyselyAuditStore(core);
    this.#registry = new KyselyRegistryStore(core);
    this.#idempotency = new KyselyIdempotencyStore(core);
    this.#ledger = new KyselyLedgerStore(core, config.hotPath);
    this.#market = new KyselyMarketStore(core, config.hotPath?.market);
    this.#steps = new KyselyStepStore(core);
    this.#claims = new KyselyTaskClaimStore(core, config.hotPath);
  }

  /** Resolves once the schema is migrated and the store is usable; rejects with the `StoreError` if it cannot be. */
  ready(): Promise<void> {
    return this.run("opening", () => Promise.resolve());
  }

  // ---- tasks ---------------------------------------------------------------

  completeTask(completion: TaskCompletion): Promise<{ duplicate: boolean }> {
    return this.#tasks.completeTask(completion);
  }
  isCompleted(taskId: string): Promise<boolean> {
    return this.#tasks.isCompleted(taskId);
  }
  completedCount(): Promise<number> {
    return this.#tasks.completedCount();
  }
  latestCompletions(options?: { limit?: number; corr?: string }): Promise<CompletionSummary[]> {
    return readPage("reading the latest completions", options, (o) =>
      this.#tasks.latestCompletions(o),
    );
  }
  taskOutcome(taskId: string): Promise<TaskOutcome | undefined> {
    return this.#tasks.taskOutcome(taskId);
  }
  pendingOutbox(options?: { taskId?: string; limit?: number }): Promise<OutboxEntry[]> {
    return readPage("reading the outbox", options, (o) => this.#tasks.pendingOutbox(o));
  }
  deleteOutbox(ids: readonly string[]): Promise<void> {
    return this.#tasks.deleteOutbox(ids);
  }
  markOutboxSent(sent: readonly OutboxSent[]): Promise<void> {
    return this.#tasks.markOutboxSent(sent);
  }
  sentOutbox(options: { sentBefore: number; limit?: number }): Promise<SentOutboxEntry[]> {
    const what = "reading the sent outbox";
    return withTimeBound(
      what,
      "sentBefore",
      options.sentBefore,
      this.#whole("down"),
      (sentBefore) =>
        readPage(what, { ...options, sentBefore }, (o) =>
          this.#tasks.sentOutbox(o ?? { ...options, sentBefore }),
        ),
    );
  }
  effects(kind: string): Promise<EffectRecord[]> {
    return this.#tasks.effects(kind);
  }
  taskEffects(taskId: string): Promise<EffectRecord[]> {
    return this.#tasks.taskEffects(taskId);
  }
  effectStats(kind: string): Promise<EffectStats> {
    return this.#tasks.effectStats(kind);
  }
  allEffectStats(): Promise<EffectStats[]> {
    return this.#tasks.allEffectStats();
  }

  // ---- dead letters and meta -----------------------------------------------

  recordDeadLetter(
    record: DeadLetterRecord,
    options?: { readonly settles?: readonly string[] },
  ): Promise<void> {
    return this.#deadLetters.recordDeadLetter(record, options);
  }
  deadLetter(id: string): Promise<DeadLetterRecord | undefined> {
    return this.#deadLetters.deadLetter(id);
  }
  redriveDeadLetter(id: string, send: Omit<OutboxEntry, "mode">): Promise<boolean> {
    return this.#deadLetters.redriveDeadLetter(id, send);
  }

  removeDeadLetter(id: string): Promise<boolean> {
    return this.#deadLetters.removeDeadLetter(id);
  }
  deadLetters(options?: { limit?: number }): Promise<DeadLetterRecord[]> {
    return readPage("reading dead letters", options, (o) => this.#deadLetters.deadLetters(o));
  }
  deadLetteredRoots(): Promise<string[]> {
    return this.#deadLetters.deadLetteredRoots();
  }
  getMeta(key: string): Promise<string | undefined> {
    return this.#meta.getMeta(key);
  }
  setMeta(key: string, value: string): Promise<void> {
    return this.#meta.setMeta(key, value);
  }

  // ---- audit chain and registry snapshot -----------------------------------

  appendAudit(entry: AuditEntry): Promise<AuditRecord> {
    return this.#audit.appendAudit(entry);
  }
  auditLog(options?: { fromSeq?: number; limit?: number }): Promise<AuditRecord[]> {
    return readPage("reading the audit log", options, (o) => this.#audit.auditLog(o));
  }
  saveAgentCard<Card extends { readonly id: string }>(
    card: Card,
    options?: { updatedAt?: number },
  ): Promise<{ saved: boolean }> {
    return this.#registry.saveAgentCard(card, options);
  }
  agentCards(): Promise<StoredAgentCard[]> {
    return this.#registry.agentCards();
  }
  removeAgentCard(id: string): Promise<void> {
    return this.#registry.removeAgentCard(id);
  }

  // ---- task claims ---------------------------------------------------------

  claimTask(
    taskId: string,
    owner: string,
    times: { readonly now: number; readonly expiresAt: number },
  ): Promise<TaskClaim> {
    return this.#claims.claimTask(taskId, owner, times);
  }
  extendTaskClaims(owner: string, taskIds: readonly string[], expiresAt: number): Promise<number> {
    return this.#claims.extendTaskClaims(owner, taskIds, expiresAt);
  }
  releaseTaskClaim(taskId: string, owner: string): Promise<boolean> {
    return this.#claims.releaseTaskClaim(taskId, owner);
  }
  pruneTaskClaims(before: number): Promise<number> {
    return withTimeBound("pruning task claims", "before", before, this.#whole("up"), (b) =>
      this.#claims.pruneTaskClaims(b),
    );
  }

  // ---- idempotency keys ----------------------------------------------------

  claimIdempotencyKey(
    key: string,
    result?: unknown,
    options?: { at?: number },
  ): Promise<IdempotencyClaim> {
    return this.#idempotency.claimIdempotencyKey(key, result, options);
  }
  pruneIdempotencyKeys(before: number, options?: PruneIdempotencyKeysOptions): Promise<number> {
    return withTimeBound("pruning idempotency keys", "before", before, this.#whole("up"), (b) =>
      this.#idempotency.pruneIdempotencyKeys(b, options),
    );
  }

  // ---- ledger --------------------------------------------------------------

  applyLedgerOperation(operation: LedgerOperation): Promise<{ applied: boolean }> {
    return this.#ledger.applyLedgerOperation(operation);
  }
  balance(account: string): Promise<number> {
    return this.#ledger.balance(account);
  }
  balances(): Promise<AccountBalance[]> {
    return this.#ledger.balances();
  }
  ledgerEntries(options?: { account?: string; limit?: number }): Promise<LedgerEntryRecord[]> {
    return readPage("reading ledger entries", options, (o) => this.#ledger.ledgerEntries(o));
  }
  ledgerOperations(options?: {
    since?: number;
    kind?: OperationKind;
    limit?: number;
    ids?: readonly string[];
  }): Promise<LedgerOperation[]> {
    const what = "reading ledger operations";
    if (options?.since === undefined) {
      return readPage(what, options, (o) => this.#ledger.ledgerOperations(o));
    }
    return withTimeBound(what, "since", options.since, this.#whole("up"), (since) =>
      readPage(what, { ...options, since }, (o) => this.#ledger.ledgerOperations(o)),
    );
  }
  ledgerCheck(): Promise<LedgerCheck> {
    return this.#ledger.ledgerCheck();
  }

  // ---- markets -------------------------------------------------------------

  saveAuction(record: AuctionRecord): Promise<{ saved: boolean; stored: AuctionRecord }> {
    return this.#market.saveAuction(record);
  }
  getAuction(id: string): Promise<AuctionRecord | undefined> {
    return this.#market.getAuction(id);
  }
  auctions(options?: { limit?: number }): Promise<AuctionRecord[]> {
    return readPage("reading auctions", options, (o) => this.#market.auctions(o));
  }
  auctionStats(): Promise<AuctionStats> {
    return this.#market.auctionStats();
  }
  updateReputation(
    agent: string,
    update: (previous: number | undefined) => number,
    options?: { at?: number },
  ): Promise<ReputationRecord> {
    return this.#market.updateReputation(agent, update, options);
  }
  reputations(agents?: readonly string[]): Promise<ReputationRecord[]> {
    return this.#market.reputations(agents);
  }

  // ---- durable steps -------------------------------------------------------

  recordStep(record: StepRecord): Promise<{ recorded: boolean; stored: StepRecord }> {
    return this.#steps.recordStep(record);
  }
  steps(taskId: string): Promise<StepRecord[]> {
    return this.#steps.steps(taskId);
  }
  pruneSteps(before: number): Promise<number> {
    return withTimeBound("pruning steps", "before", before, this.#whole("up"), (b) =>
      this.#steps.pruneSteps(b),
    );
  }

  // ---- lifecycle -----------------------------------------------------------

  schemaStatus(): Promise<SchemaStatus> {
    return this.run("reading the schema version", async () => ({
      applied: await appliedMigrations(this.db, this.kind, this.#schema),
      known: migrations.map((m) => m.name),
    }));
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#core.closing = true;
      this.#closing = this.#shutdown();
    }
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // A store closed right after opening lets its migrations finish first.
    await this.#core.ready.catch(() => {});
    // Completions and ledger operations requested before close() are still committed.
    await this.#tasks.drain();
    await this.#ledger.drain();
    await this.#core.settled();
    try {
      await this.db.destroy();
    } catch (cause) {
      throw this.#core.storeError("closing", cause);
    } finally {
      this.#onClosed?.();
    }
  }

  /** How a fractional time bound is rounded here: Postgres stores and compares whole ms only. */
  #whole(round: "up" | "down"): "up" | "down" | "none" {
    return this.kind === "postgres" ? round : "none";
  }

  /**
   * Runs one operation: refused with `ClosedError` once `close()` was
   * called, after the schema is ready, with driver errors turned into
   * `StoreError`. `close()` waits for operations still running.
   */
  protected run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return this.#core.run(what, operation);
  }
}
