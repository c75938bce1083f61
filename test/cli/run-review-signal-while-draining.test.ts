/**
 * A signal that comes while a run drains (its --timeout passed, handlers
 * still finishing) stops the run as one during it does: the drain goes on,
 * the summary is printed, exit 130. The run used to stop listening for
 * signals before the drain (single process) or before its children's drain
 * (--processes), so a Ctrl-C then killed the process on the spot, with no
 * summary.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { until } from "../helpers/until.js";
import { finish, type Run, start, summaryOf } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-run-review-signal-drain-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** A swarm whose task 0 finishes at once and the others once the file `go` exists. */
function gatedSwarm(name: string): { dir: string; go: string } {
  const dir = join(work, name);
  mkdirSync(dir);
  const go = join(dir, "go");
  writeFileSync(
    join(dir, "gated.mjs"),
    `import { existsSync } from "node:fs";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function setup(agent) {
  if (agent.role === "lead")
    agent.onStart((ctx) => ctx.once("plan", async (plan) => {
      for (let n = 0; n < 3; n++) plan.submit("worker", "job", { n });
    }));
  if (agent.role === "worker")
    agent.handle("job", async (ctx) => {
      while (ctx.body.n > 0 && !existsSync(${JSON.stringify(go)})) await sleep(20);
      ctx.finish({ n: ctx.body.n });
    });
}
`,
  );
  writeFileSync(
    join(dir, "swarm.yaml"),
    `swarm: ${name}-${randomUUID().slice(0, 8)}
dataDir: ${join(dir, "state")}
module: ./gated.mjs
defaults: { ackWaitMs: 20000, concurrency: 8, heartbeatMs: 200 }
roles:
  lead: {}
  worker: { tasks: [job] }
agents:
  - { id: lead, role: lead }
  - { id: w1, role: worker }
`,
  );
  return { dir, go };
}

/** Runs `up` until past `timeout`, sends SIGINT, then lets the gated tasks finish. */
async function interruptedWhileDraining(args: string[], timeout: number): Promise<Run> {
  const { dir, go } = gatedSwarm(`drain-${args.length}`);
  const child = start(["up", "swarm.yaml", "--json", "--timeout", String(timeout), ...args], dir);
  const done = finish(child);
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  try {
    // The last progress line, at the timeout (one decimal), and a moment
    // more: the run is draining, its two gated tasks still running.
    await until(
      () => [...err.matchAll(/^progress: .* (\d+\.\d)s$/gm)].some((m) => Number(m[1]) >= timeout),
      240_000,
      "the run at its timeout",
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill("SIGINT");
    // The gated tasks finish a little after the signal has arrived.
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    writeFileSync(go, "");
  }
  return done;
}

test("SIGINT during the drain after --timeout: the summary is printed, exit 130", async () => {
  const r = await interruptedWhileDraining([], 15);
  assert.equal(r.signal, null, "not killed by the signal");
  assert.equal(r.code, 130, r.stderr);
  const tasks = summaryOf(r.stdout).tasks;
  assert.equal(tasks.submitted, 3);
  assert.equal(tasks.lost, 0, "stopped: what is left is pending, not lost");
});

test("up --processes 2: SIGINT while the children drain: the summary is printed, exit 130", async () => {
  const r = await interruptedWhileDraining(
    ["--processes", "2", "--transport", "nats://127.0.0.1:4222"],
    45,
  );
  assert.equal(r.signal, null, "not killed by the signal");
  assert.equal(r.code, 130, r.stderr);
  const tasks = summaryOf(r.stdout).tasks;
  assert.equal(tasks.submitted, 3);
  assert.equal(tasks.lost, 0, "stopped: what is left is pending, not lost");
});
