/**
 * A `Retry-After` that is neither delay-seconds nor an HTTP date (`1.5`,
 * `-1`, `3 ms`) used to go through `Date.parse`, which V8 reads leniently:
 * "1.5" is 5 January 2001, a date long past, so the wait was 0 ms and the
 * retries went out back to back against a server asking to slow down.
 * Decimal seconds are now read as seconds; anything else unreadable is
 * ignored (the backoff applies).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/core/random.js";
import { defaultModelRetryPolicy, parseRetryAfter, retryDelay } from "../../src/llm/index.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");

test("decimal delay-seconds are seconds, not a date in 2001", () => {
  assert.equal(parseRetryAfter({ "retry-after": "1.5" }, NOW), 1500);
  assert.equal(parseRetryAfter({ "Retry-After": " 2.0 " }, NOW), 2000);
});

test("a value that is neither seconds nor an HTTP date is ignored: the backoff applies", () => {
  for (const value of ["-1", "3 ms", "12.5.1", "10s", "soon 5", "Retry 2"]) {
    assert.equal(parseRetryAfter({ "retry-after": value }, NOW), undefined, value);
  }
  const delay = retryDelay(
    1,
    parseRetryAfter({ "retry-after": "-1" }, NOW),
    defaultModelRetryPolicy,
    seededRandom(3),
  );
  assert.ok(delay >= 250, `a backoff, not an immediate retry (got ${delay} ms)`);
});

test("HTTP dates (IMF-fixdate and the obsolete RFC 850 form) are still honoured", () => {
  assert.equal(parseRetryAfter({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }, NOW), 5000);
  assert.equal(parseRetryAfter({ "retry-after": "Thursday, 01-Jan-26 00:00:07 GMT" }, NOW), 7000);
});
