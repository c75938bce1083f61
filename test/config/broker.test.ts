import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

// MINIMAL has 7 lines; line numbers below count from the first line of each text.

describe("broker: the section is optional and additive", () => {
  test("without it: no extra servers, adapter defaults, no fsync per write, no TLS files", () => {
    const config = parseSwarmConfig(MINIMAL, { baseDir: "/srv/demo", env: {} });
    assert.deepEqual(config.broker, { servers: [], syncEveryWrite: false });
    assert.ok(Object.isFrozen(config.broker));
  });

  test("a NATS cluster with replicas, storage, sync and mutual TLS; paths resolve against the swarm file", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}transport: tls://\${NATS_USER}:\${NATS_PASS}@n1.example:4222
broker:
  servers: [tls://n2.example:4222/, "tls://n3.example:4222"]
  replicas: 3
  storage: file
  syncEveryWrite: true
  tls:
    ca: certs/ca.pem
    cert: ./certs/node.pem
    key: /etc/conclave/node.key
`,
      { baseDir: "/srv/demo", env: { NATS_USER: "swarm", NATS_PASS: "s3cret" } },
    );
    assert.deepEqual(config.broker, {
      servers: ["tls://n2.example:4222", "tls://n3.example:4222"],
      replicas: 3,
      storage: "file",
      syncEveryWrite: true,
      tls: {
        ca: resolve("/srv/demo/certs/ca.pem"),
        cert: resolve("/srv/demo/certs/node.pem"),
        key: "/etc/conclave/node.key",
      },
    });
  });

  test("watchSent: set only when written (the transport's default follows replicas)", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}transport: nats://n1:4222\nbroker:\n  replicas: 3\n  watchSent: false\n`,
      { baseDir: "/srv/demo", env: {} },
    );
    assert.deepEqual(config.broker, {
      servers: [],
      replicas: 3,
      watchSent: false,
      syncEveryWrite: false,
    });
  });

  test("amqps with a CA file only (server-verified TLS) is accepted", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}transport: amqps://rabbit.example:5671\nbroker:\n  tls: { ca: ca.pem }\n`,
      { baseDir: "/srv/demo", env: {} },
    );
    assert.deepEqual(config.broker.tls, { ca: resolve("/srv/demo/ca.pem") });
  });
});

describe("broker: errors say where and what to do", () => {
  test("replicas must be 1, 3 or 5", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}transport: nats://n1:4222\nbroker:\n  replicas: 2\n`),
      "broker.replicas",
    );
    assert.equal(issue.line, 10);
    assert.equal(issue.message, "expected one of 1, 3, 5, got 2");
  });

  test("syncEveryWrite is true or false; a sync or durability key is refused, naming it", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}transport: nats://n1:4222\nbroker:\n  syncEveryWrite: always\n`),
      "broker.syncEveryWrite",
    );
    assert.equal(issue.line, 10);
    assert.equal(issue.message, 'expected true or false, got "always"');
    for (const key of ["sync", "durability"]) {
      const unknown = issueAt(
        issuesOf(`${MINIMAL}transport: memory\nbroker:\n  ${key}: strict\n`),
        `broker.${key}`,
      );
      assert.match(unknown.message, /unknown key .*"syncEveryWrite"/);
    }
  });

  test("storage is file or memory, with a suggestion for a typo", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}transport: nats://n1:4222\nbroker:\n  storage: fiel\n`),
      "broker.storage",
    );
    assert.equal(issue.line, 10);
    assert.match(
      issue.message,
      /expected one of "file", "memory", got "fiel" \(did you mean "file"\?\)/,
    );
  });

  test("a misspelt key gets a did-you-mean", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}broker:\n  replica: 3\n`), "broker.replica");
    assert.equal(issue.line, 9);
    assert.equal(issue.message, 'unknown key "replica" (did you mean "replicas"?)');
  });

  test("TLS files with the memory transport: remove them or use a TLS transport", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}broker:\n  tls:\n    ca: ca.pem\n`), "broker.tls");
    assert.equal(issue.line, 9);
    assert.match(issue.message, /the transport is "memory"/);
    assert.match(issue.message, /remove broker\.tls or set transport to tls:\/\/host:4222/);
  });

  test("TLS files with a plain amqp:// URL: use amqps://, without echoing the password", () => {
    const issues = issuesOf(
      `${MINIMAL}transport: amqp://worker:hunter2@rabbit:5672\nbroker:\n  tls: { ca: ca.pem }\n`,
    );
    const issue = issueAt(issues, "broker.tls");
    assert.equal(issue.line, 10);
    assert.match(issue.message, /change it to amqps:\/\//);
    assert.ok(!JSON.stringify(issues).includes("hunter2"), "the password is never shown");
  });

  test("NATS-only settings on RabbitMQ say why they do not apply", () => {
    const issues = issuesOf(
      `${MINIMAL}transport: amqp://rabbit:5672\nbroker:\n  servers: [nats://n2:4222]\n  replicas: 3\n  storage: memory\n`,
    );
    assert.match(issueAt(issues, "broker.servers").message, /remove broker\.servers/);
    assert.match(issueAt(issues, "broker.replicas").message, /quorum queues replicate/);
    assert.match(
      issueAt(issues, "broker.storage").message,
      /quorum queues always keep messages on disk/,
    );
    assert.equal(issueAt(issues, "broker.replicas").line, 11);
  });

  test("watchSent is for NATS only", () => {
    for (const transport of ["memory", "amqp://rabbit:5672"]) {
      const issues = issuesOf(`${MINIMAL}transport: ${transport}\nbroker:\n  watchSent: true\n`);
      assert.match(issueAt(issues, "broker.watchSent").message, /remove broker\.watchSent/);
    }
  });

  test("replicas and storage with the memory transport", () => {
    const issues = issuesOf(`${MINIMAL}broker:\n  replicas: 3\n  storage: memory\n`);
    assert.match(issueAt(issues, "broker.replicas").message, /set transport to a nats:\/\/ URL/);
    assert.match(issueAt(issues, "broker.storage").message, /journals to dataDir/);
  });

  test("a seed server with credentials is refused and shown redacted", () => {
    const issues = issuesOf(
      `${MINIMAL}transport: nats://n1:4222\nbroker:\n  servers:\n    - nats://admin:topsecret@n2:4222\n`,
    );
    const issue = issueAt(issues, "broker.servers.0");
    assert.equal(issue.line, 11);
    assert.match(issue.message, /without credentials \(they come from transport\)/);
    assert.match(issue.message, /nats:\/\/admin:\*\*\*@n2:4222/);
    assert.ok(!JSON.stringify(issues).includes("topsecret"));
  });

  test("a server that is not a NATS URL", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}transport: nats://n1:4222\nbroker:\n  servers: [http://n2:8222]\n`),
      "broker.servers.0",
    );
    assert.match(issue.message, /expected nats:\/\/host:port or tls:\/\/host:port/);
  });

  test("a client certificate without its key, and a key without its certificate", () => {
    const cert = issueAt(
      issuesOf(`${MINIMAL}transport: tls://n1:4222\nbroker:\n  tls:\n    cert: node.pem\n`),
      "broker.tls.cert",
    );
    assert.equal(cert.line, 11);
    assert.equal(
      cert.message,
      "a client certificate needs its private key: add key: <file> next to cert",
    );
    const key = issueAt(
      issuesOf(`${MINIMAL}transport: tls://n1:4222\nbroker:\n  tls:\n    key: node.key\n`),
      "broker.tls.key",
    );
    assert.match(key.message, /add cert: <file> next to key/);
  });

  test("the whole error reads as one line per problem", () => {
    try {
      parseSwarmConfig(`${MINIMAL}broker:\n  replicas: 4\n  tls: { cert: a.pem }\n`, {
        source: "swarm.yaml",
        env: {},
      });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^invalid swarm file swarm\.yaml \(4 problems\):/);
      assert.match(
        error.message,
        /swarm\.yaml:9: broker\.replicas: expected one of 1, 3, 5, got 4/,
      );
      assert.match(
        error.message,
        /swarm\.yaml:10: broker\.tls: tls files secure a broker connection/,
      );
    }
  });
});

describe("broker: openTransport reads the TLS files for RabbitMQ before connecting", () => {
  test("a missing file is a ConfigError naming the key and the path", async () => {
    const { openTransport } = await import("../../src/runtime/from-config.js");
    const config = parseSwarmConfig(
      `${MINIMAL}transport: amqps://rabbit.invalid:5671\nbroker:\n  tls: { ca: no-such-ca.pem }\n`,
      { baseDir: "/nonexistent-dir", env: {} },
    );
    await assert.rejects(openTransport(config), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(
        error.message,
        /cannot read broker\.tls\.ca \(\/nonexistent-dir\/no-such-ca\.pem\): no such file/,
      );
      return true;
    });
  });
});
