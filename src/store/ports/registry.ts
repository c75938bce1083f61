/**
 * `RegistryStore`: the snapshot of the registry's agent cards, so a node
 * that starts knows the swarm's agents before their next heartbeat.
 *
 * Contract (checked by `src/testkit/conformance/store/registry.ts`): cards are
 * kept by id, the newest save (by `updatedAt`) wins across handles and
 * processes, and a card without a non-empty string id or that is not
 * JSON-serialisable is refused with `StoreError`.
 */

/** An agent card as kept in the registry snapshot. */
export interface StoredAgentCard {
  /** The agent id (the card's `id`). */
  readonly id: string;
  /** The card, parsed back from JSON; the registry validates its shape. */
  readonly card: unknown;
  /** When the card was saved (ms since epoch): the newest save wins. */
  readonly updatedAt: number;
}

/** The registry snapshot: the last card saved for each agent, so a restarted node knows its peers. */
export interface RegistryStore {
  /**
   * Saves an agent's card (any JSON-serialisable object with an `id`) in
   * the registry snapshot, keyed by `card.id` (insert or replace). A save
   * older than the stored one (`updatedAt`, default now) is ignored, so a
   * late heartbeat never rolls a card back; `saved` says whether this one
   * was kept. Equal times: the later save wins.
   */
  saveAgentCard<Card extends { readonly id: string }>(
    card: Card,
    options?: { updatedAt?: number },
  ): Promise<{ saved: boolean }>;
  /** Every card in the snapshot, by agent id. */
  agentCards(): Promise<StoredAgentCard[]>;
  /** Removes an agent's card; removing a missing one is not an error. */
  removeAgentCard(id: string): Promise<void>;
}
