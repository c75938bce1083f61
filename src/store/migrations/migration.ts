import type { Kysely } from "kysely";
import type { StoreDialect } from "../schema.js";

/**
 * One schema change, written once with Kysely's schema builder for both
 * dialects. `dialect` is there for the helpers in `./dialect.ts` only.
 * Migrations are append-only: never edit one that has shipped; add the next
 * `NNN-name.ts` and list it in `./index.ts`.
 */
export interface StoreMigration {
  /** `NNN-name`; applied in this order, recorded under this name. */
  readonly name: string;
  up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void>;
  down?(db: Kysely<unknown>, dialect: StoreDialect): Promise<void>;
}
