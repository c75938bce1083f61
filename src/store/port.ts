/**
 * The `Store` port: the swarm's durable state outside the message bus,
 * composed of one interface per role, each in `./ports/` with its own
 * contract and its own part of the conformance suite:
 *
 * | role | interface | what it holds |
 * | --- | --- | --- |
 * | tasks | `TaskStore` | completion markers, effects, the transactional outbox |
 * | dead letters | `DeadLetterStore` | messages the transport gave up on, with the reason |
 * | meta | `MetaStore` | a few named strings about the run (e.g. `consensus.head`) |
 * | audit | `AuditStore` | the hash-chained log of sealed decisions |
 * | registry | `RegistryStore` | the snapshot of agent cards |
 * | idempotency | `IdempotencyStore` | keys claimed once across processes |
 * | ledger | `LedgerStore` | the double-entry credit ledger |
 * | market | `MarketStore` | auction outcomes and reputations |
 * | steps | `StepStore` | the journal of durable steps (model and tool calls) |
 * | task claims | `TaskClaimStore` | who is running a task now, until when |
 *
 * Code that needs one role takes that interface (e.g. `storeDedup` takes an
 * `IdempotencyStore`), so a test or a third-party adapter can supply just
 * that part. Adapters of the whole port: SQLite (embedded default,
 * `openSqliteStore`) and Postgres (`openPostgresStore`, shared by many
 * processes and machines).
 *
 * Contract shared by every role (every adapter, checked by
 * `src/testkit/conformance/store.ts`, which runs the part of each role):
 * - Every method may be called concurrently; adapters serialise as needed.
 * - Failures throw `StoreError` with the driver error as `cause` (the
 *   ledger's refusals throw the ledger's own errors, see `LedgerStore`).
 * - After `close()` every call rejects with `ClosedError`; `close()` is
 *   idempotent and first commits completions and ledger operations already
 *   requested.
 * - Opening a store written by a newer conclave (a schema this build does
 *   not know) fails with a `StoreError` that says to upgrade; opening one at
 *   an older version migrates it, and at the current version changes nothing.
 */
import type { AuditStore } from "./ports/audit.js";
import type { DeadLetterStore } from "./ports/dead-letters.js";
import type { IdempotencyStore } from "./ports/idempotency.js";
import type { LedgerStore } from "./ports/ledger.js";
import type { MarketStore } from "./ports/market.js";
import type { MetaStore } from "./ports/meta.js";
import type { RegistryStore } from "./ports/registry.js";
import type { StepStore } from "./ports/steps.js";
import type { TaskClaimStore } from "./ports/task-claims.js";
import type { TaskStore } from "./ports/tasks.js";

export type { AuditEntry, AuditLink, AuditRecord, AuditStore } from "./ports/audit.js";
export type { DeadLetterRecord, DeadLetterStore } from "./ports/dead-letters.js";
export type {
  IdempotencyClaim,
  IdempotencyStore,
  PruneIdempotencyKeysOptions,
} from "./ports/idempotency.js";
export type {
  AccountBalance,
  LedgerCheck,
  LedgerEntryRecord,
  LedgerStore,
} from "./ports/ledger.js";
export type {
  AuctionRecord,
  AuctionStats,
  MarketStore,
  ReputationRecord,
} from "./ports/market.js";
export type { MetaStore } from "./ports/meta.js";
export type { RegistryStore, StoredAgentCard } from "./ports/registry.js";
export type { StepRecord, StepStore } from "./ports/steps.js";
export type { TaskClaim, TaskClaimStore } from "./ports/task-claims.js";
export type {
  CompletionSummary,
  EffectRecord,
  EffectStats,
  OutboxEntry,
  OutboxSent,
  SentOutboxEntry,
  TaskCompletion,
  TaskOutcome,
  TaskStore,
} from "./ports/tasks.js";

/** Where a store's schema stands. */
export interface SchemaStatus {
  /** Migrations recorded in the store, oldest first, with when they ran (ISO 8601). */
  readonly applied: readonly { readonly name: string; readonly appliedAt: string }[];
  /** Migrations this build knows, in order; the last is the version it writes. */
  readonly known: readonly string[];
}

/** Every role of the store on one database, with its lifecycle. */
export interface Store
  extends TaskStore,
    DeadLetterStore,
    MetaStore,
    AuditStore,
    RegistryStore,
    IdempotencyStore,
    LedgerStore,
    MarketStore,
    StepStore,
    TaskClaimStore {
  /** `"sqlite"` or `"postgres"`. */
  readonly kind: string;
  /** The schema version of the database and of this build. */
  schemaStatus(): Promise<SchemaStatus>;
  /**
   * Commits the completions and ledger operations already requested, waits
   * for calls still running, then releases the database. Idempotent; every
   * call after it rejects with `ClosedError`.
   */
  close(): Promise<void>;
}
