/**
 * The A2A gateway's 405 answers say which methods the path takes, in the
 * `Allow` header HTTP requires of a 405 (RFC 9110 §15.5.6), as the MCP
 * endpoint's does: POST for JSON-RPC, GET (and HEAD) for an agent card.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type A2AGateway, startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "allow-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "conclave-a2a-405-"));

describe("the A2A gateway's 405 answers", () => {
  let swarm: Swarm;
  let gateway: A2AGateway;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: allow
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ide: ${TOKEN} }
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          if (agent.role === "writer") agent.handle("write", () => "hi");
        },
      },
    });
    await swarm.start();
    gateway = await startA2AGateway(swarm, config);
  });

  after(async () => {
    await gateway?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("GET of the JSON-RPC endpoint: 405 with Allow: POST", async () => {
    const response = await fetch(`${gateway.url}/a2a`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await response.body?.cancel();
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
  });

  test("POST of an agent card: 405 with Allow: GET, HEAD", async () => {
    const response = await fetch(`${gateway.url}/roles/writer/.well-known/agent-card.json`, {
      method: "POST",
      body: "{}",
    });
    await response.body?.cancel();
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
  });
});
