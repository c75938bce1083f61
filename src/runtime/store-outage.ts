import { toError } from "../errors/index.js";
import { isStoreUnreachable } from "../store/unreachable.js";
import type { Delivery } from "../transport/port.js";
import type { NodeContext } from "./node-context.js";

/** The first wait after a failed call to an unreachable store, ms; doubled up to {@link MAX_STORE_RETRY_MS}. */
export const FIRST_STORE_RETRY_MS = 100;
/** The longest wait between two calls to an unreachable store, ms. */
export const MAX_STORE_RETRY_MS = 2000;

/** What a task waiting out a store outage needs from its node. */
export type StoreOutageHost = Pick<NodeContext, "clock" | "events" | "leases">;

/** The task that waits: its delivery (whose lease is kept), its lease period, who runs it. */
export interface StoreOutageTask {
  readonly delivery: Delivery;
  readonly ackWaitMs: number;
  readonly agent: string;
  readonly id: string;
}

/**
 * Runs `call`; while it fails because the store cannot be reached
 * ({@link isStoreUnreachable}), waits with backoff and runs it again,
 * keeping the task's lease as a slow handler keeps it. A store outage is
 * not the task's fault, so it must not spend the task's deliveries (each
 * nak does, and `maxDeliver` is gone within a second while a database
 * restarts); a task waiting here also holds its agent's slot, so the agent
 * takes no new work until the store answers. Any other failure is thrown
 * at once. `call` must be safe to repeat (a read, or an idempotent write
 * such as a completion by task id). Reports `store.unreachable` when the
 * wait begins and `store.reachable` when it ends.
 */
export function whileStoreUnreachable<T>(
  host: StoreOutageHost,
  task: StoreOutageTask,
  call: () => Promise<T>,
): Promise<T> {
  return untilReachable(host, task, call, () => host.leases.keep(task.delivery, task.ackWaitMs));
}

/**
 * How many times a handler that failed on an unreachable store runs again
 * on the same delivery before its failure counts as usual (a nak that
 * spends the delivery): a handler whose own store calls keep failing while
 * the store answers the pipeline must not loop for ever.
 */
export const MAX_OUTAGE_RERUNS = 10;

/**
 * After a handler failed on an unreachable store: waits a moment, then
 * until `probe` (a store read) answers, keeping the task's lease; the
 * caller then runs the handler again on the same delivery.
 */
export async function waitForStore(
  host: StoreOutageHost,
  task: StoreOutageTask,
  probe: () => Promise<unknown>,
): Promise<void> {
  const release = host.leases.keep(task.delivery, task.ackWaitMs);
  try {
    await new Promise<void>((resolve) => host.clock.setTimer(resolve, FIRST_STORE_RETRY_MS));
  } finally {
    release();
  }
  await whileStoreUnreachable(host, task, probe);
}

/**
 * {@link whileStoreUnreachable} for a write inside a running handler (a
 * paid step's record), whose lease the runtime keeps while the handler
 * runs: waits out an outage rather than losing what the call cost, until
 * the store answers or `signal` aborts (the node stops, the deadline passes).
 */
export function inHandlerWhileStoreUnreachable<T>(
  host: Pick<NodeContext, "clock" | "events">,
  who: { readonly agent: string; readonly id: string; readonly signal: AbortSignal },
  call: () => Promise<T>,
): Promise<T> {
  return untilReachable(host, who, call, () => () => {}, who.signal);
}

/** Runs `call`, then again with backoff while the store is unreachable, holding `keepLease()` meanwhile. */
async function untilReachable<T>(
  host: Pick<NodeContext, "clock" | "events">,
  task: { readonly agent: string; readonly id: string },
  call: () => Promise<T>,
  keepLease: () => () => void,
  signal?: AbortSignal,
): Promise<T> {
  let first: unknown;
  try {
    return await call();
  } catch (error) {
    if (!isStoreUnreachable(error)) throw error;
    first = error;
  }
  const { clock, events } = host;
  const since = clock.now();
  events.emit({
    type: "store.unreachable",
    agent: task.agent,
    id: task.id,
    reason: toError(first).message,
  });
  const release = keepLease();
  try {
    for (let waitMs = FIRST_STORE_RETRY_MS; ; waitMs = Math.min(waitMs * 2, MAX_STORE_RETRY_MS)) {
      await new Promise<void>((resolve) => clock.setTimer(resolve, waitMs));
      try {
        const result = await call();
        events.emit({
          type: "store.reachable",
          agent: task.agent,
          id: task.id,
          waitedMs: clock.now() - since,
        });
        return result;
      } catch (error) {
        if (!isStoreUnreachable(error) || signal?.aborted === true) throw error;
      }
    }
  } finally {
    release();
  }
}
