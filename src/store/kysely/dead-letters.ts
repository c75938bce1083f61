/** `DeadLetterStore` over Kysely, for both dialects. */
import type { DeadLetterRecord, DeadLetterStore } from "../ports/dead-letters.js";
import type { StoreCore } from "./core.js";

export class KyselyDeadLetterStore implements DeadLetterStore {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  recordDeadLetter(r: DeadLetterRecord): Promise<void> {
    return this.#core.run("recording a dead letter", async () => {
      await this.#core.db
        .insertInto("conclave_dead_letters")
        .values({
          id: r.id,
          subject: r.subject,
          reason: r.reason,
          deliveries: r.deliveries,
          at: r.at,
          corr: r.corr ?? null,
          type: r.type ?? null,
          data: r.data,
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
    });
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
      return rows.map((r) => ({
        id: r.id,
        subject: r.subject,
        reason: r.reason,
        deliveries: r.deliveries,
        at: r.at,
        data: r.data,
        ...(r.corr === null ? {} : { corr: r.corr }),
        ...(r.type === null ? {} : { type: r.type }),
      }));
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
