import type { Store } from "../store/port.js";
import { createSharedDedupStore, type DedupStore } from "../transport/amqp/dedup.js";

/**
 * The AMQP adapter's enqueue deduplication on the swarm store's idempotency
 * keys (`amqp.enqueue:<id>#<n>`), so an envelope id enqueued again by any
 * process of the swarm, or by this one after a restart, is dropped within
 * the dedup window, as NATS JetStream's `Nats-Msg-Id` window does on the
 * server. (The transport may not import the store: this is the bridge.)
 *
 * @example
 * ```ts
 * const store = await openPostgresStore({ url });
 * const bus = await createAmqpTransport({ url: amqpUrl, dedup: storeDedup(store) });
 * ```
 */
export function storeDedup(store: Store): DedupStore {
  return createSharedDedupStore({
    async claim(key, value) {
      const claim = await store.claimIdempotencyKey(key, value, { at: value.at });
      return claim.first ? { first: true } : { first: false, value: claim.result };
    },
  });
}
