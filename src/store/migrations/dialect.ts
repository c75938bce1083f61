/**
 * The few places where SQLite and Postgres cannot share one schema-builder
 * call. Every migration goes through these helpers instead of branching on
 * the dialect itself, so the differences stay listed in one file.
 */
import { type ColumnDataType, type CreateTableBuilder, sql } from "kysely";
import type { StoreDialect } from "../schema.js";

/** Raw bytes: `blob` on SQLite, `bytea` on Postgres. */
export function bytesType(dialect: StoreDialect): ColumnDataType {
  return dialect === "postgres" ? "bytea" : "blob";
}

/**
 * An ever-increasing sequence column filled by the database on Postgres
 * (`bigserial`: concurrent transactions from several processes each draw
 * their own value). SQLite has no such column type outside the rowid, so
 * there the writer assigns it under the file's single write lock.
 */
export function sequenceType(dialect: StoreDialect): ColumnDataType {
  return dialect === "postgres" ? "bigserial" : "integer";
}

/**
 * `WITHOUT ROWID` on SQLite for tables looked up only by a text primary key:
 * one b-tree instead of a rowid table plus an index. Postgres has no rowid.
 */
export function clusteredByKey<T extends string, C extends string>(
  builder: CreateTableBuilder<T, C>,
  dialect: StoreDialect,
): CreateTableBuilder<T, C> {
  return dialect === "sqlite" ? builder.modifyEnd(sql`without rowid`) : builder;
}
