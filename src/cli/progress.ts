import type { SwarmEvent } from "../runtime/events.js";
import type { WorkloadProgress } from "../runtime/workload.js";

/** Counters of what one run observed, beside the store's measured progress. */
export class RunCounters {
  retries = 0;
  failures = 0;
  duplicates = 0;
  rejected = 0;
  crashes = 0;
  /** Tasks of another run of the swarm met on the queues and parked (`task.other_run`). */
  otherRuns = 0;
  /** Model calls answered from the step journal in this run (no request sent). */
  replayedCalls = 0;
  readonly completedBy = new Map<string, number>();
  readonly halted = new Set<string>();
  /** Set when a write failed because the disk under the store or the journal is full (`store.full`). */
  storeFull: string | undefined;
  /** Agents given up on after their restarts, with the last error. */
  readonly gaveUp = new Map<string, string>();
  readonly deadReasons = new Map<string, number>();

  observe(event: SwarmEvent): void {
    switch (event.type) {
      case "task.completed":
        this.completedBy.set(event.agent, (this.completedBy.get(event.agent) ?? 0) + 1);
        break;
      case "task.failed":
        this.failures++;
        if (event.willRetry) this.retries++;
        break;
      case "task.duplicate":
        this.duplicates++;
        break;
      case "task.other_run":
        this.otherRuns++;
        break;
      case "task.dead_lettered": {
        const reason = event.reason.replace(/[0-9A-HJKMNP-TV-Z]{26}/g, "…").slice(0, 120);
        this.deadReasons.set(reason, (this.deadReasons.get(reason) ?? 0) + 1);
        break;
      }
      case "message.rejected":
        this.rejected++;
        break;
      case "agent.crashed":
        this.crashes++;
        break;
      case "store.full":
        this.storeFull ??= event.error;
        break;
      case "agent.gave_up":
        this.gaveUp.set(event.agent, event.error);
        break;
      case "agent.halted":
        this.halted.add(event.agent);
        break;
      case "llm.call":
        if (event.replayed) this.replayedCalls++;
        break;
      default:
        break;
    }
  }
}

export interface ProgressOptions {
  readonly stream: NodeJS.WriteStream;
  readonly color: boolean;
}

/**
 * Shows a run's progress on stderr: a live bar on a terminal, a plain line
 * every second otherwise (logs and CI).
 */
export class ProgressView {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #color: boolean;
  #lastPlain = 0;
  #drawn = false;
  #unprinted: string | undefined;

  constructor(options: ProgressOptions) {
    this.#out = options.stream;
    this.#tty = options.stream.isTTY === true;
    this.#color = options.color && this.#tty;
  }

  update(p: WorkloadProgress, counters: RunCounters, elapsedMs: number): void {
    const settled = p.completed + p.deadLettered;
    const total = Math.max(p.submitted, 1);
    const secs = (elapsedMs / 1000).toFixed(1);
    const stats = `${settled}/${p.submitted} settled · ${p.completed} completed · ${p.deadLettered} dead-lettered · ${counters.retries} retries · ${secs}s`;
    if (this.#tty) {
      const width = 24;
      const filled = Math.round((settled / total) * width);
      const bar = "█".repeat(filled) + "░".repeat(width - filled);
      const painted = this.#color ? `\x1b[36m${bar}\x1b[0m` : bar;
      this.#out.write(`\r\x1b[2K${painted} ${stats}`);
      this.#drawn = true;
    } else if (elapsedMs - this.#lastPlain >= 1000) {
      this.#lastPlain = elapsedMs;
      this.#unprinted = undefined;
      this.#out.write(`progress: ${stats}\n`);
    } else {
      this.#unprinted = stats;
    }
  }

  /** Finishes the bar, or prints the final plain line. */
  end(): void {
    if (this.#drawn) this.#out.write("\n");
    else if (this.#unprinted) this.#out.write(`progress: ${this.#unprinted}\n`);
    this.#drawn = false;
    this.#unprinted = undefined;
  }
}

/** Whether to colour output: a terminal, and NO_COLOR unset (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && !process.env["NO_COLOR"];
}
