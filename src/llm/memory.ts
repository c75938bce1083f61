/**
 * In-memory implementations of the loop's ports: a journal and a budget that
 * keep their contracts (positions and non-determinism, atomic holds) without
 * a store. For tests, benchmarks, and loops run outside a swarm.
 */
import { DuplicateStepError, NonDeterminismError } from "../errors/llm.js";
import { AgentHaltedError, InsufficientCreditsError } from "../ledger/errors.js";
import type { Budget, ChargeDetails, Hold, HoldRequest, StepJournal } from "./ports.js";

/** An in-memory {@link StepJournal} whose records outlive one execution. */
export interface MemoryJournal extends StepJournal {
  /** Step names in recorded position order (a hole is a position whose step never completed). */
  readonly names: readonly (string | undefined)[];
  /**
   * A new execution of the same task over the same records, as a
   * redelivered task would run: positions start again at 0.
   */
  replay(): MemoryJournal;
}

interface JournalRecords {
  /** Position → name of the completed step there. */
  readonly names: (string | undefined)[];
  /** Name → (position, result as JSON text). */
  readonly results: Map<string, { readonly position: number; readonly json: string }>;
}

/**
 * Creates an empty in-memory journal; `replay()` gives the next execution.
 * Results are kept as JSON text, so a replayed result is exactly what a
 * store would give back (the first execution gets `fn`'s own value).
 *
 * @example
 * ```ts
 * const journal = createMemoryJournal();
 * await journal.step("fetch", async () => 42);         // runs
 * await journal.replay().step("fetch", async () => 0); // 42, without running
 * ```
 */
export function createMemoryJournal(): MemoryJournal {
  return execution({ names: [], results: new Map() });
}

function execution(records: JournalRecords): MemoryJournal {
  let position = 0;
  const used = new Set<string>();
  return {
    names: records.names,
    replay: () => execution(records),
    step<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const at = position++;
      if (used.has(name)) return Promise.reject(new DuplicateStepError(name));
      used.add(name);
      const expected = records.names[at];
      const recorded = records.results.get(name);
      if (expected !== undefined && expected !== name) {
        return Promise.reject(new NonDeterminismError(at, expected, name));
      }
      if (recorded !== undefined) {
        if (recorded.position !== at) {
          return Promise.reject(
            new NonDeterminismError(at, records.names[at] ?? "(nothing)", name),
          );
        }
        return Promise.resolve(JSON.parse(recorded.json) as T);
      }
      return fn().then((value) => {
        records.results.set(name, { position: at, json: JSON.stringify(value) ?? "null" });
        records.names[at] = name;
        return value;
      });
    },
  };
}

/** A settled or open hold, as the memory budget reports it. */
export interface MemoryCharge extends ChargeDetails {
  readonly credits: number;
  readonly held: number;
}

/** An in-memory {@link Budget} with its books open for assertions. */
export interface MemoryBudget extends Budget {
  /** Credits not yet charged (holds still count as the agent's). */
  readonly balance: number;
  /** Credits currently held. */
  readonly held: number;
  /** Every charge, in order. */
  readonly charges: readonly MemoryCharge[];
  /** Holds made so far (settled or not). */
  readonly holds: number;
  /** Halts or resumes the agent. */
  setHalted(halted: boolean): void;
}

/**
 * An in-memory budget of `credits` for agent `agent`, which may be shared by
 * many loops (tasks) at once. Holds are reserved synchronously, so
 * concurrent calls can never hold more than the balance; a hold settles
 * once. Nothing survives the process, so there is no crashed hold to reclaim.
 */
export function createMemoryBudget(credits: number, agent = "agent"): MemoryBudget {
  let balance = credits;
  let held = 0;
  let holds = 0;
  let halted = false;
  const charges: MemoryCharge[] = [];
  return {
    get balance() {
      return balance;
    },
    get held() {
      return held;
    },
    get holds() {
      return holds;
    },
    charges,
    setHalted(value: boolean) {
      halted = value;
    },
    hold(amount: number, _request: HoldRequest): Promise<Hold> {
      if (halted) return Promise.reject(new AgentHaltedError(agent));
      const free = balance - held;
      if (amount > free) {
        return Promise.reject(new InsufficientCreditsError(`agent:${agent}`, free, amount));
      }
      held += amount;
      holds++;
      let settled = false;
      const settle = () => {
        if (settled) return false;
        settled = true;
        held -= amount;
        return true;
      };
      return Promise.resolve({
        credits: amount,
        async charge(actual: number, details: ChargeDetails): Promise<number> {
          if (!settle()) return 0;
          const take = Math.min(actual, balance - held);
          balance -= take;
          charges.push({ ...details, credits: take, held: amount });
          return take;
        },
        async release(): Promise<void> {
          settle();
        },
      });
    },
  };
}

/** A budget for agents that are not metered: holds nothing, charges nothing. */
export const unmeteredBudget: Budget = Object.freeze({
  hold: () =>
    Promise.resolve<Hold>({
      credits: 0,
      charge: () => Promise.resolve(0),
      release: () => Promise.resolve(),
    }),
});
