import assert from "node:assert/strict";
import { test } from "node:test";
import { redactUrl } from "../../src/config/index.js";

test("redactUrl hides passwords in amqp, nats and postgres URLs", () => {
  assert.equal(
    redactUrl("amqp://worker:s3cret@rabbit:5672/vhost"),
    "amqp://worker:***@rabbit:5672/vhost",
  );
  assert.equal(redactUrl("amqps://worker:s3cret@rabbit"), "amqps://worker:***@rabbit");
  assert.equal(redactUrl("nats://alice:s3cret@nats-1:4222"), "nats://alice:***@nats-1:4222");
  assert.equal(redactUrl("tls://alice:s3cret@nats-1:4222"), "tls://alice:***@nats-1:4222");
  assert.equal(
    redactUrl("postgres://app:s3cret@db.internal:5432/conclave?sslmode=require"),
    "postgres://app:***@db.internal:5432/conclave?sslmode=require",
  );
  assert.equal(redactUrl("postgresql://app:pw@h1,h2/db"), "postgresql://app:***@h1,h2/db");
});

test("redactUrl hides a NATS token given as the user name", () => {
  assert.equal(redactUrl("nats://tok3n@nats-1:4222"), "nats://***@nats-1:4222");
  // In AMQP and Postgres a lone user name is only a name.
  assert.equal(redactUrl("amqp://guest@rabbit"), "amqp://guest@rabbit");
});

test("redactUrl hides passwords holding reserved characters", () => {
  const redacted = redactUrl("amqp://user:p@ss/w:rd@rabbit:5672/");
  assert.equal(redacted, "amqp://user:***@rabbit:5672/");
});

test("redactUrl hides secrets in query parameters", () => {
  assert.equal(
    redactUrl("postgres://db/app?user=app&password=s3cret&sslmode=verify-full"),
    "postgres://db/app?user=app&password=***&sslmode=verify-full",
  );
  assert.equal(redactUrl("nats://nats:4222?token=abc"), "nats://nats:4222?token=***");
});

test("redactUrl leaves strings without credentials unchanged", () => {
  for (const value of [
    "memory",
    "sqlite:.conclave/x.db",
    "sqlite::memory:",
    "nats://nats:4222",
    "postgres:///db?host=/run/postgresql",
  ]) {
    assert.equal(redactUrl(value), value);
  }
});
