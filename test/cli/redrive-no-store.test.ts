/**
 * `conclave dead-letters redrive` for a swarm that never ran reads no store,
 * and makes none: before, it created an empty store beside the swarm file
 * (then found nothing to redrive), leaving a database a later `up` would
 * take for that swarm's.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-redrive-no-store-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("redrive for a swarm that never ran: exit 2 naming the store, none created", async () => {
  writeFileSync(
    join(work, "swarm.yaml"),
    `swarm: neverran
module: ${agents}
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
`,
  );
  const r = await run(
    [
      "dead-letters",
      "redrive",
      "01JZ0000000000000000000000",
      "--swarm",
      "swarm.yaml",
      "--transport",
      "nats://127.0.0.1:4222",
      "--by",
      "test",
    ],
    work,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /neverran\.db/);
  assert.equal(existsSync(join(work, ".conclave", "neverran.db")), false, "no store was made");
});
