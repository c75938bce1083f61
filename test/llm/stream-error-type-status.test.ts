/**
 * An error sent inside a 200 stream without a status, named only by its
 * type (Anthropic's `{ type, message }`, OpenAI's `type`/`code` words), is
 * judged by what the type means: an invalid request, a bad key, a missing
 * model or a refused permission is the request's fault and is not retried;
 * an overload, a rate limit or a server error is. Every such error used to
 * count as retryable, so a request the provider would never accept was sent
 * again (and fallen back) on every attempt.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelStreamError } from "../../src/llm/index.js";
import { streamPartError } from "../../src/llm/stream-error.js";

const judged = (error: unknown) => {
  const e = streamPartError(error);
  assert.ok(e instanceof ModelStreamError);
  return { status: e.statusCode, retryable: e.isRetryable };
};

test("a stream error's type gives its status when it names none", () => {
  assert.deepEqual(judged({ type: "invalid_request_error", message: "prompt is too long" }), {
    status: 400,
    retryable: false,
  });
  assert.deepEqual(judged({ type: "authentication_error", message: "invalid x-api-key" }), {
    status: 401,
    retryable: false,
  });
  assert.deepEqual(judged({ type: "permission_error", message: "no" }), {
    status: 403,
    retryable: false,
  });
  assert.deepEqual(judged({ type: "not_found_error", message: "model: claude-x" }), {
    status: 404,
    retryable: false,
  });
  assert.deepEqual(judged({ type: "request_too_large", message: "too big" }), {
    status: 413,
    retryable: false,
  });
  assert.deepEqual(judged({ type: "rate_limit_error", message: "slow down" }), {
    status: 429,
    retryable: true,
  });
  assert.deepEqual(judged({ type: "overloaded_error", message: "Overloaded" }), {
    status: 529,
    retryable: true,
  });
  assert.deepEqual(judged({ type: "api_error", message: "oops" }), {
    status: 500,
    retryable: true,
  });
  // OpenAI's words, in `code` or `type`.
  assert.deepEqual(judged({ message: "x", type: "server_error", code: null }), {
    status: 500,
    retryable: true,
  });
  assert.deepEqual(
    judged({ message: "x", type: "invalid_request_error", code: "context_length_exceeded" }),
    {
      status: 400,
      retryable: false,
    },
  );
  // A number given wins over the word; an unknown word stays retryable.
  assert.deepEqual(judged({ type: "invalid_request_error", code: 503, message: "x" }), {
    status: 503,
    retryable: true,
  });
  assert.deepEqual(judged({ type: "something_new", message: "x" }), {
    status: undefined,
    retryable: true,
  });
});
