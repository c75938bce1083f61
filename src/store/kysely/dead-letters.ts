/** `DeadLetterStore` over Kysely, for both dialects. */
import type { Insertable } from "kysely";
import type { DeadLetterRecord, DeadLetterStore } from "../ports/dead-letters.js";
import type { OutboxEntry } from "../ports/tasks.js";
import type { OutboxTable } from "../schema.js";
import type { StoreCore } from "./core.js";
import { maxOutboxSeq } from "./tasks.js";

export class KyselyDeadLetterStore implements DeadLetterStore {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  recordDeadLetter(
    r: DeadLetterRecord,
    options: { readonly settles?: readonly string[] } = {},
  ): Promise<void> {
    const id = storable(r.id);
    const settled = [...new Set([id, ...(options.settles ?? []).map(storable)])];
    return this.#core.run("recording a dead letter", () =>
      this.#core.transaction(async (trx) => {
        await trx
          .insertInto("conclave_dead_letters")
          .values({
            id,
            subject: storable(r.subject),
            reason: storable(r.reason),
            deliveries: r.deliveries,
            at: r.at,
            corr: r.corr === undefined ? null : storable(r.corr),
            type: r.type === undefined ? null : storable(r.type),
            data: r.data,
          })
          .onConflict((oc) => oc.column("id").doNothing())
          .execute();
        // The sender's outbox entries of this message: settled, so no longer watched.
        await trx.deleteFrom("conclave_outbox").where("id", "in", settled).execute();
      }),
    );
  }

  deadLetters(options: { limit?: number } = {}): Promise<DeadLetterRecord[]> {
    return this.#core.run("reading dead letters", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_dead_letters")
        .selectAll()
        .orderBy("at")
        .orderBy("id")
        .limit(options.limit ?? 10_000)
        .execute();
      return rows.map(toRecord);
    });
  }

  deadLetter(id: string): Promise<DeadLetterRecord | undefined> {
    return this.#core.run("reading a dead letter", async () => {
      const r = await this.#core.db
        .selectFrom("conclave_dead_letters")
        .selectAll()
        .where("id", "=", storable(id))
        .executeTakeFirst();
      return r === undefined ? undefined : toRecord(r);
    });
  }

  redriveDeadLetter(id: string, send: Omit<OutboxEntry, "mode">): Promise<boolean> {
    return this.#core.run("redriving a dead letter", () =>
      this.#core.transaction(async (trx) => {
        const removed = await trx
          .deleteFrom("conclave_dead_letters")
          .where("id", "=", storable(id))
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) === 0) return false;
        const entry: Insertable<OutboxTable> = {
          id: send.id,
          task_id: send.taskId,
          mode: "enqueue",
          subject: send.subject,
          data: Buffer.from(send.data.buffer, send.data.byteOffset, send.data.byteLength),
        };
        if (this.#core.dialect === "sqlite") entry.seq = (await maxOutboxSeq(trx)) + 1;
        await trx
          .insertInto("conclave_outbox")
          .values(entry)
          .onConflict((oc) => oc.column("id").doNothing())
          .execute();
        return true;
      }),
    );
  }

  removeDeadLetter(id: string): Promise<boolean> {
    return this.#core.run("removing a dead letter", async () => {
      const result = await this.#core.db
        .deleteFrom("conclave_dead_letters")
        .where("id", "=", storable(id))
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  deadLetteredRoots(): Promise<string[]> {
    return this.#core.run("reading dead-lettered roots", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_dead_letters")
        .select("corr")
        .distinct()
        .where("corr", "is not", null)
        .orderBy("corr")
        .execute();
      return rows.flatMap((r) => (r.corr === null ? [] : [r.corr]));
    });
  }
}

/**
 * `text` with each NUL character written as the six characters `\u0000`.
 * A dead letter records broken input, and broken input may hold NULs (the
 * parse error of garbage bytes quotes them); Postgres cannot store a NUL in
 * text and refused the whole record, so the dead letter came back forever.
 * Written the same way on every backend, so a record reads back alike.
 */
function storable(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\\u0000") : text;
}

function toRecord(r: {
  id: string;
  subject: string;
  reason: string;
  deliveries: number;
  at: number;
  data: string;
  corr: string | null;
  type: string | null;
}): DeadLetterRecord {
  return {
    id: r.id,
    subject: r.subject,
    reason: r.reason,
    deliveries: Number(r.deliveries),
    at: Number(r.at),
    data: r.data,
    ...(r.corr === null ? {} : { corr: r.corr }),
    ...(r.type === null ? {} : { type: r.type }),
  };
}
