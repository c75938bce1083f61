/**
 * `conclave up --processes N` (N > 1) runs the agents in child processes
 * this process only supervises, so `--dashboard`, `--metrics`, `--agents`
 * and `--forever` cannot apply to it: each is a usage error (exit 2) naming
 * the flag and what to do instead, before anything is created. They used to
 * be dropped without a word (no dashboard, no metrics, every agent run, the
 * run ending when the workload settled). The file here uses the embedded
 * transport, so that a regression fails at once (on "--processes needs a
 * broker") instead of starting processes.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-up-processes-"));
after(() => rmSync(work, { recursive: true, force: true }));

for (const [flag, args, instead] of [
  ["--dashboard", ["--dashboard", "0"], /conclave dashboard --swarm/],
  ["--metrics", ["--metrics", "0"], /conclave agent .*--metrics PORT/],
  ["--agents", ["--agents", "w-1"], /conclave agent/],
  ["--forever", ["--forever"], /conclave agent/],
] as const) {
  test(`up --processes 2 ${flag} exits 2 naming ${flag}, nothing created`, async () => {
    const dir = mkdtempSync(join(work, "run-"));
    writeFileSync(
      join(dir, "swarm.yaml"),
      `swarm: procs
module: ${agents}
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }, { id: w-2, role: worker }]
`,
    );
    const r = await run(["up", "swarm.yaml", "--processes", "2", ...args], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${flag}.*--processes`));
    assert.match(r.stderr, instead);
    assert.equal(existsSync(join(dir, ".conclave")), false, "nothing was created");
  });
}
