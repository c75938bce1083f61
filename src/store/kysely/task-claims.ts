/**
 * `TaskClaimStore` over Kysely. The claims asked in one turn of the
 * microtask queue go to the database together: one upsert of every id
 * (the primary key and the upsert's condition decide who holds each), and
 * one read of the holders of the ids refused, so a burst of deliveries
 * costs a statement or two, not one per task.
 */
import type { TaskClaim, TaskClaimStore } from "../ports/task-claims.js";
import { chunks, type StoreCore } from "./core.js";
import type { HotPath } from "./hot-path.js";

interface PendingClaim {
  readonly taskId: string;
  readonly owner: string;
  readonly now: number;
  readonly expiresAt: number;
  resolve(claim: TaskClaim): void;
  reject(error: unknown): void;
}

export class KyselyTaskClaimStore implements TaskClaimStore {
  readonly #core: StoreCore;
  #pending: PendingClaim[] = [];

  readonly #hot: HotPath | undefined;

  constructor(core: StoreCore, hot?: HotPath) {
    this.#core = core;
    this.#hot = hot;
  }

  claimTask(
    taskId: string,
    owner: string,
    times: { readonly now: number; readonly expiresAt: number },
  ): Promise<TaskClaim> {
    if (this.#core.closing) return Promise.reject(this.#core.closedError());
    return new Promise((resolve, reject) => {
      const claim = { taskId, owner, now: times.now, expiresAt: times.expiresAt, resolve, reject };
      if (this.#pending.push(claim) === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    this.#core
      .run("claiming tasks", () => this.#claimAll(batch))
      .then(
        (holders) => {
          for (const c of batch) {
            const holder = holders.get(c.taskId);
            c.resolve(
              holder === undefined || holder.owner === c.owner
                ? { claimed: true }
                : { claimed: false, owner: holder.owner, expiresAt: holder.expiresAt },
            );
          }
        },
        (error: unknown) => {
          for (const c of batch) c.reject(error);
        },
      );
  }

  /** Claims every id of the batch; returns each id's holder after the batch. */
  async #claimAll(
    batch: readonly PendingClaim[],
  ): Promise<Map<string, { owner: string; expiresAt: number }>> {
    // One row per id (an upsert may not touch a row twice): the first claim
    // of an id in the batch is written; a later one of the same id is
    // granted only when it has the same owner.
    const first = new Map<string, PendingClaim>();
    for (const c of batch) if (!first.has(c.taskId)) first.set(c.taskId, c);
    // Judged at the earliest `now` of the batch: a claim found expired then is
    // expired for every claim of the batch.
    const now = Math.min(...batch.map((c) => c.now));
    const holders = new Map<string, { owner: string; expiresAt: number }>();
    if (this.#hot?.claimTasks) {
      for (const row of await this.#hot.claimTasks([...first.values()], now)) {
        holders.set(row.taskId, { owner: row.owner, expiresAt: row.expiresAt });
      }
      return holders;
    }
    for (const rows of chunks([...first.values()])) {
      const granted = await this.#core.db
        .insertInto("conclave_task_claims")
        .values(rows.map((c) => ({ task_id: c.taskId, owner: c.owner, expires_at: c.expiresAt })))
        .onConflict((oc) =>
          oc
            .column("task_id")
            .doUpdateSet({
              owner: (eb) => eb.ref("excluded.owner"),
              expires_at: (eb) => eb.ref("excluded.expires_at"),
            })
            .where((eb) =>
              eb.or([
                eb("conclave_task_claims.expires_at", "<=", now),
                eb("conclave_task_claims.owner", "=", eb.ref("excluded.owner")),
              ]),
            ),
        )
        .returning(["task_id", "owner", "expires_at"])
        .execute();
      for (const row of granted) {
        holders.set(row.task_id, { owner: row.owner, expiresAt: Number(row.expires_at) });
      }
      const refused = rows.filter((c) => !holders.has(c.taskId)).map((c) => c.taskId);
      if (refused.length === 0) continue;
      const held = await this.#core.db
        .selectFrom("conclave_task_claims")
        .select(["task_id", "owner", "expires_at"])
        .where("task_id", "in", refused)
        .execute();
      for (const row of held) {
        holders.set(row.task_id, { owner: row.owner, expiresAt: Number(row.expires_at) });
      }
      // Released between the two statements: not claimed by this batch
      // either; the claimer asks again.
      for (const id of refused) {
        if (!holders.has(id)) holders.set(id, { owner: "(released meanwhile)", expiresAt: now });
      }
    }
    return holders;
  }

  extendTaskClaims(owner: string, taskIds: readonly string[], expiresAt: number): Promise<number> {
    if (taskIds.length === 0) return Promise.resolve(0);
    return this.#core.run("extending task claims", async () => {
      let moved = 0;
      for (const ids of chunks(taskIds)) {
        const result = await this.#core.db
          .updateTable("conclave_task_claims")
          .set({ expires_at: expiresAt })
          .where("owner", "=", owner)
          .where("task_id", "in", ids)
          .executeTakeFirst();
        moved += Number(result.numUpdatedRows);
      }
      return moved;
    });
  }

  releaseTaskClaim(taskId: string, owner: string): Promise<boolean> {
    return this.#core.run("releasing a task claim", async () => {
      const result = await this.#core.db
        .deleteFrom("conclave_task_claims")
        .where("task_id", "=", taskId)
        .where("owner", "=", owner)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  pruneTaskClaims(before: number): Promise<number> {
    return this.#core.run("pruning task claims", async () => {
      const result = await this.#core.db
        .deleteFrom("conclave_task_claims")
        .where("expires_at", "<", before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }
}
