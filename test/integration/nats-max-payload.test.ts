/**
 * A task bigger than the NATS server takes (`max_payload`, 1 MiB by default
 * and often set lower) is refused where it is made, with
 * `EnvelopeTooLargeError` naming the server's limit: the swarm's own
 * envelope limit is lowered to what the server accepts. Before, it passed
 * the envelope check (1 MiB), was committed, then refused by the server at
 * every send: the outbox relay sent it again each second for ever and the
 * task never ran nor died.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EnvelopeTooLargeError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm, type Swarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport } from "../../src/transport/nats/nats-transport.js";
import { randomSwarmName, requirement } from "./fixtures/processes.js";

const missing = natsServerAvailable() ? undefined : "no nats-server binary on PATH";

describe("a task over the NATS server's max_payload", {
  skip: requirement("nats-server", missing),
}, () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-max-payload-"));
  let server: NatsServer | undefined;
  let swarm: Swarm | undefined;
  after(async () => {
    await swarm?.close().catch(() => undefined);
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("is refused where it is made, naming the server's limit; smaller ones run", async () => {
    server = await startNatsServer({ config: "max_payload: 65536" });
    const events: SwarmEvent[] = [];
    swarm = createSwarm({
      name: randomSwarmName("payload"),
      transport: await createNatsTransport({ servers: server.url }),
      store: openSqliteStore({ path: join(work, "store.db") }),
      keys: () => generateAgentKeyPair(),
      roles: { lead: {}, worker: { tasks: ["take"] } },
    });
    swarm.on((e) => events.push(e));
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "w1", role: "worker" }).handle("take", (ctx) => ctx.body);
    await swarm.start();
    await assert.rejects(
      swarm.submit("worker", "take", { blob: "x".repeat(100_000) }, { as: "lead" }),
      (error: unknown) =>
        error instanceof EnvelopeTooLargeError && /max_payload/.test(error.message),
    );
    assert.equal((await swarm.store.pendingOutbox()).length, 0, "nothing committed to send");
    const small = await swarm.submitAndWait(
      "worker",
      "take",
      { blob: "x".repeat(50_000) },
      { as: "lead", timeoutMs: 10_000 },
    );
    assert.equal((small as { blob: string }).blob.length, 50_000);
    assert.deepEqual(
      events.filter((e) => e.type === "error"),
      [],
    );
  });
});
