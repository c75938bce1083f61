/**
 * The store's versioned schema: the migrations in order, Kysely's Migrator
 * over an in-code provider, and the refusal to open a store written by a
 * newer conclave.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";
import { StoreError } from "../../errors/index.js";
import {
  type Database,
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  type StoreDialect,
} from "../schema.js";
import { core } from "./001-core.js";
import { coordination } from "./002-coordination.js";
import { ledger } from "./003-ledger.js";
import { market } from "./004-market.js";
import { steps } from "./005-steps.js";
import { lineage } from "./006-lineage.js";
import { taskClaims } from "./007-task-claims.js";
import { outboxSent } from "./008-outbox-sent.js";
import type { StoreMigration } from "./migration.js";

export type { StoreMigration } from "./migration.js";

/** Every migration, oldest first. The last one's name is the schema version this build writes. */
export const migrations: readonly StoreMigration[] = Object.freeze([
  core,
  coordination,
  ledger,
  market,
  steps,
  lineage,
  taskClaims,
  outboxSent,
]);

/** A migration recorded in a store. */
export interface AppliedMigration {
  readonly name: string;
  /** ISO 8601, as Kysely's Migrator records it. */
  readonly appliedAt: string;
}

/** Kysely's `MigrationProvider` over the in-code list, bound to one dialect. */
export function migrationProvider(dialect: StoreDialect): MigrationProvider {
  return {
    async getMigrations() {
      const all: Record<string, Migration> = {};
      for (const m of migrations) {
        const down = m.down;
        all[m.name] = {
          up: (db) => m.up(db, dialect),
          ...(down ? { down: (db: Kysely<unknown>) => down(db, dialect) } : {}),
        };
      }
      return all;
    },
  };
}

/**
 * The migrations recorded in the store, oldest first; empty for a new store.
 * `schema` is the Postgres schema holding the tables (unused on SQLite).
 */
export async function appliedMigrations(
  db: Kysely<Database>,
  dialect: StoreDialect,
  schema?: string,
): Promise<AppliedMigration[]> {
  // Whether the table exists is a catalog question, asked differently per dialect.
  const exists =
    dialect === "postgres"
      ? (
          await sql<{
            found: string | null;
          }>`select to_regclass(${`${quoteIdentifier(schema ?? "public")}.${MIGRATION_TABLE}`})::text as found`.execute(
            db,
          )
        ).rows[0]?.found != null
      : (
          await sql<{
            name: string;
          }>`select name from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(
            db,
          )
        ).rows.length > 0;
  if (!exists) return [];
  const table = schema === undefined ? sql.table(MIGRATION_TABLE) : sql.id(schema, MIGRATION_TABLE);
  const rows = (
    await sql<{ name: string; timestamp: string }>`select name, timestamp from ${table}`.execute(db)
  ).rows;
  return rows
    .map((r) => ({ name: r.name, appliedAt: r.timestamp }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Throws a `StoreError` when the store records a migration this build does
 * not know: a newer conclave wrote it, and an older one must not touch it.
 */
export function refuseNewerSchema(
  applied: readonly { readonly name: string }[],
  where: string,
): void {
  const known = new Set(migrations.map((m) => m.name));
  const unknown = applied.filter((m) => !known.has(m.name)).map((m) => m.name);
  if (unknown.length === 0) return;
  const latest = migrations.at(-1)?.name ?? "none";
  throw new StoreError(
    `${where} was written by a newer conclave (schema ${unknown.join(", ")}; this build knows up to ${latest}): upgrade conclave to open it`,
  );
}

/**
 * Brings the store to the latest schema. A store already there is left
 * untouched (no Migrator run, no lock taken); one from a newer conclave is
 * refused. Concurrent openers are safe: the Migrator takes its lock
 * (Postgres: an advisory lock; SQLite: `begin immediate`, see sqlite-store.ts)
 * and re-reads what is applied under it.
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  dialect: StoreDialect,
  where: string,
  schema?: string,
): Promise<void> {
  const before = await appliedMigrations(db, dialect, schema);
  refuseNewerSchema(before, where);
  if (migrations.every((m) => before.some((a) => a.name === m.name))) return;
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely's Migrator lists the tables of every schema of the database
  // before it migrates; another schema dropped meanwhile (another swarm's
  // store removed) fails that listing. Each migration is a transaction of
  // its own, so running again is safe.
  for (let retry = 0; retry < 5 && droppedMeanwhile(error, schema); retry++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error === undefined) return;
  // A newer conclave may have migrated between our check and the Migrator's.
  refuseNewerSchema(await appliedMigrations(db, dialect, schema), where);
  const failed = results?.find((r) => r.status === "Error")?.migrationName;
  throw new StoreError(
    `migrating ${where} ${failed ? `failed at ${failed}` : "failed"}: ${describe(error)}; the store is unchanged past the last applied migration, fix the cause and reopen`,
    { cause: error },
  );
}

/** `"name"`, with embedded quotes doubled: a Postgres identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Whether `error` is Postgres's "schema … does not exist" (3F000) or
 * "relation "<schema>.<table>" does not exist" (42P01) for a schema other
 * than ours: the listing met another store while it was being dropped.
 */
function droppedMeanwhile(error: unknown, ours: string | undefined): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const named =
    code === "3F000"
      ? /schema "([^"]+)" does not exist/.exec(error.message)?.[1]
      : code === "42P01"
        ? /relation "([^".]+)\.[^"]+" does not exist/.exec(error.message)?.[1]
        : undefined;
  return named !== undefined && named !== ours;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
