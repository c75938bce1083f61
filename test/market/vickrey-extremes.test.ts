/**
 * Vickrey clearing at the edge of the credit range: a runner-up asking
 * (nearly) Number.MAX_SAFE_INTEGER with a poor reputation puts the price the
 * winner could have asked beyond 2^53, where floats are more than a credit
 * apart. The price search used to step there forever, hanging the
 * auctioneer's node; the price must be a whole number of credits.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { clearSealed, thresholdPrice } from "../../src/market/index.js";

const CASES: readonly (readonly [number, number, number])[] = [
  // [winner's reputation, runner-up's reputation, runner-up's ask]; the winner asks 1.
  [1, 0, Number.MAX_SAFE_INTEGER],
  [1, 0, 2 ** 52 + 12_345],
  [0.9, 0.1, 8e15],
  [1, 0.5, Number.MAX_SAFE_INTEGER],
];

/** Clears the cases in a child process, so that a clearing that never returns fails the test instead of hanging it. */
function clearInChild(timeoutMs: number): unknown[] {
  const module = new URL("../../src/market/clearing.ts", import.meta.url).href;
  const code = `
    import { clearSealed } from ${JSON.stringify(module)};
    const cases = ${JSON.stringify(CASES)};
    process.stdout.write(JSON.stringify(cases.map(([ra, rb, ask]) => {
      const r = clearSealed({ rule: "vickrey", side: "procurement" },
        [{ bidder: "a", price: 1 }, { bidder: "b", price: ask }],
        (x) => (x === "a" ? ra : rb));
      return r.outcome === "awarded" ? { winner: r.winner.bidder, price: r.price } : r;
    })));`;
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "--eval", code],
    { timeout: timeoutMs, encoding: "utf8" },
  );
  if (child.error !== undefined || child.status !== 0) {
    throw new Error(
      `clearing did not return within ${timeoutMs} ms (${child.error?.message ?? child.stderr})`,
    );
  }
  return JSON.parse(child.stdout) as unknown[];
}

describe("market: Vickrey prices at the edge of the credit range", () => {
  test("a runner-up asking MAX_SAFE_INTEGER with a poor reputation clears at once, at a whole-credit price", () => {
    const cleared = clearInChild(30_000) as { winner: string; price: number }[];
    for (const [i, result] of cleared.entries()) {
      assert.equal(result.winner, "a", `case ${i}`);
      assert.ok(
        Number.isSafeInteger(result.price),
        `case ${i}: price ${result.price} is whole credits`,
      );
      assert.ok(result.price >= 1, `case ${i}: the winner is never paid less than it asked`);
    }
  });

  test("the price is capped at the most credits there are, and a reserve still caps it", () => {
    const rep = (x: string) => (x === "a" ? 1 : 0.5);
    const bids = [
      { bidder: "a", price: 1 },
      { bidder: "b", price: Number.MAX_SAFE_INTEGER },
    ];
    const open = clearSealed({ rule: "vickrey", side: "procurement" }, bids, rep);
    assert.equal(open.outcome, "awarded");
    assert.equal(open.outcome === "awarded" && open.price, Number.MAX_SAFE_INTEGER);
    const reserved = clearSealed({ rule: "vickrey", side: "procurement", reserve: 500 }, bids, rep);
    assert.equal(reserved.outcome === "awarded" && reserved.price, 500);
    assert.ok(Number.isSafeInteger(thresholdPrice("procurement", -1e16, 1.5)));
  });
});
