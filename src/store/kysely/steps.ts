/** `StepStore` over Kysely: the (task, position) primary key decides which record is first. */
import { StoreError } from "../../errors/index.js";
import type { StepRecord, StepStore } from "../ports/steps.js";
import { type StoreCore, strictJson } from "./core.js";

export class KyselyStepStore implements StepStore {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  recordStep(record: StepRecord): Promise<{ recorded: boolean; stored: StepRecord }> {
    let json: string;
    try {
      json = strictJson(record.result ?? null);
    } catch (cause) {
      return Promise.reject(
        new StoreError(
          `step "${record.name}" of task ${record.taskId}: its result is not JSON-serialisable; return plain data from the step`,
          { cause },
        ),
      );
    }
    return this.#core.run("recording a step", async () => {
      const inserted = await this.#core.db
        .insertInto("conclave_steps")
        .values({
          task_id: record.taskId,
          position: record.position,
          name: record.name,
          result: json,
          at: record.at,
        })
        .onConflict((oc) => oc.columns(["task_id", "position"]).doNothing())
        .returning("task_id")
        .execute();
      if (inserted.length > 0) {
        return { recorded: true, stored: { ...record, result: JSON.parse(json) as unknown } };
      }
      const row = await this.#core.db
        .selectFrom("conclave_steps")
        .selectAll()
        .where("task_id", "=", record.taskId)
        .where("position", "=", record.position)
        .executeTakeFirstOrThrow();
      return { recorded: false, stored: toRecord(row) };
    });
  }

  steps(taskId: string): Promise<StepRecord[]> {
    return this.#core.run("reading steps", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_steps")
        .selectAll()
        .where("task_id", "=", taskId)
        .orderBy("position")
        .execute();
      return rows.map(toRecord);
    });
  }

  pruneSteps(before: number): Promise<number> {
    return this.#core.run("pruning steps", async () => {
      const result = await this.#core.db
        .deleteFrom("conclave_steps")
        .where("at", "<", before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }
}

function toRecord(row: {
  task_id: string;
  position: number;
  name: string;
  result: string;
  at: number;
}): StepRecord {
  return {
    taskId: row.task_id,
    position: Number(row.position),
    name: row.name,
    result: JSON.parse(row.result) as unknown,
    at: Number(row.at),
  };
}
