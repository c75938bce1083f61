/**
 * A remote A2A agent whose card never comes: `remote.timeoutMs` bounds the
 * whole call, the card's fetch included (docs/INTEROP.md: "slower than
 * `timeoutMs` is `RemoteAgentUnavailableError`"). Before, the card was
 * fetched with no deadline, so the task hung for as long as the remote
 * held the connection (undici's five minutes), and every other task of the
 * role waited on the same stuck fetch.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { ChildTaskFailedError } from "../../src/errors/index.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const work = mkdtempSync(join(tmpdir(), "conclave-a2a-remote-card-timeout-"));

describe("a remote A2A agent whose card never comes", () => {
  const held: ServerResponse[] = [];
  // Takes the card request and never answers it.
  const silent = createServer((_request, response) => {
    held.push(response);
  });
  let swarm: Swarm;

  before(async () => {
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    const config = parseSwarmConfig(
      `swarm: remote-card-timeout
dataDir: ./data
defaults: { maxDeliver: 2, backoff: { baseMs: 20, maxMs: 40 } }
roles:
  lead: {}
  translator:
    tasks: [translate]
    remote: { a2a: "http://127.0.0.1:${port}/.well-known/agent-card.json", timeoutMs: 300 }
agents:
  - { id: lead, role: lead }
  - { id: tr-1, role: translator }
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, { module: { setup() {} } });
    await swarm.start();
  });

  after(async () => {
    await swarm?.close();
    for (const response of held) response.destroy();
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    rmSync(work, { recursive: true, force: true });
  });

  test("the task gives up on the card after timeoutMs and is dead-lettered as unavailable", async () => {
    await assert.rejects(
      swarm.submitAndWait(
        "translator",
        "translate",
        { text: "x" },
        { as: "lead", timeoutMs: 8_000 },
      ),
      (error: Error) => {
        assert.ok(error instanceof ChildTaskFailedError, `${error.name}: ${error.message}`);
        assert.match(error.message, /E_REMOTE_UNAVAILABLE|no answer in time|unavailable/i);
        return true;
      },
    );
    // A fetch still in flight is shared by the next attempt: one or two fetches.
    assert.ok(
      held.length >= 1 && held.length <= 2,
      `the card was asked for ${held.length} time(s)`,
    );
  });
});
