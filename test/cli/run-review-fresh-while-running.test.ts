/**
 * `up --fresh` and `demo` (which starts afresh unless --resume) delete the
 * previous run's store and queue journal: while a live process still runs
 * on that journal, they refuse (exit 2) and delete nothing. They used to
 * delete the running swarm's files, then stop at the journal's lock, so the
 * running swarm's results were gone from the store it reported on.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { acquireProcessLock } from "../../src/core/process-lock.js";
import { workloadProgress } from "../../src/runtime/workload.js";
import { openStore } from "../../src/store/open-store.js";
import { until } from "../helpers/until.js";
import { finish, run, start, summaryOf } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-run-review-fresh-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("up --fresh --yes while the swarm runs on the same data dir: exit 2, nothing deleted", async () => {
  const module = join(work, "slow.mjs");
  writeFileSync(
    module,
    `import { existsSync } from "node:fs";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function setup(agent) {
  if (agent.role === "lead")
    agent.onStart((ctx) => ctx.once("plan", async (plan) => {
      for (let n = 0; n < 3; n++) plan.submit("worker", "job", { n });
    }));
  if (agent.role === "worker")
    agent.handle("job", async (ctx) => {
      // Task 0 at once; the others once the test lets them finish.
      while (ctx.body.n > 0 && !existsSync(${JSON.stringify(join(work, "go"))})) await sleep(20);
      ctx.finish({ n: ctx.body.n });
    });
}
`,
  );
  const state = join(work, "state");
  const file = join(work, "swarm.yaml");
  writeFileSync(
    file,
    `swarm: live
dataDir: ${state}
module: ${module}
defaults: { ackWaitMs: 20000, concurrency: 8, heartbeatMs: 200 }
roles:
  lead: {}
  worker: { tasks: [job] }
agents:
  - { id: lead, role: lead }
  - { id: w1, role: worker }
`,
  );
  const live = start(["up", file, "--json", "--timeout", "120"], work);
  const done = finish(live);
  let out = "";
  live.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await until(() => out.includes('"task.completed"'), 60_000, "the live run's first task");

  try {
    const fresh = await run(["up", file, "--json", "--fresh", "--yes"], work);
    assert.equal(fresh.code, 2, fresh.stderr);
    assert.match(fresh.stderr, new RegExp(`process \\(pid ${live.pid}\\)`));
    assert.doesNotMatch(fresh.stderr, /fresh start: deleted/);
    assert.ok(existsSync(join(state, "live.db")), "the live run's store was kept");
  } finally {
    // The live run's other tasks finish now.
    writeFileSync(join(work, "go"), "");
  }

  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(summaryOf(r.stdout).tasks.completed, 3);
  const store = await openStore(`sqlite:${join(state, "live.db")}`, { create: false });
  try {
    assert.equal((await workloadProgress(store)).completed, 3, "the live run's results are stored");
  } finally {
    await store.close();
  }
});

test("demo while another process runs on its data dir: exit 2, the data dir untouched", async () => {
  const state = join(work, "demo");
  mkdirSync(state, { recursive: true });
  const kept = ["review-swarm.db", "review-swarm.journal.db"].map((name) => join(state, name));
  for (const file of kept) writeFileSync(file, "the running demo's state");
  // This test's process stands for the running demo: it holds the journal's lock.
  const release = acquireProcessLock(join(state, "review-swarm.journal.db.lock"));
  try {
    const r = await run(["demo", "--data-dir", state, "--tasks", "5"], work);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`process \\(pid ${process.pid}\\)`));
    for (const file of kept) assert.ok(existsSync(file), `${file} was deleted`);
  } finally {
    release();
  }
});
