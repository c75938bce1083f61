/**
 * A run meant to go on until it is stopped (`up --forever`, `conclave
 * agent`) ends as it should on SIGTERM: exit 0 after a clean drain, its
 * unsettled tasks reported as pending (kept for the next run), not lost.
 * It used to exit 1, blaming the workload or counting queued tasks lost, so
 * a service manager restarted it or marked it failed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { until } from "../helpers/until.js";
import { finish, reviewSwarmYaml, start, summaryOf } from "./run-cli.js";

describe("stopping a run that goes on until stopped", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-forever-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("up --forever stopped mid-run: exit 0, the rest pending, nothing lost", async () => {
    const file = join(work, "forever.yaml");
    writeFileSync(
      file,
      reviewSwarmYaml({
        name: "forever",
        head: `dataDir: ${join(work, "forever")}\n`,
        workload: { tasks: 60, workMs: 150 },
      }),
    );
    const child = start(["up", file, "--forever", "--json"], work);
    const done = finish(child);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await until(() => out.includes('"task.completed"'), 60_000, "a first task completed");
    child.kill("SIGTERM");
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    const summary = summaryOf(r.stdout) as ReturnType<typeof summaryOf> & {
      tasks: { pending?: number };
    };
    assert.equal(summary.tasks.lost, 0);
    assert.ok(summary.tasks.submitted > 0);
    assert.equal(
      summary.tasks.completed + summary.tasks.deadLettered + (summary.tasks.pending ?? 0),
      summary.tasks.submitted,
    );
  });

  test("conclave agent stopped by SIGTERM: exit 0", async () => {
    const file = join(work, "agent.yaml");
    writeFileSync(
      file,
      reviewSwarmYaml({
        name: "agent-stop",
        head: `dataDir: ${join(work, "agent")}\n`,
        workload: { tasks: 5 },
      }),
    );
    const child = start(["agent", "--swarm", file, "--id", "dev-1", "--json"], work);
    const done = finish(child);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    // Running (it has printed an event), not still loading its modules: a
    // signal then would end it before it could drain (CI took over 3 s).
    await until(() => out.includes('"type":'), 60_000, "the agent's first event");
    child.kill("SIGTERM");
    const r = await done;
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
    assert.doesNotMatch(r.stderr, /no task was submitted/);
  });
});

describe("--timeout bounds every wait of a run", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-timeout-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("a start hook that never returns: exit 1 at the timeout, saying nothing was submitted", async () => {
    const module = join(work, "hang.mjs");
    writeFileSync(
      module,
      'export function setup(agent) { if (agent.id === "lead") agent.onStart(() => new Promise(() => {})); }\n',
    );
    const file = join(work, "hang.yaml");
    writeFileSync(
      file,
      `swarm: hang\ndataDir: ${join(work, "hang")}\nmodule: ${module}\nroles:\n  lead: {}\nagents:\n  - { id: lead, role: lead }\n`,
    );
    const began = Date.now();
    const r = await finish(start(["up", file, "--timeout", "2"], work));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no task was submitted within 2 s/);
    assert.ok(Date.now() - began < 30_000, `took ${Date.now() - began} ms`);
  });
});
