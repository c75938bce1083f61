/**
 * The `IdempotencyStore` part of the store conformance suite: a key is
 * claimed first exactly once across handles, and a prune (prefixed or not)
 * forgets exactly the keys it should.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "../../../errors/index.js";
import type { IdempotencyStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  id,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `IdempotencyStore` (keys claimed once across handles); see the port's contract. */
export function runIdempotencyStoreConformance(
  options: StorePartOptions<IdempotencyStore & Closable>,
): void {
  describeStorePart("idempotency store", options, (fixture) => {
    test("an idempotency key is claimed once under concurrency, from every handle", async () => {
      const other = await fixture.reopen();
      try {
        const key = `msg-${id()}`;
        const claims = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 === 0 ? fixture.store : other).claimIdempotencyKey(key, { by: i }, { at: 100 }),
          ),
        );
        const firsts = claims.flatMap((c, i) => (c.first ? [i] : []));
        assert.equal(firsts.length, 1, "exactly one claim is first");
        const winner = firsts[0] as number;
        for (const [i, claim] of claims.entries()) {
          if (i !== winner) assert.deepEqual(claim, { first: false, result: { by: winner } });
        }
        const bare = `msg-${id()}`;
        assert.deepEqual(await fixture.store.claimIdempotencyKey(bare, undefined, { at: 50 }), {
          first: true,
        });
        assert.deepEqual(await other.claimIdempotencyKey(bare), { first: false });
        assert.equal(await fixture.store.pruneIdempotencyKeys(60), 1);
        assert.deepEqual(await fixture.store.claimIdempotencyKey(bare), { first: true });
      } finally {
        await other.close();
      }
    });

    test("a prefixed prune forgets only old keys with exactly that prefix", async () => {
      // `_` and `%` in the prefix must match only themselves: with LIKE they
      // would be wildcards and take the look-alike keys below with them.
      const run = id();
      const prefix = `p_${run}%:`;
      const keys = {
        oldOwn: `${prefix}old`,
        oldOwnBare: prefix,
        youngOwn: `${prefix}young`,
        oldUnderscoreTwin: `pX${run}%:old`,
        oldPercentTwin: `p_${run}xyz:old`,
        oldShorter: `p_${run}%`,
        oldOther: `consensus.propose:${run}`,
        oldAstral: `\u{1F600}${prefix}old`,
      };
      const at = (key: string) => (key === keys.youngOwn ? 2_000 : 1_000);
      for (const key of Object.values(keys)) {
        assert.deepEqual(await fixture.store.claimIdempotencyKey(key, { key }, { at: at(key) }), {
          first: true,
        });
      }
      const other = await fixture.reopen();
      try {
        assert.equal(
          await other.pruneIdempotencyKeys(1_500, { prefix }),
          2,
          "the two old own keys",
        );
        assert.equal(
          await fixture.store.pruneIdempotencyKeys(1_500, { prefix }),
          0,
          "nothing left to prune",
        );
        // An astral character is one character to the database, two UTF-16 units to JS.
        assert.equal(
          await fixture.store.pruneIdempotencyKeys(1_500, { prefix: `\u{1F600}${prefix}` }),
          1,
        );
      } finally {
        await other.close();
      }
      const forgotten = [keys.oldOwn, keys.oldOwnBare, keys.oldAstral];
      for (const [name, key] of Object.entries(keys)) {
        const claim = await fixture.store.claimIdempotencyKey(key, "again", { at: 3_000 });
        if (forgotten.includes(key)) {
          assert.deepEqual(claim, { first: true }, `${name} was pruned`);
        } else {
          assert.deepEqual(claim, { first: false, result: { key } }, `${name} was kept`);
        }
      }
      // Clean up without the unprefixed prune, which would touch other tests' keys.
      for (const p of [`p_${run}`, `pX${run}`, `consensus.propose:${run}`, `\u{1F600}p_${run}`]) {
        await fixture.store.pruneIdempotencyKeys(Number.MAX_SAFE_INTEGER, { prefix: p });
      }
    });

    test("a result that is not JSON-serialisable is refused with StoreError and claims nothing", async () => {
      const key = `msg-${id()}`;
      await assert.rejects(fixture.store.claimIdempotencyKey(key, { n: 1n }), StoreError);
      assert.deepEqual(await fixture.store.claimIdempotencyKey(key), { first: true });
    });

    test("a closed handle refuses every idempotency call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        claimIdempotencyKey: (s) => s.claimIdempotencyKey("k"),
        pruneIdempotencyKeys: (s) => s.pruneIdempotencyKeys(0),
      }));
  });
}
