/** `IdempotencyStore` over Kysely: the primary key decides which claim is first. */
import { sql } from "kysely";
import { StoreError } from "../../errors/index.js";
import type {
  IdempotencyClaim,
  IdempotencyStore,
  PruneIdempotencyKeysOptions,
} from "../ports/idempotency.js";
import { type StoreCore, strictJson } from "./core.js";

export class KyselyIdempotencyStore implements IdempotencyStore {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  claimIdempotencyKey(
    key: string,
    result?: unknown,
    options: { at?: number } = {},
  ): Promise<IdempotencyClaim> {
    let json: string | null;
    try {
      json = result === undefined ? null : strictJson(result);
    } catch (cause) {
      return Promise.reject(
        new StoreError(
          `the result for idempotency key ${key} is not JSON-serialisable; claim it with plain data (or no result)`,
          {
            cause,
          },
        ),
      );
    }
    const at = options.at ?? this.#core.clock.now();
    return this.#core.run("claiming an idempotency key", async () => {
      // The primary key decides: of concurrent inserts exactly one returns a row.
      const claimed = await this.#core.db
        .insertInto("conclave_idempotency")
        .values({ key, result: json, at })
        .onConflict((oc) => oc.column("key").doNothing())
        .returning("key")
        .execute();
      if (claimed.length > 0) return { first: true };
      const row = await this.#core.db
        .selectFrom("conclave_idempotency")
        .select("result")
        .where("key", "=", key)
        .executeTakeFirst();
      return row?.result == null
        ? { first: false }
        : { first: false, result: JSON.parse(row.result) as unknown };
    });
  }

  pruneIdempotencyKeys(before: number, options: PruneIdempotencyKeysOptions = {}): Promise<number> {
    const prefix = options.prefix ?? "";
    return this.#core.run("pruning idempotency keys", async () => {
      let query = this.#core.db.deleteFrom("conclave_idempotency").where("at", "<", before);
      if (prefix !== "") {
        // An exact prefix test on both databases: LIKE would read `%` and `_`
        // in the prefix as wildcards. SQLite and Postgres both count
        // characters (code points) in substr, not UTF-16 units as JS does.
        const length = [...prefix].length;
        query = query.where(
          sql<string>`substr(${sql.ref("key")}, 1, ${sql.lit(length)})`,
          "=",
          prefix,
        );
      }
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }
}
