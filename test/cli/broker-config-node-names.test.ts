/**
 * Two `--node` options with one name (`--node w1=dev-1 --node w1=dev-2`)
 * wrote two broker users named w1, with different passwords: the broker kept
 * one, and the other node could not log in. Refused now, naming the node.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { agents, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-broker-nodes-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("a node name given twice is refused (exit 2)", async () => {
  writeFileSync(
    join(work, "swarm.yaml"),
    `swarm: nodes
module: ${agents}
transport: nats://127.0.0.1:4222
roles: { dev: { tasks: [t] } }
agents:
  - { id: dev-1, role: dev }
  - { id: dev-2, role: dev }
`,
  );
  const r = await run(
    [
      "broker-config",
      "nats",
      "--swarm",
      "swarm.yaml",
      "--out",
      "broker",
      "--node",
      "w1=dev-1",
      "--node",
      "w1=dev-2",
    ],
    work,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /node "w1" is given twice/);
});
