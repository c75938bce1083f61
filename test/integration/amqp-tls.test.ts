/**
 * Mutual TLS to RabbitMQ (amqps://) against a real broker. The test makes its
 * own CA, server and client certificates with openssl and starts a private
 * RabbitMQ node (src/testkit/brokers/rabbitmq-server.ts: its own node name, ports
 * and files, so the machine's own broker is never touched) whose TLS
 * listener demands a client certificate signed by that CA
 * (`ssl_options.verify = verify_peer`, `fail_if_no_peer_cert = true`).
 *
 * With the CA and the client certificate and key (as PEM text, or as the
 * files' bytes: the adapter takes certificates, not file paths) a durable
 * enqueue → consume → ack round trip works. A client without a certificate,
 * with one from another CA, or that does not trust the server's CA is
 * refused within a few seconds (not at the connect timeout) with a
 * `TlsHandshakeError` (a `TransportError`) saying which side refused and
 * what to set; a file path given as a certificate is a `ConfigError` naming
 * the setting. The password in the URL appears in none of these errors.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ConfigError, TlsHandshakeError, TransportError } from "../../src/errors/index.js";
import {
  type RabbitmqNode,
  rabbitmqServerAvailable,
  startRabbitmqNode,
} from "../../src/testkit/brokers/rabbitmq-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import {
  type AmqpTlsOptions,
  createAmqpTransport,
  deleteAmqpTopology,
} from "../../src/transport/amqp/index.js";
import type { Consumer, Delivery, Transport } from "../../src/transport/port.js";
import { generateCertificates, opensslAvailable, type TestCertificates } from "../helpers/certs.js";
import { assertAvailable, requirement } from "./fixtures/processes.js";

const missing = !rabbitmqServerAvailable()
  ? "rabbitmq-server (with rabbitmqctl and erl) is not installed"
  : !opensslAvailable()
    ? "openssl is not on PATH"
    : undefined;

/** The connect timeout; a refusal must come well before it. */
const CONNECT_TIMEOUT_MS = 10_000;
const REFUSED_WITHIN_MS = 5_000;

describe("RabbitMQ over mutual TLS", {
  skip: requirement("the RabbitMQ TLS test", missing),
}, () => {
  // Distinctive, so a leak into an error message cannot go unnoticed.
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const exchange = `conclave-tls-${randomBytes(4).toString("hex")}`;
  let certs: TestCertificates;
  let node: RabbitmqNode;
  let url: string;
  const opened: Transport[] = [];

  before(async () => {
    assertAvailable("the RabbitMQ TLS test", missing);
    certs = generateCertificates();
    node = await startRabbitmqNode({
      tls: true,
      password,
      config: `ssl_options.cacertfile = ${certs.caFile}
ssl_options.certfile = ${certs.server.certFile}
ssl_options.keyfile = ${certs.server.keyFile}
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
`,
    });
    url = `amqps://guest:${password}@127.0.0.1:${node.tlsPort}`;
  });

  after(async () => {
    await Promise.all(opened.map((t) => t.close().catch(() => undefined)));
    await node?.stop();
    certs?.cleanup();
  });

  const connect = async (tls: AmqpTlsOptions | undefined, target = url) => {
    const t = await createAmqpTransport({
      url: target,
      exchange,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      ...(tls === undefined ? {} : { tls }),
    });
    opened.push(t);
    return t;
  };

  /** Asserts `error`, its stack and its causes never mention the password. */
  const assertNoPassword = (error: unknown) => {
    for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
      assert.ok(!e.message.includes(password), `password in an error message: ${e.message}`);
      assert.ok(!e.stack?.includes(password), "password in an error's stack");
    }
  };

  /** Connects with `tls` and expects a `TlsHandshakeError` from `side`, quickly. */
  const refused = async (
    tls: AmqpTlsOptions | undefined,
    why: string,
    expected: { side: TlsHandshakeError["side"]; says: RegExp },
  ) => {
    const started = Date.now();
    await assert.rejects(connect(tls), (error: unknown) => {
      assert.ok(
        error instanceof TlsHandshakeError,
        `${why}: a TlsHandshakeError, got ${String(error)}`,
      );
      assert.ok(error instanceof TransportError, "still a TransportError");
      assert.equal(error.code, "E_TLS_HANDSHAKE");
      assert.equal(error.side, expected.side, why);
      assert.match(error.message, /^cannot connect to RabbitMQ at amqps:\/\/127\.0\.0\.1:\d+: /);
      assert.match(error.message, expected.says, why);
      assert.doesNotMatch(error.message, /timeout|ETIMEDOUT/i, "not reported as a timeout");
      assert.doesNotMatch(error.message, /\n/, "one line, not OpenSSL's dump");
      assert.ok(!error.message.includes("PRIVATE KEY"), "no key material in the message");
      assertNoPassword(error);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < REFUSED_WITHIN_MS, `${why}: refused after ${elapsed} ms, not at once`);
  };

  for (const form of ["PEM text", "file contents (Buffers)"] as const) {
    test(`with the CA and a client certificate as ${form}: a durable enqueue, consume and ack round trip works`, async () => {
      const tls: AmqpTlsOptions =
        form === "PEM text"
          ? { ca: certs.ca, cert: certs.client.cert, key: certs.client.key }
          : {
              ca: readFileSync(certs.caFile),
              cert: readFileSync(certs.client.certFile),
              key: readFileSync(certs.client.keyFile),
            };
      const p = `tls${randomBytes(4).toString("hex")}`;
      const queues = [`${p}-work`, `${p}-dlq`];
      const t = await connect(tls);
      // A second connection enqueues, so the message really goes through the broker.
      const producer = await connect(tls);
      try {
        await declareTaskQueues(t, p, { work: { ackWaitMs: 5_000 } });
        const sent = await producer.enqueue(`${p}.task.build`, new TextEncoder().encode("job-1"), {
          msgId: `${p}-1`,
        });
        assert.equal(sent.duplicate, false);
        let consumer: Consumer | undefined;
        const delivered = await new Promise<Delivery>((resolve) => {
          consumer = t.consume(`${p}-work`, (d) => resolve(d), { maxInFlight: 1 });
        });
        assert.equal(new TextDecoder().decode(delivered.data), "job-1");
        assert.equal(delivered.subject, `${p}.task.build`);
        assert.equal(delivered.deliveryCount, 1);
        await delivered.ack();
        await consumer?.close();
        assert.equal((await t.queueInfo(`${p}-work`)).pending, 0, "acked and removed");
      } finally {
        await deleteAmqpTopology({ url, exchange, queues, tls });
      }
    });
  }

  test("a client without a certificate is refused: the message says a client certificate is required", async () => {
    await refused({ ca: certs.ca }, "CA but no client certificate", {
      side: "server-refused",
      says: /the server refused the TLS handshake \(TLS alert: [a-z ]+\); it requires a client certificate: set tls\.cert and tls\.key/,
    });
  });

  test("a client certificate from another CA is refused: the message says to check it against the server's CA", async () => {
    await refused(
      { ca: certs.ca, cert: certs.rogueClient.cert, key: certs.rogueClient.key },
      "client certificate from another CA",
      {
        side: "server-refused",
        says: /the server refused the TLS handshake \(TLS alert: [a-z ]+\); check that tls\.cert .* was signed by a CA the server trusts/,
      },
    );
  });

  test("a client that does not trust the server's CA refuses the server", async () => {
    await refused(
      {
        ca: readFileSync(certs.rogueCaFile, "utf8"),
        cert: certs.client.cert,
        key: certs.client.key,
      },
      "server certificate from an untrusted CA",
      { side: "server-untrusted", says: /does not trust the server's certificate .*set tls\.ca/ },
    );
  });

  test("a client with no tls settings (the system's CAs only) does not trust the server's private CA", async () => {
    await refused(undefined, "no tls settings", {
      side: "server-untrusted",
      says: /does not trust the server's certificate .*set tls\.ca/,
    });
  });

  test("a file path where PEM text belongs is a ConfigError naming the setting", async () => {
    await assert.rejects(
      connect({ ca: certs.caFile, cert: certs.client.cert, key: certs.client.key }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
        assert.match(error.message, /tls\.ca must be PEM text .*not a file path/);
        assert.ok(!error.message.includes(certs.caFile), "does not echo the value");
        assertNoPassword(error);
        return true;
      },
    );
  });

  test("a wrong password over TLS is a login refusal that does not show the URL's password", async () => {
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    await assert.rejects(
      connect(
        { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
        `amqps://guest:${wrong}@127.0.0.1:${node.tlsPort}`,
      ),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
        assert.match(error.message, /refused the login; check the user name, password and vhost/);
        for (let e = error as unknown, d = 0; e instanceof Error && d < 8; e = e.cause, d++) {
          assert.ok(!e.message.includes(wrong), `password in an error message: ${e.message}`);
        }
        return true;
      },
    );
  });
});
