/** `MetaStore` over Kysely, for both dialects. */
import type { MetaStore } from "../ports/meta.js";
import type { StoreCore } from "./core.js";

export class KyselyMetaStore implements MetaStore {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  getMeta(key: string): Promise<string | undefined> {
    return this.#core.run("reading meta", async () => {
      const row = await this.#core.db
        .selectFrom("conclave_meta")
        .select("value")
        .where("key", "=", key)
        .executeTakeFirst();
      return row?.value;
    });
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.#core.run("writing meta", async () => {
      await this.#core.db
        .insertInto("conclave_meta")
        .values({ key, value })
        .onConflict((oc) =>
          oc.column("key").doUpdateSet((eb) => ({ value: eb.ref("excluded.value") })),
        )
        .execute();
    });
  }
}
