/** `RegistryStore` over Kysely: an upsert that keeps the newest card by `updatedAt`. */
import { StoreError } from "../../errors/index.js";
import type { RegistryStore, StoredAgentCard } from "../ports/registry.js";
import { type StoreCore, strictJson } from "./core.js";

export class KyselyRegistryStore implements RegistryStore {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  saveAgentCard<Card extends { readonly id: string }>(
    card: Card,
    options: { updatedAt?: number } = {},
  ): Promise<{ saved: boolean }> {
    if (typeof card.id !== "string" || card.id.length === 0) {
      return Promise.reject(new StoreError("an agent card needs a non-empty string id"));
    }
    let json: string;
    try {
      json = strictJson(card);
    } catch (cause) {
      return Promise.reject(
        new StoreError(`agent card ${card.id} is not JSON-serialisable; save plain data`, {
          cause,
        }),
      );
    }
    const updatedAt = options.updatedAt ?? this.#core.clock.now();
    return this.#core.run("saving an agent card", async () => {
      const rows = await this.#core.db
        .insertInto("conclave_registry")
        .values({ agent_id: card.id, card: json, updated_at: updatedAt })
        .onConflict((oc) =>
          oc
            .column("agent_id")
            .doUpdateSet((eb) => ({
              card: eb.ref("excluded.card"),
              updated_at: eb.ref("excluded.updated_at"),
            }))
            .where((eb) => eb("conclave_registry.updated_at", "<=", eb.ref("excluded.updated_at"))),
        )
        .returning("agent_id")
        .execute();
      return { saved: rows.length > 0 };
    });
  }

  agentCards(): Promise<StoredAgentCard[]> {
    return this.#core.run("reading agent cards", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_registry")
        .selectAll()
        .orderBy("agent_id")
        .execute();
      return rows.map((r) => ({
        id: r.agent_id,
        card: JSON.parse(r.card) as unknown,
        updatedAt: r.updated_at,
      }));
    });
  }

  removeAgentCard(id: string): Promise<void> {
    return this.#core.run("removing an agent card", async () => {
      await this.#core.db.deleteFrom("conclave_registry").where("agent_id", "=", id).execute();
    });
  }
}
