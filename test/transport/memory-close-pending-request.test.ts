/**
 * Closing the memory transport left its pending requests waiting for their
 * whole timeout (and their timers holding the process open), where the NATS
 * and RabbitMQ transports reject them at once. A request pending at close
 * must fail with ClosedError right away.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClosedError } from "../../src/errors/index.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

test("memory: close() fails a pending request with ClosedError at once", async () => {
  const bus = createMemoryTransport();
  bus.subscribe("svc.echo", () => undefined); // listens, never answers
  const started = Date.now();
  const pending = bus.request("svc.echo", new Uint8Array(), { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 20));
  await bus.close();
  await assert.rejects(pending, ClosedError);
  assert.ok(Date.now() - started < 5_000, "rejected at close, not at the timeout");
});
