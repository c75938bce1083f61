import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { APICallError, InvalidArgumentError, NoContentGeneratedError } from "ai";
import { seededRandom } from "../../src/core/random.js";
import {
  defaultModelRetryPolicy,
  judgeAttemptError,
  parseRetryAfter,
  retryDelay,
} from "../../src/llm/index.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");

function apiError(statusCode: number | undefined, headers?: Record<string, string>) {
  return new APICallError({
    message: `status ${statusCode}`,
    url: "http://x/v1/chat/completions",
    requestBodyValues: {},
    ...(statusCode === undefined ? {} : { statusCode }),
    ...(headers === undefined ? {} : { responseHeaders: headers }),
  });
}

describe("Retry-After", () => {
  test("delay-seconds, an HTTP date, and OpenAI's retry-after-ms", () => {
    assert.equal(parseRetryAfter({ "retry-after": "3" }, NOW), 3000);
    assert.equal(parseRetryAfter({ "Retry-After": "Thu, 01 Jan 2026 00:00:05 GMT" }, NOW), 5000);
    assert.equal(parseRetryAfter({ "retry-after": "Wed, 31 Dec 2025 23:59:00 GMT" }, NOW), 0);
    assert.equal(parseRetryAfter({ "retry-after-ms": "250.5", "retry-after": "9" }, NOW), 251);
    assert.equal(parseRetryAfter({ "retry-after": "soon" }, NOW), undefined);
    assert.equal(parseRetryAfter({}, NOW), undefined);
  });

  test("the provider's wait wins over the backoff; without one, backoff with jitter", () => {
    const random = seededRandom(7);
    assert.equal(retryDelay(1, 2000, defaultModelRetryPolicy, random), 2000);
    const delay = retryDelay(3, undefined, defaultModelRetryPolicy, random);
    // Equal jitter around 500 × 2² = 2000: between 1000 and 2000.
    assert.ok(delay >= 1000 && delay <= 2000, `got ${delay}`);
  });
});

describe("judging a failed attempt", () => {
  test("429 and 5xx are retried, with the provider's wait", () => {
    assert.deepEqual(judgeAttemptError(apiError(429, { "retry-after": "2" }), NOW), {
      kind: "retry",
      statusCode: 429,
      retryAfterMs: 2000,
    });
    assert.deepEqual(judgeAttemptError(apiError(503), NOW), { kind: "retry", statusCode: 503 });
  });

  test("a network error (no status) is retried", () => {
    assert.deepEqual(judgeAttemptError(apiError(undefined), NOW), { kind: "retry" });
  });

  test("other AI SDK errors: a request it will not build, or an answer it cannot use", () => {
    const refused = judgeAttemptError(
      new InvalidArgumentError({ parameter: "maxOutputTokens", value: 0, message: "at least 1" }),
      NOW,
    );
    assert.equal(refused.kind, "unsendable");
    const unusable = judgeAttemptError(new NoContentGeneratedError(), NOW);
    assert.equal(unusable.kind, "unusable");
  });

  test("other 4xx are refusals, a 2xx error is a malformed body, anything else unknown", () => {
    assert.deepEqual(judgeAttemptError(apiError(401), NOW), { kind: "refused", statusCode: 401 });
    assert.deepEqual(judgeAttemptError(apiError(200), NOW), { kind: "malformed", statusCode: 200 });
    assert.deepEqual(judgeAttemptError(new TypeError("bug"), NOW), { kind: "unknown" });
  });
});
