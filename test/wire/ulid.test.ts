import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ManualClock } from "../../src/core/clock.js";
import { type Random, seededRandom } from "../../src/core/random.js";
import { createUlidFactory, isUlid, ULID_MAX_TIME, ulid, ulidTime } from "../../src/wire/ulid.js";

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe("ulid", () => {
  test("is 26 characters of Crockford base32 carrying the clock's time", () => {
    const id = ulid(new ManualClock(1_732_200_000_123));
    assert.match(id, CROCKFORD);
    assert.ok(isUlid(id));
    assert.equal(ulidTime(id), 1_732_200_000_123);
  });

  test("encodes time as the ULID specification does", () => {
    // From the spec's README: ulid(1469918176385) starts with 01ARYZ6S41.
    const id = createUlidFactory(new ManualClock(1_469_918_176_385))();
    assert.equal(id.slice(0, 10), "01ARYZ6S41");
    assert.equal(createUlidFactory(new ManualClock(0))().slice(0, 10), "0000000000");
    assert.equal(createUlidFactory(new ManualClock(ULID_MAX_TIME))().slice(0, 10), "7ZZZZZZZZZ");
  });

  test("uses node:crypto by default and the system clock's time", () => {
    const before = Date.now();
    const id = ulid();
    assert.ok(isUlid(id));
    assert.ok(ulidTime(id) >= before && ulidTime(id) <= Date.now());
    assert.notEqual(ulid(), ulid());
  });

  test("is monotonic within one millisecond: the random part counts up by one", () => {
    const next = createUlidFactory(new ManualClock(5_000), seededRandom(1));
    const ids = Array.from({ length: 1000 }, () => next());
    for (let i = 1; i < ids.length; i++) {
      assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
      assert.equal(ulidTime(ids[i]!), 5_000);
    }
    assert.equal(new Set(ids).size, ids.length);
  });

  test("stays ordered when the clock steps backwards", () => {
    const clock = new ManualClock(10_000);
    const next = createUlidFactory(clock, seededRandom(2));
    const first = next();
    clock.advance(-5_000);
    const second = next();
    assert.ok(first < second);
    assert.equal(ulidTime(second), 10_000);
  });

  test("moves to the next millisecond instead of overflowing the random part", () => {
    const almostOne: Random = { next: () => 1 - 2 ** -40 };
    const next = createUlidFactory(new ManualClock(7), almostOne);
    const first = next();
    assert.equal(first.slice(10), "ZZZZZZZZZZZZZZZZ");
    const second = next();
    assert.equal(ulidTime(second), 8);
    assert.ok(first < second);
  });

  test("replays from a seed", () => {
    const a = createUlidFactory(new ManualClock(42), seededRandom(9));
    const b = createUlidFactory(new ManualClock(42), seededRandom(9));
    assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
  });

  test("calls with the same clock and random continue one sequence", () => {
    const clock = new ManualClock(1);
    const random = seededRandom(3);
    const ids = [ulid(clock, random), ulid(clock, random), ulid(clock, random)];
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, 3);
  });

  test("sorts by time as plain strings", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: ULID_MAX_TIME }), { minLength: 2 }),
        (times) => {
          const clock = new ManualClock(0);
          const ids = times.map((t) => createUlidFactory(clock)(t));
          const byTime = [...ids].sort((x, y) => ulidTime(x) - ulidTime(y));
          const byString = [...ids].sort();
          assert.deepEqual(
            byString.map((id) => ulidTime(id)),
            byTime.map((id) => ulidTime(id)),
          );
        },
      ),
    );
  });

  test("refuses a broken clock with a RangeError", () => {
    for (const now of [-1, Number.NaN, ULID_MAX_TIME + 1, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createUlidFactory(new ManualClock(now))(), RangeError);
    }
  });
});

describe("isUlid and ulidTime", () => {
  test("accept only the canonical upper-case form", () => {
    assert.ok(isUlid("01JD0000000000000000000000"));
    assert.ok(isUlid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    for (const bad of [
      "01jd0000000000000000000000",
      "01JD000000000000000000000",
      "01JD00000000000000000000000",
      "01JD000000000000000000000I",
      "01JD000000000000000000000L",
      "01JD000000000000000000000O",
      "01JD000000000000000000000U",
      "80000000000000000000000000",
      "",
      42,
      null,
    ]) {
      assert.equal(isUlid(bad), false, String(bad));
    }
  });

  test("ulidTime refuses what is not a ULID", () => {
    assert.throws(() => ulidTime("not-a-ulid"), RangeError);
  });
});
