/**
 * `conclave dead-letters list | show | redrive` against a review swarm run
 * on a private nats-server by another process: impossible specs die; list
 * and show read them from the store; a redrive sends the task to its queue
 * again (audited, with who) and, still impossible, it dies again under the
 * same id; an unknown id is refused (the escrow rule: test/runtime/redrive);
 * `--all` skips parked input (not tasks) and says so.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { finish, reviewSwarmYaml, run, start } from "../cli/run-cli.js";
import { until } from "../helpers/until.js";

describe("conclave dead-letters", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dead-letters-"));
  let broker: NatsServer | undefined;
  after(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("list, show, and redrive (audited; unknown ids refused)", async (t) => {
    if (!natsServerAvailable() && process.env["CI"] !== "true") {
      t.skip("no nats-server binary on PATH");
      return;
    }
    broker = await startNatsServer();
    const file = join(dir, "swarm.yaml");
    writeFileSync(
      file,
      reviewSwarmYaml({
        name: "dlq",
        head: `transport: ${broker.url}\n`,
        workload: { tasks: 10, impossibleEvery: 5, workMs: 1 },
      }),
    );
    const swarm = start(["up", file, "--forever"], dir);
    const swarmDone = finish(swarm);
    try {
      let list = { code: 1 as number | null, stdout: "", stderr: "" };
      await until(
        async () => {
          list = await run(["dead-letters", "list", "--swarm", file, "--json"], dir);
          return list.stdout.trim().split("\n").filter(Boolean).length >= 2;
        },
        60_000,
        "two impossible specs to die",
        500,
      );
      const rows = list.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { id: string; reason: string; type: string });
      assert.ok(rows.every((r) => /contradictory requirements/.test(r.reason)));
      const id = rows[0]?.id ?? "";
      const filtered = await run(
        ["dead-letters", "list", "--swarm", file, "--reason", "no such reason"],
        dir,
      );
      assert.equal(filtered.stdout, "");

      const show = await run(["dead-letters", "show", id, "--swarm", file, "--json"], dir);
      assert.equal(show.code, 0, show.stderr);
      const shown = JSON.parse(show.stdout) as { envelope: { id: string; type: string } };
      assert.equal(shown.envelope.id, id);
      assert.equal(shown.envelope.type, "task.code");

      const redriven = await run(
        ["dead-letters", "redrive", id, "01NOSUCH", "--swarm", file, "--by", "oncall", "--json"],
        dir,
      );
      // One redriven, one refused: exit 1, each line says which.
      assert.equal(redriven.code, 1, redriven.stdout + redriven.stderr);
      const [sent, refused] = redriven.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { reason?: string });
      assert.match(refused?.reason ?? "", /no dead letter 01NOSUCH/);
      assert.deepEqual(sent, {
        id,
        subject: "dlq.task.developer.code",
        attempt: 1,
        sent: true,
        redriven: true,
      });
      // Still impossible: it dies again, under the same id.
      await until(
        async () => (await run(["dead-letters", "show", id, "--swarm", file], dir)).code === 0,
        60_000,
        "the redriven task to die again",
        500,
      );
      const store = await openSqliteStore({ path: join(dir, ".conclave", "dlq.db") });
      try {
        const audit = (await store.auditLog()).filter((r) => r.kind === "dead-letter.redriven");
        assert.equal(audit.length, 1);
        assert.equal((audit[0]?.data as { by?: string } | undefined)?.by, "oncall");
      } finally {
        await store.close();
      }
      // Parked input (a forged heartbeat) is listed, but --all redrives only tasks.
      const raw = await connect({ servers: broker.url });
      const forged = createEnvelope({ type: "registry.heartbeat", from: "mallory", body: {} });
      raw.publish("dlq.registry.heartbeat", encodeEnvelope(forged));
      await raw.drain();
      await until(
        async () =>
          (await run(["dead-letters", "list", "--swarm", file, "--json"], dir)).stdout.includes(
            "dlq.registry.heartbeat",
          ),
        30_000,
        "the forged heartbeat parked",
        500,
      );
      const all = await run(["dead-letters", "redrive", "--all", "--swarm", file, "--json"], dir);
      assert.equal(all.code, 0, all.stdout + all.stderr);
      assert.match(all.stderr, /1 parked input record\(s\) skipped: not tasks/);
      const redrivenAll = all.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { subject?: string; redriven: boolean });
      assert.equal(redrivenAll.length, 2, all.stdout);
      assert.ok(redrivenAll.every((r) => r.redriven && r.subject === "dlq.task.developer.code"));

      const missing = await run(["dead-letters", "show", "01NOSUCH", "--swarm", file], dir);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no dead letter 01NOSUCH/);
    } finally {
      swarm.kill("SIGTERM");
    }
    await swarmDone;
  });
});
