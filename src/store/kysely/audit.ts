/**
 * `AuditStore` over Kysely. Appends are serialised per database: on
 * Postgres by a table lock that conflicts with itself (not with readers), on
 * SQLite by the write lock every transaction takes (`begin immediate`).
 */
import { sql } from "kysely";
import { StoreError } from "../../errors/index.js";
import { auditHash } from "../audit-chain.js";
import type { AuditEntry, AuditRecord, AuditStore } from "../ports/audit.js";
import { type StoreCore, strictJson } from "./core.js";

export class KyselyAuditStore implements AuditStore {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  appendAudit(entry: AuditEntry): Promise<AuditRecord> {
    // NUL too: Postgres cannot store it in text, so SQLite alone appended such an entry.
    if (entry.kind.length === 0 || /[\r\n]/.test(entry.kind) || entry.kind.includes("\u0000")) {
      return Promise.reject(
        new StoreError(
          `audit kind ${JSON.stringify(entry.kind)} must be non-empty, on one line, without NUL characters`,
        ),
      );
    }
    let data: string;
    try {
      data = entry.data === undefined ? "null" : strictJson(entry.data);
    } catch (cause) {
      return Promise.reject(
        new StoreError("audit data is not JSON-serialisable; append plain data", { cause }),
      );
    }
    const hash = entry.hash ?? auditHash;
    return this.#core.run("appending to the audit log", () =>
      this.#core.transaction(async (trx) => {
        if (this.#core.dialect === "postgres") {
          // Serialises appenders across connections and processes: the lock
          // conflicts with itself, not with readers. (SQLite: the
          // transaction already holds the database's only write lock.)
          await sql`lock table conclave_audit_log in share row exclusive mode`.execute(trx);
        }
        const last = await trx
          .selectFrom("conclave_audit_log")
          .select(["seq", "hash"])
          .orderBy("seq", "desc")
          .limit(1)
          .executeTakeFirst();
        const link = {
          seq: (last?.seq ?? 0) + 1,
          kind: entry.kind,
          data,
          prevHash: last?.hash ?? null,
        };
        const record = { ...link, hash: hash(link) };
        await trx
          .insertInto("conclave_audit_log")
          .values({
            seq: record.seq,
            kind: record.kind,
            data,
            prev_hash: record.prevHash,
            hash: record.hash,
          })
          .execute();
        return { ...record, data: JSON.parse(data) as unknown };
      }),
    );
  }

  auditLog(options: { fromSeq?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    return this.#core.run("reading the audit log", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_audit_log")
        .selectAll()
        .where("seq", ">=", options.fromSeq ?? 1)
        .orderBy("seq")
        .limit(options.limit ?? 10_000)
        .execute();
      return rows.map((r) => ({
        seq: r.seq,
        kind: r.kind,
        data: JSON.parse(r.data) as unknown,
        prevHash: r.prev_hash,
        hash: r.hash,
      }));
    });
  }
}
