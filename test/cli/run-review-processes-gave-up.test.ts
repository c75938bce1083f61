/**
 * `up --processes N`: when the agent that submits the workload crashes and
 * is given up on in its child process (the process itself goes on), nothing
 * will ever be submitted: the run ends then, exit 1, with the agent's last
 * error, as a single-process run does. It used to wait out the whole
 * --timeout (an hour by default), then blame the processes' start. The
 * progress lines on stderr are this process's only: the children's, each
 * with its own elapsed time, used to be passed on among them.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-run-review-gave-up-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("up --processes 2: the submitting agent given up on ends the run with its error", async () => {
  writeFileSync(
    join(work, "boom.mjs"),
    `export function setup(agent) {
  if (agent.role === "lead") agent.onStart(() => { throw new Error("the plan cannot be made"); });
  if (agent.role === "worker") agent.handle("job", (ctx) => ctx.finish());
}
`,
  );
  writeFileSync(
    join(work, "swarm.yaml"),
    `swarm: gave-up-${randomUUID().slice(0, 8)}
dataDir: ${join(work, "state")}
module: ./boom.mjs
roles:
  lead: {}
  worker: { tasks: [job] }
agents:
  - { id: lead, role: lead }
  - { id: w1, role: worker }
`,
  );
  const r = await run(
    [
      "up",
      "swarm.yaml",
      "--processes",
      "2",
      "--transport",
      "nats://127.0.0.1:4222",
      "--timeout",
      "150",
    ],
    work,
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /conclave: no task was submitted: agent lead crashed and gave up after its restarts; the last error \(lead\): the plan cannot be made/,
  );
  // One progress line at a time, this process's: the children's (each with
  // its own elapsed time) are not passed on.
  const elapsed = [...r.stderr.matchAll(/^progress: .* (\d+\.\d)s$/gm)].map((m) => Number(m[1]));
  assert.ok(elapsed.length > 0, r.stderr);
  for (const [i, s] of elapsed.entries()) {
    assert.ok(i === 0 || s >= (elapsed[i - 1] ?? 0), `progress lines out of order: ${elapsed}`);
  }
});
