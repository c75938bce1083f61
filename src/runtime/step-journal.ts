import { DuplicateStepError, NonDeterminismError } from "../errors/llm.js";
import type { StepJournal } from "../llm/ports.js";
import type { StepRecord, StepStore } from "../store/ports/steps.js";
import { derivedUlid } from "../wire/ulid.js";

/**
 * The journal of one execution of a task, kept in the store: each step's
 * result is recorded under (task, position, name) once its function
 * resolved, and a redelivered task replays recorded steps instead of
 * running them again (no model request sent, nothing charged twice). The
 * task's records are read once, on its first step. See `StepJournal` for
 * the contract (positions, non-determinism, duplicate names).
 */
export class StoreStepJournal implements StepJournal {
  readonly #store: StepStore;
  readonly #taskId: string;
  readonly #now: () => number;
  readonly #keep: <T>(write: () => Promise<T>) => Promise<T>;
  #records: Promise<Map<number, StepRecord>> | undefined;
  #position = 0;
  readonly #used = new Set<string>();
  /** Steps replayed from the journal in this execution. */
  replayed = 0;

  /**
   * @param keep Runs the write of a step's result: a result already paid
   *   for (a model call sent and charged) must not be lost to a moment's
   *   store outage, or the handler would run the step, and pay, again.
   */
  constructor(
    store: StepStore,
    taskId: string,
    now: () => number,
    keep: <T>(write: () => Promise<T>) => Promise<T> = (write) => write(),
  ) {
    this.#store = store;
    this.#taskId = taskId;
    this.#now = now;
    this.#keep = keep;
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    // Positions follow call order: taken before any await.
    const position = this.#position++;
    if (this.#used.has(name)) throw new DuplicateStepError(name);
    this.#used.add(name);
    const records = await this.#load();
    const recorded = records.get(position);
    if (recorded !== undefined) {
      if (recorded.name !== name) throw new NonDeterminismError(position, recorded.name, name);
      this.replayed++;
      return recorded.result as T;
    }
    for (const other of records.values()) {
      if (other.name === name) throw new NonDeterminismError(other.position, other.name, name);
    }
    const result = await fn();
    // What replay will give back: the JSON round trip.
    const stored = result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
    const record = { taskId: this.#taskId, position, name, result: stored, at: this.#now() };
    const { recorded: ours, stored: kept } = await this.#keep(() => this.#store.recordStep(record));
    if (kept.name !== name) throw new NonDeterminismError(position, kept.name, name);
    // Another execution recorded first (a duplicate delivery): its result stands.
    return ours ? result : (kept.result as T);
  }

  #load(): Promise<Map<number, StepRecord>> {
    this.#records ??= this.#store
      .steps(this.#taskId)
      .then((list) => new Map(list.map((r) => [r.position, r])));
    return this.#records;
  }
}

/**
 * The id of a child task a step submits: derived from the parent task and
 * the step's name, so a replayed step submits the very same task (and the
 * bus and the outbox drop the repeat). A ULID: the parent's time, then 16
 * characters of a SHA-256 of (parent, step) in Crockford base32.
 */
export function childTaskId(parentId: string, step: string): string {
  return derivedUlid(parentId, `${parentId}\n${step}`);
}
