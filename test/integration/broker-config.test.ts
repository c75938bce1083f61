/**
 * The swarm file's `broker:` section, end to end: a swarm loaded from a YAML
 * file (paths relative to it) runs a task
 *
 * - on a private nats-server that demands mutual TLS, with the CA, client
 *   certificate and key named under `broker.tls`;
 * - on a private 3-node JetStream cluster reached through `broker.servers`
 *   (the transport URL's own server is down at start), whose queue streams
 *   must really have the 3 replicas `broker.replicas` asks for.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { loadSwarmConfig } from "../../src/config/index.js";
import { TlsHandshakeError } from "../../src/errors/index.js";
import { openSwarm, type SwarmModule } from "../../src/runtime/from-config.js";
import { queueNames } from "../../src/runtime/subjects.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import {
  freePorts,
  type NatsCluster,
  type NatsServer,
  natsServerAvailable,
  startNatsCluster,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { generateCertificates, opensslAvailable, type TestCertificates } from "../helpers/certs.js";
import { until } from "../helpers/until.js";
import { assertAvailable, randomSwarmName, requirement } from "./fixtures/processes.js";

const natsMissing = natsServerAvailable() ? undefined : "nats-server is not on PATH";
const tlsMissing = natsMissing ?? (opensslAvailable() ? undefined : "openssl is not on PATH");

/** A worker that records one effect per task and finishes it. */
const echoModule: SwarmModule = {
  setup(agent) {
    if (agent.role !== "worker") return;
    agent.handle("echo", (ctx) => {
      ctx.effect("echo.done", ctx.task.id, { by: ctx.agentId });
      ctx.finish();
    });
  },
};

/** Writes `swarm.yaml` into `dir` and loads it the way `conclave up` does. */
async function swarmFile(dir: string, swarm: string, transport: string, broker: string) {
  const file = join(dir, "swarm.yaml");
  writeFileSync(
    file,
    `swarm: ${swarm}
transport: ${transport}
store: sqlite:./state/swarm.db
dataDir: ./state
${broker}
defaults:
  heartbeatMs: 200
roles:
  client: {}
  worker:
    tasks: [echo]
agents:
  - { id: client-1, role: client }
  - { id: worker-1, role: worker }
`,
  );
  return loadSwarmConfig(file);
}

/** Submits one echo task and waits until its effect is in the store. */
async function runOneTask(swarm: Swarm): Promise<void> {
  const id = await swarm.submit("worker", "echo", { text: "hello" }, { as: "client-1" });
  await until(
    async () => (await swarm.store.effects("echo.done")).some((e) => e.key === id),
    20_000,
    "the echo task to complete",
    50,
  );
}

describe("swarm file: broker.tls against a nats-server that demands mutual TLS", {
  skip: requirement("the swarm-file TLS test", tlsMissing),
}, () => {
  let certs: TestCertificates;
  let server: NatsServer;
  const work = mkdtempSync(join(tmpdir(), "conclave-broker-tls-"));

  before(async () => {
    assertAvailable("the swarm-file TLS test", tlsMissing);
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
    // The files sit next to the swarm file, named by relative paths.
    mkdirSync(join(work, "certs"));
    copyFileSync(certs.caFile, join(work, "certs", "ca.pem"));
    copyFileSync(certs.client.certFile, join(work, "certs", "node.pem"));
    copyFileSync(certs.client.keyFile, join(work, "certs", "node.key"));
  });

  after(async () => {
    await server?.stop();
    certs?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  test("a swarm started from the file runs a task over mutual TLS", async () => {
    const config = await swarmFile(
      work,
      randomSwarmName("tls"),
      server.url,
      `broker:
  tls:
    ca: certs/ca.pem
    cert: certs/node.pem
    key: ./certs/node.key`,
    );
    assert.equal(config.broker.tls?.ca, join(work, "certs", "ca.pem"));
    const swarm = await openSwarm(config, { module: echoModule });
    try {
      await swarm.start();
      await runOneTask(swarm);
    } finally {
      await swarm.close();
    }
  });

  test("the same file without the client certificate is refused by the server", async () => {
    const config = await swarmFile(
      join(work),
      randomSwarmName("tls"),
      server.url,
      "broker:\n  tls: { ca: certs/ca.pem }",
    );
    await assert.rejects(openSwarm(config, { module: echoModule }), (error: unknown) => {
      assert.ok(error instanceof TlsHandshakeError, `a TlsHandshakeError, got ${String(error)}`);
      assert.equal(error.side, "server-refused");
      assert.match(
        error.message,
        /set tls\.cert and tls\.key \(broker\.tls\.cert and broker\.tls\.key/,
      );
      assert.ok(!error.message.includes("PRIVATE KEY"));
      return true;
    });
  });
});

describe("swarm file: broker.servers and broker.replicas on a 3-node JetStream cluster", {
  skip: requirement("the swarm-file cluster test", natsMissing),
}, () => {
  let cluster: NatsCluster | undefined;
  const work = mkdtempSync(join(tmpdir(), "conclave-broker-cluster-"));

  after(async () => {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("replicas: 3 makes R3 streams; the seeds connect while the transport's server is down", {
    timeout: 120_000,
  }, async () => {
    assertAvailable("the swarm-file cluster test", natsMissing);
    cluster = await startNatsCluster({ size: 3 });
    // Nothing listens here: the node can only reach the cluster through broker.servers.
    const [deadPort] = await freePorts(1);
    const swarmName = randomSwarmName("r3");
    const config = await swarmFile(
      work,
      swarmName,
      `nats://127.0.0.1:${deadPort}`,
      `broker:
  servers: [${cluster.urls.join(", ")}]
  replicas: 3
  storage: file`,
    );
    const swarm = await openSwarm(config, { module: echoModule });
    const nc = await connect({ servers: [...cluster.urls] });
    try {
      await swarm.start();
      await runOneTask(swarm);
      const jsm = await jetstreamManager(nc, { timeout: 5_000 });
      for (const stream of [
        queueNames.role(swarmName, "worker"),
        queueNames.deadLetters(swarmName),
      ]) {
        const info = await jsm.streams.info(stream);
        assert.equal(info.config.num_replicas, 3, `${stream} asks for 3 replicas`);
        assert.equal(info.config.storage, "file", `${stream} on file storage`);
        const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)];
        assert.deepEqual(
          peers.filter((p) => p !== undefined).sort(),
          ["n1", "n2", "n3"],
          `${stream} is held by all three servers`,
        );
      }
    } finally {
      await swarm.close();
      await nc.close();
    }
  });
});
