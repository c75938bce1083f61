/**
 * The summary of a run is measured once its handlers still running have
 * finished (the drain): a task that completed during the drain is counted
 * completed, as the store records it, not pending (after a signal) nor lost
 * (after --timeout). The drain closes the swarm's store, and the measure
 * taken after it used to fail silently, leaving the numbers from before it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { workloadProgress } from "../../src/runtime/workload.js";
import { openStore } from "../../src/store/open-store.js";
import { until } from "../helpers/until.js";
import { finish, start, summaryOf } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-run-review-drain-"));
after(() => rmSync(work, { recursive: true, force: true }));

// Task 0 finishes at once; the others take `workMs`, so they are in flight
// when the run is stopped, and the drain finishes them.
const module = join(work, "slow.mjs");
writeFileSync(
  module,
  `const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function setup(agent, { workload }) {
  const tasks = Number(workload.tasks);
  if (agent.role === "lead")
    agent.onStart((ctx) => ctx.once("plan", async (plan) => {
      for (let n = 0; n < tasks; n++) plan.submit("worker", "job", { n });
    }));
  if (agent.role === "worker")
    agent.handle("job", async (ctx) => {
      await sleep(ctx.body.n === 0 ? 1 : Number(workload.workMs));
      ctx.finish({ n: ctx.body.n });
    });
}
`,
);

function swarmFile(name: string, workMs: number): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    `swarm: ${name}
dataDir: ${join(work, name)}
module: ${module}
defaults: { ackWaitMs: 20000, maxDeliver: 4, concurrency: 8, heartbeatMs: 200 }
roles:
  lead: {}
  worker: { tasks: [job] }
agents:
  - { id: lead, role: lead }
  - { id: w1, role: worker }
workload: { tasks: 3, workMs: ${workMs} }
`,
  );
  return file;
}

async function stored(name: string) {
  const store = await openStore(`sqlite:${join(work, name, `${name}.db`)}`, { create: false });
  try {
    return await workloadProgress(store);
  } finally {
    await store.close();
  }
}

describe("the run summary after the drain", () => {
  test("stopped by SIGINT: tasks the drain finished are counted completed, as stored", async () => {
    const file = swarmFile("drain-signal", 1500);
    const child = start(["up", file, "--json", "--timeout", "120"], work);
    const done = finish(child);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await until(() => out.includes('"task.completed"'), 60_000, "task 0 completed");
    child.kill("SIGINT");
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    const store = await stored("drain-signal");
    assert.equal(store.completed, 3, "the drain finished the two tasks in flight");
    const tasks = summaryOf(r.stdout).tasks as ReturnType<typeof summaryOf>["tasks"] & {
      pending?: number;
    };
    assert.equal(tasks.completed, store.completed, "the summary says what the store holds");
    assert.equal(tasks.pending, 0);
  });

  test("--timeout passed while tasks ran: those the drain finished are not lost (exit 0)", async () => {
    const file = swarmFile("drain-timeout", 6000);
    const r = await finish(start(["up", file, "--json", "--timeout", "3"], work));
    const store = await stored("drain-timeout");
    assert.equal(store.completed, 3, "the drain finished the tasks in flight");
    const tasks = summaryOf(r.stdout).tasks;
    assert.equal(tasks.completed, 3, r.stderr);
    assert.equal(tasks.lost, 0);
    assert.equal(r.code, 0, r.stderr);
  });
});
