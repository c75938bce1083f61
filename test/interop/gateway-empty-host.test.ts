/**
 * `--host ""` (or `--host "$HOST"` with HOST unset) made the A2A gateway and
 * the MCP HTTP server listen on every interface, not the loopback they
 * default to, and print a URL with no host. As the dashboard and the metrics
 * endpoint do, they refuse it with a ConfigError saying what to pass.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig as SwarmFile } from "../../src/config/schema.js";
import { ConfigError } from "../../src/errors/index.js";
import { startA2AGateway } from "../../src/interop/a2a-gateway.js";
import { createFrontDoor } from "../../src/interop/front-door.js";
import { serveMcpHttp } from "../../src/interop/mcp-server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const work = mkdtempSync(join(tmpdir(), "conclave-gateway-empty-host-"));

describe("a gateway asked to bind an empty host", () => {
  let swarm: Swarm;
  let config: SwarmFile;

  before(async () => {
    config = parseSwarmConfig(
      `swarm: emptyhost
dataDir: ./data
roles: { front: {}, writer: { tasks: [write] } }
agents:
  - { id: gate, role: front }
  - { id: w-1, role: writer }
gateway:
  as: gate
  port: 0
  tokens: { ide: emptyhost-token-0123456789abcdef }
  expose: [{ role: writer, task: write }]
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, { module: { setup() {} } });
    await swarm.start();
  });

  after(async () => {
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("the A2A gateway refuses it instead of listening on every interface", async () => {
    await assert.rejects(
      startA2AGateway(swarm, config, { port: 0, host: "" }),
      (error: Error) =>
        error instanceof ConfigError && /host must be an address/.test(error.message),
    );
  });

  test("the MCP HTTP server refuses it instead of listening on every interface", async () => {
    await assert.rejects(
      serveMcpHttp(createFrontDoor(swarm, config), { port: 0, host: " " }),
      (error: Error) =>
        error instanceof ConfigError && /host must be an address/.test(error.message),
    );
  });
});
