/**
 * conclave_tasks_submitted_total counts a task once, not again for an
 * idempotent re-submission (same task id: nothing is sent or run again).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { serveMetrics } from "../../src/runtime/metrics-server.js";
import { ulid } from "../../src/wire/ulid.js";

test("re-submitting a task by its id (as swarm.submit's doc advises after a restart) counts it once", async () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-metrics-resubmit-"));
  const config = parseSwarmConfig(
    `swarm: resubmit
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
`,
    { baseDir: work },
  );
  let runs = 0;
  const swarm = await openSwarm(config, {
    module: {
      setup(agent) {
        if (agent.role === "writer")
          agent.handle("write", () => {
            runs++;
            return "ok";
          });
      },
    },
  });
  await swarm.start();
  const metrics = await serveMetrics(swarm, { port: 0 });
  try {
    const id = ulid();
    await swarm.submit("writer", "write", { n: 1 }, { as: "gate", id });
    await swarm.wait(id);
    await swarm.submit("writer", "write", { n: 1 }, { as: "gate", id }); // the same task, again
    await sleep(300);
    const text = await (await fetch(metrics.url)).text();
    const line = text.split("\n").find((l) => l.startsWith("conclave_tasks_submitted_total{"));
    assert.equal(runs, 1, "the task ran once");
    assert.equal(line, 'conclave_tasks_submitted_total{role="writer",task="write"} 1');
  } finally {
    await metrics.close();
    await swarm.close();
    rmSync(work, { recursive: true, force: true });
  }
});
