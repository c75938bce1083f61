/**
 * PBFT safety for larger clusters: f = 2 (n = 7) and f = 3 (n = 10). Same
 * property and adversary as pbft-safety.test.ts (f = 1, 1,000 seeds); fewer
 * seeds, because every run signs and verifies real Ed25519 signatures and the
 * message count grows with n squared.
 */
import { describe, it } from "node:test";
import { safetyProperty } from "../sim/pbft-safety-suite.js";

const FILE = "test/consensus/pbft-safety-large.test.ts";

describe("PBFT safety property (larger clusters)", () => {
  it("keeps honest replicas in agreement, f = 2, n = 7", (t) => {
    safetyProperty(t, 2, 150, FILE);
  });

  it("keeps honest replicas in agreement, f = 3, n = 10", (t) => {
    safetyProperty(t, 3, 60, FILE);
  });
});
