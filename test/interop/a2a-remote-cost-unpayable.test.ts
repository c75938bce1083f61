/**
 * A remote role whose agent cannot pay what the remote A2A agent reports
 * as the call's cost: the remote has answered once, and the task's retries
 * do not call it again (each call is work, and a cost, on the remote's
 * side) — the answer is journaled before the charge, so only the charge is
 * tried again (docs/INTEROP.md: "a task redelivered after the remote
 * answered does not call again or pay twice").
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { type RemoteAgent, startRemoteAgent } from "./a2a-remote-server.js";

const work = mkdtempSync(join(tmpdir(), "conclave-a2a-remote-unpayable-"));

describe("a remote role whose agent cannot pay the remote's reported cost", () => {
  let remote: RemoteAgent;
  let swarm: Swarm;

  before(async () => {
    remote = await startRemoteAgent(() => ({ data: { text: "hola" }, cost: 50 }));
    const config = parseSwarmConfig(
      `swarm: remote-unpayable
dataDir: ./data
defaults: { maxDeliver: 3, backoff: { baseMs: 20, maxMs: 40 } }
roles:
  lead: {}
  translator: { tasks: [translate], remote: { a2a: "${remote.cardUrl}", timeoutMs: 5000 } }
agents:
  - { id: lead, role: lead }
  - { id: tr-1, role: translator, budget: { initial: 10, minBalance: 0 } }
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, { module: { setup() {} } });
    await swarm.start();
  });

  after(async () => {
    await swarm?.close();
    await remote?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("the remote is called once, however often the task is retried", async () => {
    await assert.rejects(
      swarm.submitAndWait(
        "translator",
        "translate",
        { text: "x" },
        { as: "lead", timeoutMs: 15_000 },
      ),
    );
    const sends = remote.requests.filter((r) => r.method === "SendMessage");
    assert.equal(sends.length, 1, `${sends.length} calls to the remote for one task`);
    assert.equal(await swarm.budgets.balance("tr-1"), 10, "nothing charged that could not be paid");
  });
});
