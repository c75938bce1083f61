/**
 * `conclave dead-letters redrive` refuses what it would otherwise ignore
 * (exit 2, before it joins the broker or opens the store): `--reason`
 * without `--all` (it filters only `--all`; with ids it was dropped, and
 * every id named was redriven whatever its reason), and ids with `--all`
 * (the ids were dropped and every dead letter redriven).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-redrive-options-"));
after(() => rmSync(work, { recursive: true, force: true }));

for (const [what, args, said] of [
  [
    "--reason with ids and without --all",
    ["01JZ0000000000000000000000", "--reason", "timeout"],
    /--reason .*--all/,
  ],
  ["ids with --all", ["01JZ0000000000000000000000", "--all"], /not both/],
] as const) {
  test(`redrive ${what} exits 2 saying why, nothing opened`, async () => {
    const dir = mkdtempSync(join(work, "redrive-"));
    writeFileSync(
      join(dir, "swarm.yaml"),
      `swarm: redrive
module: ${agents}
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
`,
    );
    const r = await run(
      [
        "dead-letters",
        "redrive",
        ...args,
        "--swarm",
        "swarm.yaml",
        "--transport",
        "nats://127.0.0.1:1",
      ],
      dir,
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, said);
    assert.equal(existsSync(join(dir, ".conclave")), false, "no store was made");
  });
}
