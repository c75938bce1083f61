/**
 * `serveDashboard(…, { token })` with an empty token (or one a Bearer header
 * cannot carry) is refused with a ConfigError before anything listens: an
 * empty token used to be served, and then `?token=` (nothing) opened every
 * route.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import { serveDashboard } from "../../src/dashboard/server.js";
import { ConfigError } from "../../src/errors/index.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { agents, finish, start } from "../cli/run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-dashboard-token-"));

describe("the dashboard's token", () => {
  let swarm: Swarm;
  let config: SwarmConfig;

  before(async () => {
    config = parseSwarmConfig(
      `swarm: tokens
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
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

  for (const [what, token] of [
    ["an empty token", ""],
    ["a token of spaces", "   "],
    ["a token with a space inside", "open sesame"],
  ] as const) {
    test(`${what} is refused, and nothing is served`, async () => {
      const outcome = await serveDashboard(swarm, config, { token, port: 0 }).then(
        async (dashboard) => {
          const response = await fetch(`${dashboard.url}/api/overview?token=`);
          await dashboard.close();
          return `served; GET /api/overview?token= answered ${response.status}`;
        },
        (error: unknown) => error,
      );
      assert.ok(outcome instanceof ConfigError, String(outcome));
      assert.match(outcome.message, /token/);
    });
  }

  test("a random token is made when none is given, and ?token= alone is 401", async () => {
    const dashboard = await serveDashboard(swarm, config, { port: 0 });
    try {
      assert.ok(dashboard.token.length >= 16);
      assert.equal((await fetch(`${dashboard.url}/api/overview?token=`)).status, 401);
      assert.equal((await fetch(`${dashboard.link.replace("/?", "/api/overview?")}`)).status, 200);
    } finally {
      await dashboard.close();
    }
  });

  test("up --dashboard with CONCLAVE_DASHBOARD_TOKEN holding a space exits 2 naming the token", async () => {
    const dir = mkdtempSync(join(work, "cli-"));
    writeFileSync(
      join(dir, "swarm.yaml"),
      `swarm: cli-token
module: ${agents}
roles: { worker: { tasks: [t] } }
agents: [{ id: w-1, role: worker }]
`,
    );
    const child = start(["up", "swarm.yaml", "--dashboard", "0", "--forever"], dir, {
      CONCLAVE_DASHBOARD_TOKEN: "open sesame",
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const r = await finish(child);
    clearTimeout(timer);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /CONCLAVE_DASHBOARD_TOKEN/);
    assert.doesNotMatch(r.stderr, /dashboard: http/);
  });
});
