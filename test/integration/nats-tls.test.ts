/**
 * Mutual TLS to NATS. The test makes its own CA, server and client
 * certificates with openssl and runs a private nats-server on a free
 * loopback port with `tls { verify: true }`: it demands a client certificate
 * signed by that CA. A client without one (or with one from another CA, or
 * one that does not trust the server's CA) is refused with
 * `TlsHandshakeError` (a `TransportError`) saying which side refused and
 * which certificate or CA to check; with the certificate and the CA (as file
 * paths or as PEM text) core publish/subscribe and a durable enqueue/consume
 * work.
 *
 * Note: when the server rejects the client's certificate (none, or one from
 * another CA), nats.js does not see the TLS 1.3 alert during connect: it
 * times out (hence the short connectTimeoutMs), and the adapter then repeats
 * the handshake by hand to report the refusal instead of a timeout.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { TlsHandshakeError, TransportError } from "../../src/errors/index.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import {
  createNatsTransport,
  deleteNatsQueue,
  type NatsTransportConfig,
} from "../../src/transport/nats/index.js";
import type { Consumer, Delivery, Transport } from "../../src/transport/port.js";
import { generateCertificates, opensslAvailable, type TestCertificates } from "../helpers/certs.js";
import { assertAvailable, requirement } from "./fixtures/processes.js";

const missing = !natsServerAvailable()
  ? "nats-server is not on PATH"
  : !opensslAvailable()
    ? "openssl is not on PATH"
    : undefined;

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("NATS over mutual TLS", {
  skip: requirement("the NATS TLS test", missing),
}, () => {
  let certs: TestCertificates;
  let server: NatsServer;
  const opened: Transport[] = [];

  before(async () => {
    assertAvailable("the NATS TLS test", missing);
    certs = generateCertificates();
    server = await startNatsServer({
      config: `tls {
  cert_file: "${certs.server.certFile}"
  key_file: "${certs.server.keyFile}"
  ca_file: "${certs.caFile}"
  verify: true
  timeout: 2
}
`,
    });
  });

  after(async () => {
    await Promise.all(opened.map((t) => t.close()));
    await server?.stop();
    certs?.cleanup();
  });

  const connect = async (overrides: Partial<NatsTransportConfig>) => {
    const t = await createNatsTransport({
      servers: server.url,
      connectTimeoutMs: 3_000,
      apiTimeoutMs: 3_000,
      ...overrides,
    });
    opened.push(t);
    return t;
  };

  const refused = async (
    overrides: Partial<NatsTransportConfig>,
    why: string,
    expected: { side: TlsHandshakeError["side"]; says: RegExp },
  ) => {
    await assert.rejects(connect(overrides), (error: unknown) => {
      assert.ok(
        error instanceof TlsHandshakeError,
        `${why}: a TlsHandshakeError, got ${String(error)}`,
      );
      assert.ok(error instanceof TransportError, "still a TransportError");
      assert.equal(error.code, "E_TLS_HANDSHAKE");
      assert.equal(error.side, expected.side, why);
      assert.match(error.message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
      assert.doesNotMatch(error.message, /timeout/i, "not reported as a timeout");
      assert.match(error.message, expected.says, why);
      assert.ok(!error.message.includes("PRIVATE KEY"), "no key material in the message");
      return true;
    });
  };
  const serverRefused = /the server refused the TLS handshake \(TLS alert: [a-z ]+\)/;

  test("a client without a certificate is refused: the message says a client certificate is required", async () => {
    await refused({ tls: { ca: certs.caFile } }, "CA but no client certificate", {
      side: "server-refused",
      says: new RegExp(
        `${serverRefused.source}; it requires a client certificate: set tls\\.cert and tls\\.key`,
      ),
    });
  });

  test("a client that asks for no TLS at all does not trust the server's private CA", async () => {
    await refused({}, "no tls settings", {
      side: "server-untrusted",
      says: /does not trust the server's certificate .*set tls\.ca/,
    });
  });

  test("a client certificate from another CA is refused: the message says to check it against the server's CA", async () => {
    await refused(
      {
        tls: { ca: certs.caFile, cert: certs.rogueClient.certFile, key: certs.rogueClient.keyFile },
      },
      "rogue client certificate",
      {
        side: "server-refused",
        says: new RegExp(
          `${serverRefused.source}; check that tls\\.cert .* was signed by a CA the server trusts`,
        ),
      },
    );
  });

  test("a client that does not trust the server's CA refuses the server", async () => {
    await refused(
      { tls: { ca: certs.rogueCaFile, cert: certs.client.certFile, key: certs.client.keyFile } },
      "server certificate from an untrusted CA",
      { side: "server-untrusted", says: /does not trust the server's certificate .*set tls\.ca/ },
    );
  });

  for (const form of ["file paths", "PEM text"] as const) {
    test(`with the client certificate and the CA as ${form}: publish/subscribe and a durable queue work`, async () => {
      const tls =
        form === "file paths"
          ? { ca: certs.caFile, cert: certs.client.certFile, key: certs.client.keyFile }
          : { ca: certs.ca, cert: certs.client.cert, key: certs.client.key };
      const t = await connect({ tls });
      const p = `tls${randomBytes(4).toString("hex")}`;

      // Core publish / subscribe.
      const got = new Promise<string>((resolve) => {
        t.subscribe(`${p}.event.>`, (m) => resolve(`${m.subject} ${dec.decode(m.data)}`));
      });
      // A second, separate client makes it a real round trip through the server.
      const publisher = await connect({ tls });
      await new Promise((resolve) => setTimeout(resolve, 100));
      publisher.publish(`${p}.event.hello`, enc.encode("over tls"));
      assert.equal(await got, `${p}.event.hello over tls`);

      // A durable enqueue, consumed and acked.
      await declareTaskQueues(t, p, { work: { ackWaitMs: 5_000 } });
      const first = await publisher.enqueue(`${p}.task.build`, enc.encode("job-1"), {
        msgId: `${p}-1`,
      });
      assert.equal(first.duplicate, false);
      const again = await publisher.enqueue(`${p}.task.build`, enc.encode("job-1"), {
        msgId: `${p}-1`,
      });
      assert.equal(again.duplicate, true, "deduplicated by msgId over TLS too");
      let consumer: Consumer | undefined;
      const delivered = await new Promise<Delivery>((resolve) => {
        consumer = t.consume(`${p}-work`, (d) => resolve(d), { maxInFlight: 1 });
      });
      assert.equal(dec.decode(delivered.data), "job-1");
      assert.equal(delivered.deliveryCount, 1);
      await delivered.ack();
      const info = await t.queueInfo(`${p}-work`);
      assert.equal(info.pending, 0, "acked and removed");
      await consumer?.close();
      assert.equal(await deleteNatsQueue(t, `${p}-work`), true);
      assert.equal(await deleteNatsQueue(t, `${p}-dlq`), true);
    });
  }
});
