/**
 * The running counts of one round: which slots (voters, or child clusters in
 * a hierarchy) have answered and with what weight. Internal to the consensus
 * protocols; validation of who may vote happens before a ballot is cast.
 */
import { type QuorumCounts, resolveOutcome, toTally } from "./quorum-math.js";
import type { Outcome, Tally, VoteChoice } from "./types.js";

/** One eligible slot: its weight in micro-units and whether its rejection could be a veto. */
export interface BallotSlot {
  readonly units: number;
  readonly canVeto: boolean;
}

export class BallotBox {
  readonly #slots: ReadonlyMap<string, BallotSlot>;
  readonly #cast = new Set<string>();
  readonly threshold: number;
  readonly total: number;
  #approve = 0;
  #reject = 0;
  #abstain = 0;
  #pending: number;
  #vetoHoldersPending = 0;
  #vetoed = false;

  constructor(slots: ReadonlyMap<string, BallotSlot>, threshold: number, total: number) {
    this.#slots = slots;
    this.threshold = threshold;
    this.total = total;
    this.#pending = total;
    for (const slot of slots.values()) if (slot.canVeto) this.#vetoHoldersPending++;
  }

  /** Whether `key` has cast its ballot. */
  has(key: string): boolean {
    return this.#cast.has(key);
  }

  /** Whether `key` holds a slot here (may vote at all). */
  hasSlot(key: string): boolean {
    return this.#slots.has(key);
  }

  /**
   * Counts a ballot. `veto` marks a rejection that vetoes (the caller decides:
   * a veto-role voter's reject, or a child cluster that was vetoed). The
   * caller has checked that `key` is a slot and has not voted.
   */
  cast(key: string, choice: VoteChoice, veto: boolean): void {
    const slot = this.#slots.get(key);
    if (slot === undefined || this.#cast.has(key)) return;
    this.#cast.add(key);
    this.#pending -= slot.units;
    if (slot.canVeto) this.#vetoHoldersPending--;
    if (choice === "approve") this.#approve += slot.units;
    else if (choice === "reject") this.#reject += slot.units;
    else this.#abstain += slot.units;
    if (veto && choice === "reject") this.#vetoed = true;
  }

  counts(): QuorumCounts {
    return {
      approve: this.#approve,
      reject: this.#reject,
      abstain: this.#abstain,
      pending: this.#pending,
      threshold: this.threshold,
      vetoed: this.#vetoed,
      vetoPending: this.#vetoHoldersPending > 0,
    };
  }

  outcome(deadlinePassed: boolean): Outcome | undefined {
    return resolveOutcome(this.counts(), deadlinePassed);
  }

  tally(): Tally {
    return toTally(this.counts(), this.total);
  }
}
