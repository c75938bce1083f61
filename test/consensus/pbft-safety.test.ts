/**
 * PBFT safety, f = 1 (n = 4), over 1,000 seeds: up to f Byzantine replicas
 * behaving arbitrarily (silent, equivocating with validly signed conflicting
 * messages, forging, replaying, sending garbage), over a network that drops,
 * duplicates, reorders, partitions and pauses. In every run:
 * - no two honest replicas commit different proposals at one sequence number;
 * - every commit certificate an honest replica reports checks offline (real
 *   Ed25519 signatures);
 * - no honest replica is named in proof-grade evidence (equivocation,
 *   out-of-view, wrong-proposal).
 * A failure prints its seed and the command that replays it.
 */
import { describe, it } from "node:test";
import { safetyProperty } from "../sim/pbft-safety-suite.js";

describe("PBFT safety property (f = 1)", () => {
  it("keeps honest replicas in agreement over 1,000 seeded runs", (t) => {
    safetyProperty(t, 1, 1_000, "test/consensus/pbft-safety.test.ts");
  });
});
