/**
 * `up --processes N`: a child process that exits with code 0 on its own
 * while the run is still going (nobody asked it to stop) is restarted as a
 * crashed one is, with the same backoff and limits, and its agents' work
 * goes on. It used to count as "ended normally": never restarted, its tasks
 * waited for agents that were gone until the --timeout.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { run, summaryOf } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-processes-exit-zero-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("up --processes 2: a worker's process exiting 0 unasked is restarted; the run completes", async () => {
  // The worker's process exits 0 at its first task, once (the marker file
  // remembers it across processes): the task is redelivered after ackWaitMs.
  writeFileSync(
    join(work, "quits.mjs"),
    `import { existsSync, writeFileSync } from "node:fs";
export function setup(agent, { workload }) {
  const tasks = Number(workload.tasks);
  if (agent.role === "lead")
    agent.onStart((ctx) => ctx.once("plan", async (plan) => {
      for (let n = 0; n < tasks; n++) plan.submit("worker", "job", { n });
    }));
  if (agent.role === "worker")
    agent.handle("job", (ctx) => {
      if (!existsSync(workload.marker)) {
        writeFileSync(workload.marker, "quit once");
        process.exit(0);
      }
      ctx.finish({ n: ctx.body.n });
    });
}
`,
  );
  writeFileSync(
    join(work, "swarm.yaml"),
    `swarm: exit-zero-${randomUUID().slice(0, 8)}
dataDir: ${join(work, "state")}
module: ./quits.mjs
defaults: { ackWaitMs: 1500, maxDeliver: 5, concurrency: 1, heartbeatMs: 200 }
roles:
  lead: {}
  worker: { tasks: [job] }
agents:
  - { id: lead, role: lead }
  - { id: w1, role: worker }
workload: { tasks: 3, marker: ${JSON.stringify(join(work, "quit-once"))} }
`,
  );
  const started = Date.now();
  const r = await run(
    [
      "up",
      "swarm.yaml",
      "--processes",
      "2",
      "--transport",
      "nats://127.0.0.1:4222",
      "--json",
      "--timeout",
      "60",
    ],
    work,
  );
  const seconds = (Date.now() - started) / 1000;
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const summary = summaryOf(r.stdout);
  assert.equal(summary.tasks.completed, 3, JSON.stringify(summary));
  assert.equal(summary.tasks.lost, 0, JSON.stringify(summary));
  assert.ok(seconds < 50, `took ${seconds} s: waited for the timeout`);
  assert.match(r.stderr, /process-1 \(agents w1\) exited with code 0 on its own/);
});
