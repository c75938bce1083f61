// A person may not be named like an agent, since a vote is counted by its
// voter's id (src/runtime/consensus/rounds.ts keys voters by id). A pool's
// workers are agents too, named <template>-p1 … -p<2·max> and declared for
// admission; a human named like one of them loaded, and the human's entry
// silently replaced that worker's vote.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

const KEY = "A".repeat(43);

describe("a human named like a pool's worker", () => {
  it("is refused, naming the pool", () => {
    const issue = issueAt(
      issuesOf(
        `${MINIMAL}humans:\n  w-1-p3: { publicKey: ${KEY} }\npools:\n  worker: { max: 2 }\n`,
      ),
      "humans.w-1-p3",
    );
    assert.match(issue.message, /pools\.worker/);
  });

  it("a name beyond the pool's slots still loads", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}humans:\n  w-1-p5: { publicKey: ${KEY} }\npools:\n  worker: { max: 2 }\n`,
      { env: {} },
    );
    assert.deepEqual(Object.keys(config.humans), ["w-1-p5"]);
  });
});
