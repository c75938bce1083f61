/**
 * A `tls://` server URL asks for TLS: connecting must never fall back to
 * plaintext (credentials in the clear) when the server offers no TLS. The
 * driver ignores the URL's scheme and uses TLS only when given TLS options
 * or when the server requires it, so a `tls://` URL without `tls` options
 * used to connect in plaintext to a server without TLS.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { natsServerAvailable, startNatsServer } from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport } from "../../src/transport/nats/index.js";

test("nats: a tls:// URL to a server without TLS is refused, not used in plaintext", {
  skip: natsServerAvailable() ? false : "nats-server is not installed",
}, async () => {
  const server = await startNatsServer({ jetstream: true });
  try {
    const plain = new URL(server.url);
    const url = `tls://${plain.host}`;
    let transport: Awaited<ReturnType<typeof createNatsTransport>> | undefined;
    try {
      transport = await createNatsTransport({
        servers: url,
        connectTimeoutMs: 3_000,
        ensureQueueRetryMs: 0,
        onError: () => undefined,
      });
    } catch (error) {
      assert.match((error as Error).message, /does not support 'tls'/);
      return;
    }
    await transport.close();
    assert.fail(`connected to ${url} in plaintext: the server offers no TLS`);
  } finally {
    await server.stop();
  }
});
