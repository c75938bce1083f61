/**
 * Hierarchical delegation across two OS processes on a private nats-server,
 * as a user runs it: `conclave agent --id r-1,r-2` hosts the members of team
 * "research"; this test process hosts its lead and r-3, a researcher of no
 * team. The lead's delegations to its team travel over JetStream to the
 * members in the other process, and never reach r-3, though r-3 takes the
 * same role's tasks in the lead's own process. This node's registry shows
 * the members' signed cards with their team and lead.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
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
const TASKS = 16;

describe("team delegation across processes on NATS", {
  skip: requirement("nats-server", missing),
}, () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-teams-nats-"));
  let server: NatsServer | undefined;
  let child: ChildProcess | undefined;
  let swarm: Swarm | undefined;
  after(async () => {
    await swarm?.close().catch(() => undefined);
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("a lead's delegations reach its team's members in another process, and no one else", {
    timeout: 90_000,
  }, async () => {
    assertAvailable("nats-server", missing);
    server = await startNatsServer();
    const name = randomSwarmName("teams");
    writeFileSync(
      join(work, "agents.mjs"),
      `export function setup(agent) {
  if (agent.role === "researcher") {
    agent.handle("investigate", async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ctx.effect("investigated", String(ctx.body.n), { by: ctx.agentId, pid: process.pid });
      return ctx.agentId;
    });
  }
  if (agent.role === "lead") {
    agent.handle("research", async (ctx) => {
      const parts = await ctx.team().gather(
        Array.from({ length: ctx.body.n }, (_, n) => ({ task: "investigate", body: { n } })),
      );
      ctx.finish(parts.map((p) => p.status));
      return parts.map((p) => (p.status === "completed" ? p.result : p.reason));
    });
  }
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
  lead: { tasks: [research] }
  researcher: { tasks: [investigate] }
agents:
  - { id: lead-1, role: lead }
  - { id: r-1, role: researcher, concurrency: 4 }
  - { id: r-2, role: researcher, concurrency: 4 }
  - { id: r-3, role: researcher, concurrency: 4 }
teams:
  research: { lead: lead-1, members: [r-1, r-2] }
`;
    writeFileSync(join(work, "swarm.yaml"), yaml);

    let stderr = "";
    child = spawn(
      process.execPath,
      ["--import", tsx, bin, "agent", "--swarm", "swarm.yaml", "--id", "r-1,r-2", "--json"],
      { cwd: work, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((r) => child?.on("close", r));

    swarm = await openSwarm(parseSwarmConfig(yaml, { baseDir: work, env: {} }), {
      agents: ["lead-1", "r-3"],
    });
    await swarm.start();
    const here = swarm;
    await until(
      () => here.registry.get("r-1") !== undefined && here.registry.get("r-2") !== undefined,
      30_000,
      `r-1 and r-2 in the registry\n${stderr}`,
      50,
    );
    // Their cards, signed in the other process, say where they stand.
    for (const id of ["r-1", "r-2"]) {
      const card = here.registry.get(id)?.card;
      assert.deepEqual(
        [card?.team, card?.lead, card?.node === here.nodeId],
        ["research", "lead-1", false],
      );
    }
    assert.deepEqual(here.registry.get("lead-1")?.card.leads, ["research"]);

    const results = await swarm.submitAndWait<string[]>(
      "lead",
      "research",
      { n: TASKS },
      { as: "lead-1", timeoutMs: 60_000 },
    );
    assert.equal(results.length, TASKS);
    for (const by of results) assert.ok(by === "r-1" || by === "r-2", `${by} is not in the team`);
    const effects = await swarm.store.effects("investigated");
    assert.equal(effects.length, TASKS, "each delegated task done once");
    const pids = new Set(effects.map((e) => (e.data as { pid: number }).pid));
    assert.deepEqual([...pids], [child.pid], "every one in the members' process");
    assert.deepEqual(await swarm.store.deadLetters(), [], "nothing dead-lettered");

    child.kill("SIGTERM");
    const code = await exited;
    assert.equal(code, 0, stderr.slice(-2000));
  });
});
