import { StateMismatchError } from "../errors/index.js";
import type { Store } from "../store/port.js";
import type { Journal } from "../transport/memory/journal.js";
import { ulid } from "../wire/ulid.js";

/**
 * The key under which the store's meta table and the queue journal's meta
 * table record the id of the run they belong to.
 */
export const RUN_ID_KEY = "run.id";

/** The two halves of an embedded node's durable state, and how to name them in messages. */
export interface RunStateParts {
  readonly journal: Journal;
  /** The journal's file, for messages. */
  readonly journalPath: string;
  readonly store: Store;
  /** The store, credentials removed, for messages. */
  readonly storeName: string;
}

/**
 * Makes sure an embedded node resumes from a queue journal and a store that
 * belong together, and records which run they belong to on the first start.
 *
 * The journal holds the queued, unacknowledged messages; the store the
 * completed tasks and their effects. Paired with another run's half, a
 * restart redelivers messages the store never saw, or runs tasks again
 * whose effects it already holds (a run reported `duplicateEffects: 2` that
 * way). So both record a run id (a ULID), written together when neither
 * has one:
 * - the same id in both: they belong together;
 * - different ids: refused;
 * - an id in one only: the other is adopted (the id copied to it) when
 *   neither holds data (a new store beside a drained journal, or a start
 *   that stopped between the two writes), and refused otherwise;
 * - no id in either: a new id for both (also how state written before run
 *   ids existed is adopted).
 *
 * Only for the embedded memory transport: a broker keeps no journal here.
 *
 * @returns the run id both now record.
 * @throws StateMismatchError when the journal and the store belong to different runs.
 */
export async function bindRunState(
  parts: RunStateParts,
  newRunId: () => string = () => ulid(),
): Promise<string> {
  const { journal, store } = parts;
  const journalRun = journal.getMeta(RUN_ID_KEY);
  const storeRun = await store.getMeta(RUN_ID_KEY);
  const refuse = (reason: string) =>
    new StateMismatchError(parts.journalPath, parts.storeName, reason);
  if (journalRun !== undefined && storeRun !== undefined) {
    if (journalRun === storeRun) return journalRun;
    throw refuse(`the journal records run ${journalRun}, the store run ${storeRun}`);
  }
  if (journalRun === undefined && storeRun === undefined) {
    const id = newRunId();
    journal.setMeta(RUN_ID_KEY, id);
    await store.setMeta(RUN_ID_KEY, id);
    return id;
  }
  const [holder, other] = journalRun === undefined ? ["store", "journal"] : ["journal", "store"];
  const id = journalRun ?? (storeRun as string); // exactly one records an id here
  if (journal.holdsMessages() || (await storeHoldsData(store))) {
    throw refuse(
      `the ${holder} records run ${id} and the ${other} none, but they already hold data: the ${other} comes from another run or was replaced`,
    );
  }
  if (journalRun === undefined) journal.setMeta(RUN_ID_KEY, id);
  else await store.setMeta(RUN_ID_KEY, id);
  return id;
}

/** Whether a run has left anything in the store: effects, outbox, dead letters or decisions. */
async function storeHoldsData(store: Store): Promise<boolean> {
  if ((await store.allEffectStats()).some((s) => s.keys > 0)) return true;
  if ((await store.pendingOutbox({ limit: 1 })).length > 0) return true;
  if ((await store.sentOutbox({ sentBefore: Number.MAX_SAFE_INTEGER, limit: 1 })).length > 0) {
    return true;
  }
  if ((await store.deadLetters({ limit: 1 })).length > 0) return true;
  return (await store.auditLog({ limit: 1 })).length > 0;
}
