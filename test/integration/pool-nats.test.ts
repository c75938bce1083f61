/**
 * An autoscaling pool across two OS processes on a private nats-server, as a
 * user runs it: `conclave agent --id worker-1` hosts the pool's template and
 * scales it from the swarm file's `pools:` section, reading the queue's depth
 * from JetStream; this test process submits a burst of tasks as another node.
 * Workers grow, every task completes once, the spawned workers retire back to
 * `min` and leave the other node's registry, and nothing is dead-lettered.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { until } from "../helpers/until.js";
import { assertAvailable, randomSwarmName, requirement } from "./fixtures/processes.js";

const root = resolve(import.meta.dirname, "..", "..");
const bin = join(root, "src", "cli", "bin.ts");
const tsx = import.meta.resolve("tsx");
const missing = natsServerAvailable() ? undefined : "no nats-server binary on PATH";
const TASKS = 24;

describe("autoscaling pool across processes on NATS", {
  skip: requirement("nats-server", missing),
}, () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-pool-nats-"));
  let server: NatsServer | undefined;
  let child: ChildProcess | undefined;
  let swarm: Swarm | undefined;
  after(async () => {
    await swarm?.close().catch(() => undefined);
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("the pool grows with the burst, shrinks to min, and every task completes once", {
    timeout: 90_000,
  }, async () => {
    assertAvailable("nats-server", missing);
    server = await startNatsServer();
    const name = randomSwarmName("pool");
    writeFileSync(
      join(work, "agents.mjs"),
      `export function setup(agent) {
  if (agent.role !== "worker") return;
  agent.handle("work", async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    ctx.effect("worked", String(ctx.body.n), { by: ctx.agentId });
    ctx.finish();
  });
}
`,
    );
    const yaml = `swarm: ${name}
transport: ${server.url}
store: sqlite:./swarm.db
keysDir: ./keys
module: ./agents.mjs
defaults: { heartbeatMs: 200, ackWaitMs: 5000 }
roles:
  lead: {}
  worker: { tasks: [work] }
agents:
  - { id: lead, role: lead }
  - { id: worker-1, role: worker, concurrency: 1 }
pools:
  worker: { min: 1, max: 3, intervalMs: 200, scaleUpCooldownMs: 0, scaleDownCooldownMs: 1000 }
`;
    writeFileSync(join(work, "swarm.yaml"), yaml);

    const lines: Record<string, unknown>[] = [];
    let stderr = "";
    child = spawn(
      process.execPath,
      ["--import", tsx, bin, "agent", "--swarm", "swarm.yaml", "--id", "worker-1", "--json"],
      { cwd: work, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let partial = "";
    child.stdout?.on("data", (d: Buffer) => {
      partial += d.toString();
      const complete = partial.split("\n");
      partial = complete.pop() ?? "";
      for (const line of complete) if (line.trim()) lines.push(JSON.parse(line));
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((r) => child?.on("close", r));

    swarm = await openSwarm(parseSwarmConfig(yaml, { baseDir: work, env: {} }), {
      agents: ["lead"],
    });
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    await swarm.start();
    const here = swarm;
    await until(
      () => here.registry.get("worker-1") !== undefined,
      30_000,
      `worker-1 in the registry\n${stderr}`,
      50,
    );
    for (let n = 0; n < TASKS; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });

    const scaled = (direction: string) =>
      lines.filter((l) => l["type"] === "pool.scaled" && l["direction"] === direction);
    await until(() => scaled("up").length > 0, 30_000, `the pool to grow\n${stderr}`, 50);
    await until(
      async () => (await here.store.effectStats("worked")).keys === TASKS,
      60_000,
      `${TASKS} tasks done`,
      100,
    );
    const spawned = scaled("up").flatMap((l) => l["workers"] as string[]);
    assert.ok(spawned.length >= 1 && spawned.length <= 2, `at most max - 1 spawned: ${spawned}`);
    await until(
      () => lines.filter((l) => l["type"] === "pool.retired").length === spawned.length,
      30_000,
      "every spawned worker retired",
      50,
    );
    const stats = await swarm.store.effectStats("worked");
    assert.equal(stats.duplicateKeys, 0, "no task done twice");
    const by = new Set(
      (await swarm.store.effects("worked")).map((e) => (e.data as { by: string }).by),
    );
    assert.ok(
      spawned.some((id) => by.has(id)),
      "spawned workers took tasks",
    );
    assert.deepEqual(await swarm.store.deadLetters(), [], "nothing dead-lettered");
    // This node admitted the spawned workers (declared slots) and saw them leave.
    const refused = events.filter((e) => e.type === "agent.refused");
    assert.deepEqual(refused, []);
    await until(
      () => spawned.every((id) => here.registry.get(id) === undefined),
      10_000,
      "the retired workers gone from this node's registry",
      50,
    );
    // Told by the worker's signed goodbye, not found out by its silence.
    for (const id of spawned) {
      const about = events.filter((e) => "card" in e && e.card.id === id);
      assert.ok(
        about.some((e) => e.type === "agent.joined"),
        `${id} joined here`,
      );
      assert.ok(
        about.some((e) => e.type === "agent.left" && e.reason === "left"),
        `${id} left with a goodbye: ${JSON.stringify(about.map((e) => e.type))}`,
      );
    }

    child.kill("SIGTERM");
    const code = await exited;
    const summary = lines.find((l) => l["type"] === "summary");
    assert.equal(code, 0, `${JSON.stringify(summary)}\n${stderr.slice(-2000)}`);
  });
});
