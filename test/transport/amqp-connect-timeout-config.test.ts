/**
 * `connectTimeoutMs` of the RabbitMQ transport was not checked: a negative
 * or fractional value failed the connect with a message blaming the URL and
 * the broker ("check the URL and that the broker is running"), and NaN was
 * taken silently. Like the NATS transport's, it must be refused up front
 * with a ConfigError naming the setting.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createAmqpTransport } from "../../src/transport/amqp/index.js";

test("amqp: a connectTimeoutMs that is not a positive integer is refused with ConfigError", async () => {
  for (const connectTimeoutMs of [-1, 0, 0.5, Number.NaN]) {
    await assert.rejects(
      createAmqpTransport({
        // Nothing listens here: a value taken would fail with a connect error instead.
        url: "amqp://guest:guest@127.0.0.1:1",
        connectTimeoutMs,
        onError: () => undefined,
      }),
      (error: unknown) =>
        error instanceof ConfigError && /connectTimeoutMs/.test((error as Error).message),
      `connectTimeoutMs ${connectTimeoutMs}`,
    );
  }
});
